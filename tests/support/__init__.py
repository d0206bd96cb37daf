"""Helpers shared by the test modules (fixtures, factories, waiting on the real worker)."""
