"""Prompt templates (prompts/*.j2 and org-edited copies) and the context token budget."""
