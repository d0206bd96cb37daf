"""Catalog SQL: upserts by external id, snapshot completion, the embedding queue and the
one-statement filtered hybrid search. Async for the API, `_sync` for the worker and benchmarks;
all of it under the caller's RLS."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from api.core import sql as core_sql

_COLUMNS = ("id, knowledge_base_id, external_id, name, description, attributes, "
            "embedded_hash is not distinct from content_hash as embedded, created_at, updated_at")

# content_hash covers the text only: a price or stock change never triggers re-embedding. An
# unchanged record (same text, attributes and snapshot) is not written at all.
_UPSERT = """
with input as (
  select r.external_id, r.name, coalesce(r.description, '') as description,
         coalesce(r.attributes, '{}'::jsonb) as attributes
    from jsonb_to_recordset(%(rows)s) as r(external_id text, name text, description text, attributes jsonb)
), old as (
  select c.external_id, c.name, c.description, c.attributes from public.catalog_records c
   where c.knowledge_base_id = %(kb)s and c.external_id in (select external_id from input)
), written as (
  insert into public.catalog_records as c
         (organization_id, knowledge_base_id, external_id, name, description, attributes, content_hash,
          fts_config, snapshot_id)
  select %(org)s, %(kb)s, i.external_id, i.name, i.description, i.attributes,
         encode(sha256(convert_to(i.name || E'\\n' || i.description, 'UTF8')), 'hex'),
         %(fts)s::regconfig, %(snapshot)s
    from input i
   order by i.external_id  -- concurrent syncs lock rows in the same order: no deadlock between them
  on conflict (knowledge_base_id, external_id) do update
     set name = excluded.name, description = excluded.description, attributes = excluded.attributes,
         content_hash = excluded.content_hash, snapshot_id = excluded.snapshot_id
   where (c.name, c.description, c.attributes, c.snapshot_id)
         is distinct from (excluded.name, excluded.description, excluded.attributes, excluded.snapshot_id)
  returning c.external_id, (xmax = 0) as inserted
)
select count(*) filter (where w.inserted) as inserted,
       count(*) filter (where not w.inserted and (i.name, i.description, i.attributes)
                                                 is distinct from (o.name, o.description, o.attributes)) as updated,
       count(*) filter (where w.inserted or (i.name, i.description) is distinct from (o.name, o.description))
         as to_embed
  from written w join input i using (external_id) left join old o using (external_id)"""


def _upsert_params(org_id: UUID, kb: dict, records: list[dict], snapshot_id: str | None) -> dict:
    return {"rows": Jsonb(records), "org": org_id, "kb": kb["id"], "fts": kb["language"], "snapshot": snapshot_id}


async def upsert(conn, org_id: UUID, kb: dict, records: list[dict], snapshot_id: str | None) -> dict:
    return await core_sql.fetch_one(conn, _UPSERT, _upsert_params(org_id, kb, records, snapshot_id))


def upsert_sync(conn, org_id: UUID, kb: dict, records: list[dict], snapshot_id: str | None) -> dict:
    return conn.execute(_UPSERT, _upsert_params(org_id, kb, records, snapshot_id)).fetchone()


async def complete_snapshot(conn, kb_id: UUID, snapshot_id: str) -> int:
    cur = await conn.execute("delete from public.catalog_records where knowledge_base_id = %s "
                             "and snapshot_id is distinct from %s", [kb_id, snapshot_id])
    return cur.rowcount


async def get(conn, kb_id: UUID, external_id: str) -> dict | None:
    return await core_sql.fetch_one(conn, f"select {_COLUMNS} from public.catalog_records "  # noqa: S608
                                          "where knowledge_base_id = %s and external_id = %s", [kb_id, external_id])


async def delete(conn, kb_id: UUID, external_id: str) -> bool:
    cur = await conn.execute("delete from public.catalog_records where knowledge_base_id = %s and external_id = %s",
                             [kb_id, external_id])
    return cur.rowcount > 0


def unembedded_sync(conn, kb_id: UUID, limit: int) -> list[dict]:
    """Records whose current text has no vector yet (oldest change first)."""
    return conn.execute("""
        select id, external_id, name, description, content_hash from public.catalog_records
         where knowledge_base_id = %s and embedded_hash is distinct from content_hash
         order by updated_at, id limit %s""", [kb_id, limit]).fetchall()


def set_embedding_sync(conn, record_id: UUID, vector: Any, dim: int, content_hash: str) -> None:
    # Only if the text is still the one embedded (it may have changed meanwhile: then it stays queued).
    conn.execute("update public.catalog_records set embedding = %s, embedding_dim = %s, embedded_hash = %s "
                 "where id = %s and content_hash = %s", [vector, dim, content_hash, record_id, content_hash])


def kb_sync(conn, kb_id: UUID) -> dict | None:
    return conn.execute("select id, organization_id, language::text as language, embedding_model, embedding_dim "
                        "from public.knowledge_bases where id = %s", [kb_id]).fetchone()


# Both lists apply the same attribute conditions, so a filter never starves the top k: the
# vector list as SQL predicates under RLS (the HNSW scan orders, the predicates filter), the text
# list inside private.catalog_text_candidates (GIN indexes; see its migration for why).
_SEARCH = """
with vec as materialized (
  select r.id, r.embedding::extensions.vector({dim}) <=> %(qvec)s::extensions.vector({dim}) as distance
    from public.catalog_records r
   where r.embedding_dim = {dim} and r.knowledge_base_id = %(kb)s and {filters}
   order by distance
   limit %(n)s
), txt as materialized (
  select t.id, t.score
    from private.catalog_text_candidates(%(kb)s, %(fts)s::regconfig, %(query)s, %(n)s, %(f_contains)s,
                                         %(f_eq)s, %(f_in)s, %(f_ranges)s) as t
), fused as (
  select coalesce(v.id, t.id) as id,
         coalesce(1.0 / (%(rrf_k)s + v.rank), 0) + coalesce(1.0 / (%(rrf_k)s + t.rank), 0) as rrf,
         v.rank as vector_rank, t.rank as text_rank
    from (select id, row_number() over (order by distance, id) as rank from vec) v
    full join (select id, row_number() over (order by score desc, id) as rank from txt) t on t.id = v.id
), top as (
  select * from fused order by rrf desc, least(vector_rank, text_rank), id limit %(k)s
)
select f.rrf, f.vector_rank, f.text_rank, r.id, r.knowledge_base_id, r.external_id, r.name, r.description,
       r.attributes, r.embedded_hash is not distinct from r.content_hash as embedded, r.created_at, r.updated_at
  from top f join public.catalog_records r on r.id = f.id
 order by f.rrf desc, least(f.vector_rank, f.text_rank), f.id"""

_NUMERIC = "case when jsonb_typeof(r.attributes -> %({key})s) = 'number' then (r.attributes ->> %({key})s)::numeric end"
_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}


def _filters(filters: dict) -> tuple[str, dict]:
    """Attribute conditions as SQL over `r.attributes`; names and values are parameters."""
    clauses, params = ["true"], {}
    for i, (name, cond) in enumerate(sorted(filters.items())):
        key = f"a{i}"
        params[key] = name
        if not isinstance(cond, dict):
            cond = {"eq": cond}
        if cond.get("eq") is not None:
            # Containment uses the GIN index; a string also matches a list attribute holding it.
            params[f"{key}_eq"] = Jsonb({name: cond["eq"]})
            if isinstance(cond["eq"], str):
                params[f"{key}_eqa"] = Jsonb({name: [cond["eq"]]})
                clauses.append(f"(r.attributes @> %({key}_eq)s or r.attributes @> %({key}_eqa)s)")
            else:
                clauses.append(f"r.attributes @> %({key}_eq)s")
        if cond.get("in_") is not None:
            params[f"{key}_in"] = [Jsonb(v) for v in cond["in_"]]
            clauses.append(f"r.attributes -> %({key})s = any(%({key}_in)s::jsonb[])")
        for op, symbol in _OPS.items():
            if cond.get(op) is not None:
                params[f"{key}_{op}"] = cond[op]
                clauses.append(f"{_NUMERIC.format(key=key)} {symbol} %({key}_{op})s")
    return " and ".join(clauses), params


def _filter_data(filters: dict) -> dict:
    """The same conditions as data, for private.catalog_text_candidates."""
    contains, eq, in_sets, ranges = {}, [], [], []
    for name, cond in filters.items():
        cond = cond if isinstance(cond, dict) else {"eq": cond}
        if cond.get("eq") is not None:
            if isinstance(cond["eq"], str):
                eq.append([name, cond["eq"]])
            else:
                contains[name] = cond["eq"]
        if cond.get("in_") is not None:
            in_sets.append([name, cond["in_"]])
        ranges.extend([name, op, cond[op]] for op in _OPS if cond.get(op) is not None)
    return {"f_contains": Jsonb(contains), "f_eq": Jsonb(eq), "f_in": Jsonb(in_sets), "f_ranges": Jsonb(ranges)}


def search_statement(*, dim: int, kb: dict, query: str, vector: Any, filters: dict, k: int, candidates: int,
                     rrf_k: int) -> tuple[sql.Composed, dict]:
    where, params = _filters(filters)
    params.update(_filter_data(filters))
    statement = sql.SQL(_SEARCH).format(dim=sql.Literal(int(dim)), filters=sql.SQL(where))
    return statement, {**params, "kb": kb["id"], "fts": kb["language"], "query": query, "qvec": vector,
                       "n": candidates, "k": k, "rrf_k": rrf_k}


# Relaxed iterative HNSW scans keep walking until n rows pass the attribute filters. The
# planner underestimates those filters under RLS (a few dozen rows of 50k) and would rather read
# the knowledge base's rows and sort them exactly (200+ ms at 50k); enable_sort = off (SET LOCAL)
# leaves it the ordered HNSW scan (30 ms), and no other plan of this statement avoids its sorts.
_TUNE = ("select set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', %s, true), "
         "set_config('hnsw.max_scan_tuples', '20000', true), set_config('enable_sort', 'off', true)")


async def search(conn, statement: sql.Composed, params: dict) -> list[dict]:
    await conn.execute(_TUNE, [str(max(100, params["n"]))])
    cur = await conn.execute(statement, params)
    return await cur.fetchall()


def search_sync(conn, statement: sql.Composed, params: dict) -> list[dict]:
    conn.execute(_TUNE, [str(max(100, params["n"]))])
    return conn.execute(statement, params).fetchall()


def complete_snapshot_sync(conn, kb_id: UUID, snapshot_id: str) -> int:
    return conn.execute("delete from public.catalog_records where knowledge_base_id = %s "
                        "and snapshot_id is distinct from %s", [kb_id, snapshot_id]).rowcount


# Feeds.
async def put_feed(conn, values: dict) -> dict | None:
    """Create or replace the knowledge base's feed; None when the caller may not (members)."""
    return await core_sql.fetch_one(conn, """
        insert into public.catalog_feeds (organization_id, knowledge_base_id, url, format, interval_s, mapping, active)
        values (%(organization_id)s, %(knowledge_base_id)s, %(url)s, %(format)s, %(interval_s)s, %(mapping)s,
                %(active)s)
        on conflict (knowledge_base_id) do update
           set url = excluded.url, format = excluded.format, interval_s = excluded.interval_s,
               mapping = excluded.mapping, active = excluded.active, next_run_at = now(),
               etag = case when catalog_feeds.url = excluded.url then catalog_feeds.etag end,
               last_modified = case when catalog_feeds.url = excluded.url then catalog_feeds.last_modified end
        returning *""", {**values, "mapping": Jsonb(values["mapping"])})


async def get_feed(conn, kb_id: UUID) -> dict | None:
    return await core_sql.fetch_one(conn, "select * from public.catalog_feeds where knowledge_base_id = %s", [kb_id])


async def delete_feed(conn, kb_id: UUID) -> bool:
    cur = await conn.execute("delete from public.catalog_feeds where knowledge_base_id = %s", [kb_id])
    return cur.rowcount > 0


def get_feed_sync(conn, feed_id: UUID) -> dict | None:
    return conn.execute("select * from public.catalog_feeds where id = %s", [feed_id]).fetchone()


def record_run_sync(conn, feed_id: UUID, status: str, *, error: str | None = None, counts: dict | None = None,
                    etag: str | None = None, last_modified: str | None = None) -> None:
    conn.execute("""
        update public.catalog_feeds
           set last_run_at = now(), last_status = %s, last_error = %s, last_counts = %s,
               etag = coalesce(%s, etag), last_modified = coalesce(%s, last_modified),
               next_run_at = now() + make_interval(secs => interval_s), claimed_until = null
         where id = %s""", [status, error and error[:1000], Jsonb(counts) if counts is not None else None,
                            etag and etag[:500], last_modified and last_modified[:100], feed_id])


def due_feeds_sync(conn, limit: int) -> list[dict]:
    return conn.execute("select * from private.due_catalog_feeds(%s)", [limit]).fetchall()
