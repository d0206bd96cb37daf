"""Search SQL: the knowledge-base lookup and the one-statement hybrid search.

Its sync twin (benchmarks, planner tests) is repository_sync.py, which runs the same statement
text. All of it runs as the caller under RLS.
"""
from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from api.search.schemas import Fusion, SearchFilters, SearchMode

# chunks: the KB's chunk count (kept by the ingest triggers in knowledge_base_text_stats);
# table_chunks: the whole table's, as of its last ANALYZE. They choose the vector scan (service.py).
KBS = """
select kb.id, kb.organization_id, kb.language::text as language, kb.embedding_model, kb.embedding_dim,
       kb.content_version,
       (select coalesce(sum(s.chunks), 0) from public.knowledge_base_text_stats s
         where s.knowledge_base_id = kb.id)::bigint as chunks,
       (select greatest(c.reltuples, 0) from pg_catalog.pg_class c
         where c.oid = 'public.document_chunks'::pg_catalog.regclass)::bigint as table_chunks
  from public.knowledge_bases kb
 where kb.id = any(%(kb_ids)s) and (%(org_id)s::uuid is null or kb.organization_id = %(org_id)s::uuid)
"""

# Relaxed order lets HNSW keep walking the graph until `limit` rows pass the filters (RLS,
# knowledge base, tags...): without it a small tenant in a big table gets the few of its rows
# that happen to sit among the global top ef_search, often none. max_scan_tuples bounds the
# walk when a filter matches almost nothing. set_config(..., true) is SET LOCAL.
TUNE = """
select set_config('hnsw.iterative_scan', 'relaxed_order', true),
       set_config('hnsw.ef_search', %s, true),
       set_config('hnsw.max_scan_tuples', %s, true)
"""

# Both candidate lists are MATERIALIZED so each runs once, as written: the vector list as an
# HNSW index scan (ORDER BY distance LIMIT n; the expression and `embedding_dim = 384` match the
# partial index exactly), the text list as a GIN bitmap scan inside private.text_candidates.
# Relaxed order may return the vector list slightly out of order, so ranks are assigned afterwards.
_VECTOR_ROWS = """
  select c.id, c.embedding::extensions.vector({dim}) <=> %(qvec)s::extensions.vector({dim}) as distance
    from public.document_chunks c
   where c.embedding_dim = {dim} and {filters}"""
_VECTOR_LIST = _VECTOR_ROWS + """
   order by distance
   limit %(n)s"""
# The exact list: every row of the searched KBs (through the KB index), distances computed and
# sorted. OFFSET 0 keeps the ORDER BY ... LIMIT outside the subquery, where no index can serve it,
# so the planner cannot turn it into the HNSW scan above (service.exact_scan chooses).
_EXACT_VECTOR_LIST = "select e.id, e.distance from (" + _VECTOR_ROWS + """
  offset 0) e
   order by e.distance, e.id
   limit %(n)s"""

# Per language among the searched KBs (tq, below), the chunks indexed with that configuration
# (fts_config is copied from the KB's language). private.text_candidates applies the filters
# and the tenant check itself: see its comment in 20261125002000_search.sql for why.
_TEXT_LIST = """
  select t.id, t.score
    from tq, lateral private.bm25_candidates(
           %(kb_ids)s, tq.lang, tq.match_query, tq.lexemes, tq.idf, tq.avg_length, %(k1)s, %(b)s, %(n)s,
           %(tags_any)s::text[], %(tags_all)s::text[], %(document_ids)s::uuid[], %(sources)s::text[],
           %(metadata)s) as t
   order by t.score desc, t.id
   limit %(n)s"""

# BM25 parameters (Anserini's defaults for BEIR, the "stemmed BM25" baseline of BENCHMARKS.md):
# chunks are of similar length, so length normalization (b) matters less than in whole documents.
BM25_K1 = 0.9
BM25_B = 0.4

_NO_VECTOR_LIST = "select null::uuid as id, null::float8 as distance where false"
_NO_TEXT_LIST = "select null::uuid as id, null::float8 as score where false"

# tq: per language, the query's lexemes with their IDF in the searched KBs and the tsquery that
# selects text candidates (see private.search_terms). Each list gets ranks and z-scores (its score
# minus the list's mean, over the list's standard deviation; the vector list scores by cosine
# similarity, the text list by BM25); the fused score is computed over at most 2n rows
# ({fused}: FUSED, below), and only the top k are joined to their chunk and document rows. The
# RRF score is returned whatever the fusion (clients that read `scores.rrf` keep working).
_SEARCH = """
with tq as materialized (
  select lang, q.match_query, q.lexemes, q.idf, q.avg_length
    from unnest(%(languages)s::regconfig[]) as lang,
         lateral private.search_terms(lang, %(query)s, %(kb_ids)s, %(match_budget)s, %(n)s) as q
),
vec as materialized ({vector_list}),
txt as materialized ({text_list}),
vs as (
  select id, distance, row_number() over (order by distance, id) as rank,
         ((1 - distance) - avg(1 - distance) over ()) / nullif(stddev_pop(1 - distance) over (), 0) as z
    from vec
),
ts as (
  select id, score, row_number() over (order by score desc, id) as rank,
         (score - avg(score) over ()) / nullif(stddev_pop(score) over (), 0) as z
    from txt
),
fused as (
  select coalesce(v.id, t.id) as id,
         {rrf} as rrf,
         {fused} as fused,
         v.distance, v.rank as vector_rank, t.score as text_score, t.rank as text_rank
    from vs v
    full join ts t on t.id = v.id
),
top as (
  select * from fused order by fused desc, least(vector_rank, text_rank), id limit %(k)s
)
select f.id as chunk_id, c.document_id, c.knowledge_base_id, d.title, d.filename, c.content, c.page,
       c.ordinal, c.document_version, c.source, c.tags, c.metadata,
       f.fused, f.rrf, f.distance as vector_distance, 1 - f.distance as vector_similarity,
       f.text_score, f.vector_rank, f.text_rank
  from top f
  join public.document_chunks c on c.id = f.id
  join public.documents d on d.id = c.document_id
 order by f.fused desc, least(f.vector_rank, f.text_rank), f.id
"""

# How the two lists become one ranking (`fusion` option):
# - zscore (default): weight x z-score summed over the lists; a chunk missing from a list counts as
#   that list's lowest z. It follows each list's own score distribution: a candidate far above the
#   rest of its list counts more than one barely ahead of near-equal neighbours (near-duplicate
#   passages, a common word). Measured against RRF on five sets (bench/fusion.py, BENCHMARKS.md).
# - rrf: weight / (rrf_k + rank) summed over the lists (ranks only).
_RRF = "coalesce(%(w_vec)s / (%(rrf_k)s + v.rank), 0) + coalesce(%(w_text)s / (%(rrf_k)s + t.rank), 0)"
FUSED = {
    "zscore": "%(w_vec)s * coalesce(v.z, (select min(z) from vs), 0)"
              " + %(w_text)s * coalesce(t.z, (select min(z) from ts), 0)",
    "rrf": _RRF,
}


# Only the filters a request sets become predicates, so the planner sees no dead branches.
_FILTERS = {
    "tags_any": "c.tags && %(tags_any)s::text[]",
    "tags_all": "c.tags @> %(tags_all)s::text[]",
    "document_ids": "c.document_id = any(%(document_ids)s::uuid[])",
    "source": "c.source = any(%(sources)s::text[])",
    # Document metadata is what uploaders set; tags and source are copied onto chunks.
    "metadata": "exists (select 1 from public.documents fd where fd.id = c.document_id "
                "and fd.metadata @> %(metadata)s)",
}


@functools.lru_cache(maxsize=256)
def _statement(dim: int, mode: SearchMode, used_filters: tuple[str, ...], fusion: Fusion,
               exact: bool) -> sql.Composed:
    if dim <= 0:
        raise ValueError(f"invalid embedding dimension {dim}")
    filters_sql = sql.SQL(" and ".join(["c.knowledge_base_id = any(%(kb_ids)s)",
                                        *(_FILTERS[name] for name in used_filters)]))
    # The dimension is an int from knowledge_bases; as a literal it matches the partial
    # index predicate (embedding_dim = 384) and the indexed expression's typmod exactly.
    dim_sql = sql.Literal(int(dim))
    vector_list = sql.SQL(_EXACT_VECTOR_LIST if exact else _VECTOR_LIST).format(dim=dim_sql, filters=filters_sql)
    text_list = sql.SQL(_TEXT_LIST)
    return sql.SQL(_SEARCH).format(
        vector_list=vector_list if mode != "text" else sql.SQL(_NO_VECTOR_LIST),
        text_list=text_list if mode != "vector" else sql.SQL(_NO_TEXT_LIST),
        rrf=sql.SQL(_RRF), fused=sql.SQL(FUSED[fusion]))


def search_statement(*, dim: int, mode: SearchMode, query: str, vector: Any, languages: list[str],
                     kb_ids: list[UUID], filters: SearchFilters, k: int, candidates: int,
                     w_vec: float, w_text: float, rrf_k: int, match_budget: int,
                     fusion: Fusion = "zscore", exact: bool = False) -> tuple[sql.Composed, dict]:
    """The hybrid statement and its parameters (also used by EXPLAIN in tests and benchmarks);
    `exact`: the vector list by an exact scan of the KBs' rows instead of the HNSW index."""
    params = {"kb_ids": list(kb_ids), "query": query, "qvec": vector, "languages": languages,
              "match_budget": match_budget, "k1": BM25_K1, "b": BM25_B,
              "n": candidates, "k": k, "w_vec": float(w_vec), "w_text": float(w_text), "rrf_k": rrf_k,
              "tags_any": filters.tags_any, "tags_all": filters.tags_all,
              "document_ids": filters.document_ids, "sources": filters.source,
              "metadata": Jsonb(filters.metadata)}
    used = tuple(name for name in _FILTERS if getattr(filters, name))
    return _statement(dim, mode, used, fusion, exact), params


def tune_params(ef_search: int, max_scan_tuples: int) -> list[str]:
    return [str(int(ef_search)), str(int(max_scan_tuples))]


async def load_kbs(conn, kb_ids: list[UUID], org_id: UUID | None) -> list[dict]:
    cur = await conn.execute(KBS, {"kb_ids": list(kb_ids), "org_id": org_id})
    return await cur.fetchall()


async def search(conn, statement: sql.Composed, params: dict, *, ef_search: int, max_scan_tuples: int) -> list[dict]:
    await conn.execute(TUNE, tune_params(ef_search, max_scan_tuples))
    cur = await conn.execute(statement, params)
    return await cur.fetchall()
