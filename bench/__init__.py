"""Offline benchmarks: dataset converters, loaders and evaluation harnesses (not in the API)."""

from pathlib import Path

# CI checks out shared/ next to the repository root; every CLI here can override this path.
DATASETS_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
