"""Memory SQL for the API (async reads) — retrieval is one hybrid statement.

The worker-side writes (turn indexing, summaries, facts, retention) are in
api/memory/repository_sync.py: the API is async psycopg, the workers sync, and one
path never mixes the two.
"""
from __future__ import annotations

from uuid import UUID

from psycopg import sql as q

from api.core import sql

# Candidates taken from each side (vector, text) before fusion; RRF's k=60 damps rank noise.
RRF_K = 60

# OR of the query's lexemes under one text-search config: a question's words rarely all
# appear in one remembered turn, so AND (plainto/websearch_to_tsquery) would miss most.
_OR_QUERY = ("(select to_tsquery('simple', coalesce(string_agg("
             "'''' || replace(replace(lexeme, '\\', ''), '''', '''''') || '''', ' | '), '')) "
             "from unnest(to_tsvector({cfg}, %(text)s)))")

_RETRIEVE = """
with q as (
  select %(vec)s::extensions.vector({dim}) as v,
         {or_pt} as pt, {or_en} as en, {or_simple} as simple
),
vec as (
  select m.id, row_number() over (order by m.embedding::extensions.vector({dim}) <=> q.v) as r
    from public.memories m, q
   where m.contact_id = %(contact)s and m.valid_to is null and m.embedding_dim = {dim}
     and m.kind = any(%(kinds)s) and m.conversation_id is distinct from %(exclude)s
   order by m.embedding::extensions.vector({dim}) <=> q.v
   limit %(n)s
),
txt as (
  select m.id, row_number() over (order by ts_rank_cd(m.fts, t.tq) desc, m.created_at desc) as r
    from public.memories m, q
   cross join lateral (select case m.fts_config when 'portuguese'::regconfig then q.pt
                                               when 'english'::regconfig then q.en
                                               else q.simple end as tq) t
   where m.contact_id = %(contact)s and m.valid_to is null
     and m.kind = any(%(kinds)s) and m.conversation_id is distinct from %(exclude)s
     and m.fts @@ t.tq
   order by ts_rank_cd(m.fts, t.tq) desc, m.created_at desc
   limit %(n)s
),
fused as (
  select id, sum(w / ({rrf_k} + r)) as score
    from (select id, r, %(w_vec)s::float8 as w from vec
          union all select id, r, %(w_text)s::float8 from txt) s
   group by id
)
select m.id, m.kind, m.key, m.content, m.created_at, m.conversation_id, m.metadata, f.score
  from fused f join public.memories m on m.id = f.id
 order by f.score desc, m.created_at desc
 limit %(k)s
"""


def _retrieve_statement(dim: int) -> q.Composed:
    or_query = {name: q.SQL(_OR_QUERY).format(cfg=q.Literal(name)) for name in ("portuguese", "english", "simple")}
    return q.SQL(_RETRIEVE).format(dim=q.Literal(dim), rrf_k=q.Literal(RRF_K), or_pt=or_query["portuguese"],
                                   or_en=or_query["english"], or_simple=or_query["simple"])


async def allow_iterative_scan(conn) -> None:
    # Under RLS plus the contact filter, a plain HNSW scan can return fewer than n rows;
    # iterative scans keep walking the graph until enough rows pass the filters.
    await conn.execute("select set_config('hnsw.iterative_scan', 'relaxed_order', true)")


async def retrieve(conn, *, contact_id: UUID, vector, text: str, dim: int, k: int, candidates: int,
                   kinds: list[str], exclude_conversation_id: UUID | None, w_vec: float, w_text: float) -> list[dict]:
    params = {"vec": vector, "text": text, "contact": contact_id, "kinds": kinds, "exclude": exclude_conversation_id,
              "n": candidates, "k": k, "w_vec": w_vec, "w_text": w_text}
    return await sql.fetch_all(conn, _retrieve_statement(dim), params)


async def current_facts(conn, contact_id: UUID) -> list[dict]:
    return await sql.fetch_all(conn, """
        select id, key, metadata->>'value' as value, content, confidence, valid_from, conversation_id
          from public.memories
         where contact_id = %s and kind = 'fact' and valid_to is null
         order by valid_from desc, key""", [contact_id])


async def session_summaries(conn, contact_id: UUID, limit: int) -> list[dict]:
    return await sql.fetch_all(conn, """
        select id, conversation_id, content, created_at, metadata
          from public.memories
         where contact_id = %s and kind = 'summary' and valid_to is null
         order by created_at desc limit %s""", [contact_id, limit])


async def contact_conversation_ids(conn, contact_id: UUID) -> list[UUID]:
    rows = await sql.fetch_all(conn, "select id from public.conversations where contact_id = %s", [contact_id])
    return [r["id"] for r in rows]


async def contact_texts(conn, contact_id: UUID) -> list[str]:
    """Every text of the contact that may have been embedded (and so cached in Redis)."""
    rows = await sql.fetch_all(conn, """
        select content from public.conversation_history where contact_id = %s
        union select content from public.memories where contact_id = %s""", [contact_id, contact_id])
    return [r["content"] for r in rows]
