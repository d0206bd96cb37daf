"""LLM layer shared by the API and the workers (no FastAPI imports).

LiteLLM downloads a model cost map when imported unless told to use its bundled copy;
setting it here covers every module of this package, whichever is imported first.
"""
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
