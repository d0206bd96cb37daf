"""Memory SQL for the API (async reads) — retrieval is one hybrid statement.

The worker-side writes (turn indexing, summaries, facts, retention) are in
api/memory/repository_sync.py: the API is async psycopg, the workers sync, and one
path never mixes the two.
"""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg import sql as q

from api.core import sql
from api.core.pagination import PageParams

# The same filters on every scan of the contact's memories (the policy adds the organization).
_FILTERS = """m.contact_id = %(contact)s and m.valid_to is null and m.kind = any(%(kinds)s)
     and m.conversation_id is distinct from %(exclude)s"""

# Hybrid retrieval in one statement:
#  1. vector: cosine top-N (HNSW, iterative scan under RLS);
#  2. text: every lexeme of the message (Portuguese, English and 'simple' parses, each matched
#     against memories stored under that config; both sides normalized by
#     private.search_normalize, so "e-mail" meets "email" and "E-104" meets "E104") scores the
#     memories containing it by its IDF within this contact's memories, summed: rare words
#     (names, places, products) count and words found in every turn do not, which ts_rank_cd
#     (no IDF) cannot do; top-N, equal sums ranked by the memory's lexeme count (the fuller
#     turn first, not an arbitrary one);
#  3. fusion per memory: weighted reciprocal ranks (rrf), or (zscore) each list's scores as
#     z-scores counted from that list's lowest candidate (so a memory missing from a list gets
#     that list's lowest z, as in knowledge search, and every score stays positive for the
#     factors below), weighted and summed;
#  4. a memory from a period the message names ("in March", "on 3 May 2023", "semana passada",
#     see api/memory/dates.py; up to `slack` days after it, as events are told afterwards, except
#     for open-ended ranges: "before July" ends at July) is scaled by 1 + date_boost;
#  5. a matching turn lends `smooth` x its score to the turns right before and after it (an
#     answer is often the reply to, or the line before, what matched), then turns are grouped
#     into excerpts of `w` consecutive turns of one conversation (by `seq`), scored
#     max + spread * (sum - max), so an excerpt where several turns match wins ties; facts,
#     summaries and turns without a position stay single units;
#  6. the top-k units, each with all its member turns in order, so the prompt shows the
#     exchange around the match and not a lone reply.
# `lex`, `total` and `idf` are MATERIALIZED: inlined, the planner re-ran them once per
# matching memory (LoCoMo p95 48 ms instead of ~10 ms); candidates carry the columns the
# grouping needs, so no second lookup of `memories`.
_RETRIEVE = r"""
with q as (
  select %(vec)s::extensions.vector({dim}) as v
),
vec as (
  select m.id, m.kind, m.seq, m.conversation_id, m.created_at, m.superseded_by is not null as outdated,
         row_number() over (order by m.embedding::extensions.vector({dim}) <=> q.v) as r,
         1 - (m.embedding::extensions.vector({dim}) <=> q.v) as sim
    from public.memories m, q
   where {filters} and m.embedding_dim = {dim}
   order by m.embedding::extensions.vector({dim}) <=> q.v
   limit %(n)s
),
lex as materialized (
  select w.cfg, w.lexeme, to_tsquery('simple', '''' || replace(replace(w.lexeme, '\', ''), '''', '''''') || '''') as tq
    from (select distinct c.cfg, l.lexeme
            from unnest('{{portuguese,english,simple}}'::regconfig[]) c(cfg)
           cross join lateral unnest(to_tsvector(c.cfg, private.search_normalize(%(text)s))) l) w
),
matches as (
  select l.cfg, l.lexeme, m.id, m.kind, m.seq, m.conversation_id, m.created_at, length(m.fts) as nlex,
         m.superseded_by is not null as outdated
    from lex l
    join public.memories m on m.fts_config = l.cfg and m.fts @@ l.tq
   where {filters}
),
total as materialized (
  select count(*)::float8 as n from public.memories m where {filters}
),
idf as materialized (
  select x.cfg, x.lexeme, ln(1 + (t.n - count(*) + 0.5) / (count(*) + 0.5)) as w
    from matches x, total t
   group by x.cfg, x.lexeme, t.n
),
txt as (
  select top.id, top.kind, top.seq, top.conversation_id, top.created_at, top.outdated,
         row_number() over (order by s desc, nlex desc, id) as r, top.s
    from (select x.id, x.kind, x.seq, x.conversation_id, x.created_at, x.nlex, x.outdated, sum(i.w) as s
            from matches x join idf i using (cfg, lexeme)
           group by x.id, x.kind, x.seq, x.conversation_id, x.created_at, x.nlex, x.outdated
           order by s desc, x.nlex desc, x.id limit %(n)s) top
),
fused as (
  select id, kind, seq, conversation_id, created_at, outdated,
         sum({fused})
         * case when exists (select 1 from unnest(%(p_start)s::timestamptz[], %(p_end)s::timestamptz[]) p(s, e)
                              where created_at >= p.s and created_at < p.e + case when p.e - p.s > interval '366 days'
                                                          then interval '0' else make_interval(days => %(slack)s) end)
           then 1 + %(date_boost)s else 1 end as score,
         (kind = 'turn' and seq is not null and %(w)s > 1) as grouped
    from (select id, kind, seq, conversation_id, created_at, outdated, r, %(w_vec)s::float8 as w,
                 coalesce((sim - min(sim) over ()) / nullif(stddev_pop(sim) over (), 0), 1) as z from vec
          union all
          select id, kind, seq, conversation_id, created_at, outdated, r, %(w_text)s::float8,
                 coalesce((s - min(s) over ()) / nullif(stddev_pop(s) over (), 0), 1) from txt) s
   group by id, kind, seq, conversation_id, created_at, outdated
),
turn_parts as (
  select conversation_id, seq, created_at, score, outdated from fused where grouped
  union all
  select f.conversation_id, f.seq + d.d, f.created_at, %(smooth)s * f.score, false
    from fused f cross join (values (-1), (1)) d(d)
   where f.grouped and %(smooth)s > 0
     and exists (select 1 from public.memories m
                  where m.conversation_id = f.conversation_id and m.kind = 'turn' and m.seq = f.seq + d.d
                    and {filters})
),
turn_scores as (
  select conversation_id, seq, max(created_at) as created_at, sum(score) as score, bool_or(outdated) as outdated
    from turn_parts group by conversation_id, seq
),
scored_units as (
  select conversation_id::text || ':' || (seq / %(w)s) * %(w)s as unit, true as grouped, conversation_id,
         min((seq / %(w)s) * %(w)s) as lo, max(score) + %(spread)s * (sum(score) - max(score)) as score,
         null::uuid as best_id, (array_agg(seq order by score desc, seq))[1] as best_seq,
         max(created_at) as newest, (array_agg(outdated order by score desc, seq))[1] as outdated
    from turn_scores
   group by conversation_id, seq / %(w)s
  union all
  select id::text, false, conversation_id, null, score, id, null, created_at, outdated
    from fused where not grouped
),
{hint}top_units as (
  select s.unit, s.grouped, s.conversation_id, s.lo,
         s.score * case when s.grouped and h.w is not null then 1 + %(session_boost)s * h.w else 1 end as score,
         s.best_id, s.best_seq, s.newest, s.outdated
    from scored_units s left join hint h on h.conversation_id = s.conversation_id
   order by 5 desc, s.newest desc limit %(k)s * 3
),
units as (
  -- 7. recency: every candidate matches the message, and customer-service histories repeat the
  --    same words every session, so when the customer asks what is true now, the newer of two
  --    matching excerpts should win ("Me mudei! Agora o endereço é ..." over the address
  --    stated months before); when they ask about a previous value ("qual era meu endereço
  --    antes?"), the older. Among the top 3k units, each is scaled by 1 + recency x the place
  --    in time of its conversation (0 the oldest, 1 the newest; reversed for the past; units of
  --    one conversation share it: within a session, order says little about what is current). Questions about events
  --    ("when did I...?") get recency 0: an old event is as good an answer as a new one (see
  --    api/memory/dates.py time_intent). A unit holding a turn whose stated value a newer
  --    fact replaced (superseded_by, set by api/memory/pipeline.outdate_turns) and scores
  --    best there (a stable fact said next to it keeps its unit current) is divided by
  --    1 + outdated for the present and multiplied by it for the past. Tried and dropped:
  --    recency only among units holding the same words of the message (a subject), since the
  --    new value is often stated in other words ("dose do remédio" / "agora tomo 40mg").
  select unit, grouped, conversation_id, lo, best_id, best_seq, newest,
         score * (1 + %(recency)s * case when %(older)s then 1 - age else age end)
         * case when not outdated then 1 when %(older)s then 1 + %(outdated)s else 1 / (1 + %(outdated)s) end
           as score
    from (select t.*, coalesce(extract(epoch from t.at - min(t.at) over ())
                               / nullif(extract(epoch from max(t.at) over () - min(t.at) over ()), 0), 1) as age
            from (select u.*, max(u.newest) over (partition by u.conversation_id) as at from top_units u) t) aged
   order by score desc, newest desc
   limit %(k)s
),
members as (
  select u.unit, u.best_id as member_id, true as is_best
    from units u
   where not u.grouped
  union all
  select u.unit, m.id, m.seq = u.best_seq
    from units u join public.memories m
      on m.conversation_id = u.conversation_id and m.kind = 'turn'
     and m.seq between u.lo and u.lo + %(w)s - 1
   where u.grouped and {filters}
)
select u.unit, u.score, x.is_best, m.id, m.kind, m.key, m.content, m.created_at, m.conversation_id,
       m.metadata, m.seq
  from units u
  join members x on x.unit = u.unit
  join public.memories m on m.id = x.member_id
 order by u.score desc, u.newest desc, u.unit, m.seq nulls first, m.created_at
"""

# 6b. sessions the question is about: the contact's conversation summaries nearest the message
#     (exact: a contact has one summary per conversation) lend their conversation's excerpts a
#     factor 1 + session_boost x (1 for the nearest ... 1/top for the last of the top), so an excerpt
#     phrased nothing like the question can rise when its session is about it. Off by default
#     (BENCHMARKS.md, "Multi-session questions"): then this is an empty relation and costs nothing.
_HINT = r"""hint as (
  select conversation_id, (%(session_top)s + 1 - row_number() over (order by d))::float8 / %(session_top)s as w
    from (select m.conversation_id, m.embedding::extensions.vector({dim}) <=> q.v as d
            from public.memories m, q
           where m.contact_id = %(contact)s and m.valid_to is null and m.kind = 'summary'
             and m.conversation_id is distinct from %(exclude)s and m.embedding_dim = {dim}
          offset 0) s
   order by d limit %(session_top)s
),
"""
_NO_HINT = "hint as (select null::uuid as conversation_id, null::float8 as w where false),\n"

# Reciprocal rank fusion constant: 10 (not the usual 60) lets a memory ranked high on one
# side beat one ranked middling on both; measured on LoCoMo (BENCHMARKS.md).
RRF_K = 10


_FUSED = {"rrf": "w / ({rrf_k} + r)", "zscore": "w * z"}


def _retrieve_statement(dim: int, session_hint: bool, fusion: str) -> q.Composed:
    hint = q.SQL(_HINT).format(dim=q.Literal(dim)) if session_hint else q.SQL(_NO_HINT)
    fused = q.SQL(_FUSED[fusion]).format(rrf_k=q.Literal(RRF_K))
    return q.SQL(_RETRIEVE).format(dim=q.Literal(dim), fused=fused, filters=q.SQL(_FILTERS), hint=hint)


async def allow_iterative_scan(conn) -> None:
    # Under RLS plus the contact filter, a plain HNSW scan can return fewer than n rows;
    # iterative scans keep walking the graph until enough rows pass the filters.
    await conn.execute("select set_config('hnsw.iterative_scan', 'relaxed_order', true)")


async def retrieve(conn, *, contact_id: UUID, vector, text: str, dim: int, k: int, candidates: int,
                   kinds: list[str], exclude_conversation_id: UUID | None, w_vec: float, w_text: float,
                   excerpt_turns: int, spread: float, smooth: float,
                   periods: list[tuple[datetime, datetime]] = (),
                   date_boost: float = 0.0, slack_days: int = 0, recency: float = 0.0,
                   older: bool = False, outdated: float = 0.0, session_boost: float = 0.0,
                   session_top: int = 3, fusion: str) -> list[dict]:
    """Rows of the top-k units, best first; a unit's rows share `unit` and `score`, and its
    best-scoring memory has `is_best`. `fusion` has no default: the configuration's
    (api/memory/service.RetrievalConfig) is the only one."""
    params = {"vec": vector, "text": text, "contact": contact_id, "kinds": kinds, "exclude": exclude_conversation_id,
              "n": candidates, "k": k, "w_vec": w_vec, "w_text": w_text, "w": max(1, excerpt_turns),
              "spread": spread, "smooth": smooth,
              "p_start": [p[0] for p in periods],
              "p_end": [p[1] for p in periods], "slack": slack_days, "date_boost": date_boost,
              "recency": recency, "older": older, "outdated": outdated,
              "session_boost": session_boost, "session_top": max(1, session_top)}
    return await sql.fetch_all(conn, _retrieve_statement(dim, session_boost > 0, fusion), params)


async def current_facts(conn, contact_id: UUID) -> list[dict]:
    """Current facts, each with the value it replaced (`previous_value`, `previous_until`: when the
    newer value was stored), or nulls."""
    return await sql.fetch_all(conn, """
        select f.id, f.key, f.metadata->>'value' as value, f.content, f.confidence, f.valid_from, f.conversation_id,
               p.metadata->>'value' as previous_value, p.valid_to as previous_until
          from public.memories f
          left join lateral (select o.metadata, o.valid_to from public.memories o
                              where o.superseded_by = f.id and o.kind = 'fact'
                              order by o.valid_to desc limit 1) p on true
         where f.contact_id = %s and f.kind = 'fact' and f.valid_to is null
         order by f.valid_from desc, f.key""", [contact_id])


async def session_summaries(conn, contact_id: UUID, limit: int) -> list[dict]:
    return await sql.fetch_all(conn, """
        select id, conversation_id, content, created_at, metadata
          from public.memories
         where contact_id = %s and kind = 'summary' and valid_to is null
         order by created_at desc limit %s""", [contact_id, limit])


async def contact_conversation_ids(conn, contact_id: UUID) -> list[UUID]:
    rows = await sql.fetch_all(conn, "select id from public.conversations where contact_id = %s", [contact_id])
    return [r["id"] for r in rows]


_MEMORY_COLUMNS = q.SQL("""id, kind, key, content, confidence, contact_id, agent_id, conversation_id, metadata,
       valid_from, valid_to, superseded_by, created_at""")


async def page(conn, org_id: UUID, contact_id: UUID, params: PageParams, *, kind: str | None,
               include_superseded: bool) -> list[dict]:
    """Newest first, without vectors; limit + 1 rows (see api.core.pagination)."""
    where = q.SQL("contact_id = %s and (%s::text is null or kind = %s::text) and (%s or valid_to is null)")
    return await sql.page(conn, "memories", org_id, params, where=where,
                          where_params=[contact_id, kind, kind, include_superseded], columns=_MEMORY_COLUMNS)


async def delete_memory(conn, contact_id: UUID, memory_id: UUID) -> bool:
    row = await sql.fetch_one(conn, "delete from public.memories where id = %s and contact_id = %s returning id",
                              [memory_id, contact_id])
    return row is not None
