"""Hybrid search over knowledge-base chunks, reusable from requests, chat and Celery tasks.

`search` / `search_chunks` take the request's Session (or any AsyncConnection already inside a
transaction with role and claims set); `search_sync` / `search_chunks_sync` take a sync
connection (api.core.db.job_transaction, benchmarks). RLS does the tenant check in both.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from api.core.config import get_settings
from api.core.errors import DomainError, NotFound, Unprocessable
from api.embeddings.errors import EmbeddingError
from api.search import cache, repository, repository_sync
from api.search.embedding import query_embedder
from api.search.schemas import MAX_QUERY_CHARS, Hit, SearchFilters, SearchMode, SearchOptions

# HNSW breadth: at least the candidate list. At 100k chunks (bench/scale.py) 40 / 100 / 200 give
# recall@10 0.91 / 0.93 / 0.95 against exact search for a few ms more each. The walk stops after
# max_scan_tuples index tuples even if fewer than n rows passed the filters (RLS, KB, tags).
MIN_EF_SEARCH = 100
MAX_SCAN_TUPLES = 20_000
# Estimated chunks the full-text list may rank before the most common query words stop selecting
# candidates (they still count in the rank; see private.search_tsqueries). Bounds the text list's
# cost in big KBs, and acts like a crude IDF: on SciFact (16k chunks) text nDCG@10 is 0.601 at
# 500, 0.589 at 1000, 0.585 unbounded; the smaller sets are too small to be pruned.
TEXT_MATCH_BUDGET = 500
# The vector list comes from the HNSW index or from an exact scan of the searched KBs' rows.
# Under a KB filter, HNSW's iterative scan walks about candidates / share entries (share: the
# KBs' part of the table) before enough pass the filter, so its cost grows like candidates x
# table / rows; the exact scan reads and sorts the KBs' rows, cost ~ rows (and it is exact).
# Exact wins when rows² <= EXACT_SCAN_FACTOR x candidates x table rows: at 100k chunks and 50
# candidates that is KBs up to ~6,300 chunks (bench/scale.py times both per tenant; BENCHMARKS.md).
EXACT_SCAN_FACTOR = 8


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    cached: bool


@dataclass(frozen=True)
class Target:
    """The knowledge bases of one search, as the caller may see them."""
    kbs: list[dict]
    org_id: UUID
    model: str
    dim: int
    languages: list[str]


class SearchEmbeddingFailed(DomainError):
    status_code, code = 502, "embedding_failed"


def resolve_target(kbs: list[dict], kb_ids: list[UUID], mode: SearchMode) -> Target:
    """Check that every requested KB is visible and that their vectors are comparable."""
    if not kb_ids:
        raise Unprocessable("search at least one knowledge base")
    if len(kbs) != len(set(kb_ids)):
        raise NotFound("knowledge base not found")
    models = {(kb["embedding_model"], kb["embedding_dim"]) for kb in kbs}
    if len(models) > 1 and mode != "text":
        raise Unprocessable("knowledge bases searched together must share one embedding model and dimension; "
                            "search them separately or use mode=text")
    if len({kb["organization_id"] for kb in kbs}) > 1:
        raise Unprocessable("knowledge bases searched together must belong to one organization")
    model, dim = sorted(models)[0]
    return Target(kbs=kbs, org_id=kbs[0]["organization_id"], model=model, dim=dim,
                  languages=sorted({kb["language"] for kb in kbs}))


VectorScan = Literal["auto", "exact", "hnsw"]


def exact_scan(target: Target, candidates: int) -> bool:
    """Whether an exact scan of the target's rows is cheaper than the HNSW walk (see EXACT_SCAN_FACTOR)."""
    rows = sum(int(kb.get("chunks") or 0) for kb in target.kbs)
    table = max(rows, *(int(kb.get("table_chunks") or 0) for kb in target.kbs))
    return rows * rows <= EXACT_SCAN_FACTOR * candidates * table


def statement_for(target: Target, options: SearchOptions, vector, scan: VectorScan = "auto") -> tuple:
    """The search statement; `scan` forces one vector scan (benchmarks and plan tests)."""
    exact = exact_scan(target, options.candidates) if scan == "auto" else scan == "exact"
    return repository.search_statement(
        dim=target.dim, mode=options.mode, query=options.query, vector=vector, languages=target.languages,
        kb_ids=[kb["id"] for kb in target.kbs], filters=options.filters, k=options.k,
        candidates=options.candidates, w_vec=options.weights.vector, w_text=options.weights.text,
        rrf_k=options.rrf_k, match_budget=TEXT_MATCH_BUDGET, fusion=options.fusion, exact=exact)


def scan_settings(options: SearchOptions) -> dict:
    return {"ef_search": max(options.candidates, MIN_EF_SEARCH), "max_scan_tuples": MAX_SCAN_TUPLES}


def _embed(embedder, query: str):
    try:
        return embedder.embed_query(query)
    except EmbeddingError as exc:
        raise SearchEmbeddingFailed(exc.message, code=exc.code) from exc


async def search(session, kb_ids: list[UUID], options: SearchOptions, *, org_id: UUID | None = None,
                 redis=None, embedder=None) -> SearchResult:
    """Search; `org_id` restricts to one organization's KBs, `redis` enables the result cache."""
    conn = getattr(session, "conn", session)
    target = resolve_target(await repository.load_kbs(conn, kb_ids, org_id), kb_ids, options.mode)
    cache_key = cache.key(target.org_id, target.kbs, options, target.model)
    if redis is not None and (hits := await cache.get(redis, cache_key)) is not None:
        return SearchResult(hits, cached=True)
    vector = None
    if options.mode != "text":
        # The model is CPU-bound (local) or a blocking HTTP call (hosted): keep it off the event loop.
        vector = await asyncio.to_thread(_embed, embedder or query_embedder(target.model, target.dim), options.query)
    statement, params = statement_for(target, options, vector)
    rows = await repository.search(conn, statement, params, **scan_settings(options))
    hits = [Hit.model_validate({**row, "scores": row}) for row in rows]
    if redis is not None:
        await cache.put(redis, cache_key, hits, get_settings().search_cache_ttl_s)
    return SearchResult(hits, cached=False)


def search_sync(conn, kb_ids: list[UUID], options: SearchOptions, *, org_id: UUID | None = None,
                redis=None, embedder=None) -> SearchResult:
    """`search` for sync connections (Celery tasks, benchmarks); `redis` is a sync client."""
    target = resolve_target(repository_sync.load_kbs(conn, kb_ids, org_id), kb_ids, options.mode)
    cache_key = cache.key(target.org_id, target.kbs, options, target.model)
    if redis is not None and (hits := cache.get_sync(redis, cache_key)) is not None:
        return SearchResult(hits, cached=True)
    vector = None
    if options.mode != "text":
        vector = _embed(embedder or query_embedder(target.model, target.dim), options.query)
    statement, params = statement_for(target, options, vector)
    rows = repository_sync.search(conn, statement, params, **scan_settings(options))
    hits = [Hit.model_validate({**row, "scores": row}) for row in rows]
    if redis is not None:
        cache.put_sync(redis, cache_key, hits, get_settings().search_cache_ttl_s)
    return SearchResult(hits, cached=False)


def _options(query: str, k: int, mode: SearchMode, filters: SearchFilters | dict | None, extra: dict) -> SearchOptions:
    # Callers pass user text as is (chat messages): overlong text is cut to the API's limit.
    return SearchOptions(query=query[:MAX_QUERY_CHARS], k=k, mode=mode, filters=filters or SearchFilters(), **extra)


async def search_chunks(session, kb_ids: list[UUID], query: str, k: int = 10, mode: SearchMode = "hybrid",
                        filters: SearchFilters | dict | None = None, **extra) -> list[Hit]:
    """The top-k chunks for `query` (for chat context); extra: candidates, weights, rrf_k, redis, org_id."""
    if not query.strip() or not kb_ids:
        return []
    passthrough = {name: extra.pop(name) for name in ("redis", "org_id", "embedder") if name in extra}
    result = await search(session, kb_ids, _options(query, k, mode, filters, extra), **passthrough)
    return result.hits


def search_chunks_sync(conn, kb_ids: list[UUID], query: str, k: int = 10, mode: SearchMode = "hybrid",
                       filters: SearchFilters | dict | None = None, **extra) -> list[Hit]:
    """`search_chunks` on a sync connection."""
    if not query.strip() or not kb_ids:
        return []
    passthrough = {name: extra.pop(name) for name in ("redis", "org_id", "embedder") if name in extra}
    return search_sync(conn, kb_ids, _options(query, k, mode, filters, extra), **passthrough).hits
