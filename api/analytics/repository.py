"""Usage and latency aggregates. Every query filters by organization as well as RLS: a user who
belongs to several organizations sees each one's numbers apart."""
from __future__ import annotations

from datetime import date
from uuid import UUID

from api.core import sql

# Days are counted in the caller's time zone; [start, end] are inclusive local dates.
def _range(alias: str = "") -> str:
    col = f"{alias}created_at"
    return (f"{alias}organization_id = %(org)s and {col} >= (%(start)s::date)::timestamp at time zone %(tz)s "
            f"and {col} < ((%(end)s::date + 1)::timestamp at time zone %(tz)s)")


# The local day of a row: a binary search of its instant among the range's local midnights
# (width_bucket over a sorted array), several times cheaper per row than converting every
# timestamp to local time, and still right across daylight-saving changes.
_DAY = """(%(start)s::date + width_bucket({col}, (
    select array_agg((d::date)::timestamp at time zone %(tz)s order by d)
      from generate_series(%(start)s::date, %(end)s::date, interval '1 day') d)) - 1)"""


def _day(col: str = "created_at") -> str:
    return _DAY.format(col=col)


def _params(org_id: UUID, start: date, end: date, tz: str) -> dict:
    return {"org": org_id, "start": start, "end": end, "tz": tz}


async def chat_usage(conn, org_id: UUID, start: date, end: date, tz: str) -> list[dict]:
    """Answered turns and tokens at the finest grain (day, agent, model); cost is priced per model
    in the service, so the coarser views are sums of these rows."""
    return await sql.fetch_all(conn, f"""
        select {_day()} as day, agent_id, coalesce(model, '') as model,
               count(*)::int as turns, sum(prompt_tokens)::bigint as prompt_tokens,
               sum(completion_tokens)::bigint as completion_tokens
          from public.usage_events
         where kind = 'chat' and {_range()}
         group by 1, 2, 3 order by 1, 2, 3""", _params(org_id, start, end, tz))


async def messages(conn, org_id: UUID, start: date, end: date, tz: str) -> list[dict]:
    """Stored user and assistant messages per (day, agent)."""
    return await sql.fetch_all(conn, f"""
        select {_day('h.created_at')} as day, c.agent_id,
               count(*) filter (where h.role = 'user')::int as user_messages,
               count(*) filter (where h.role = 'assistant')::int as assistant_messages
          from public.conversation_history h
          join public.conversations c on c.id = h.conversation_id
         where {_range('h.')}
           and c.organization_id = %(org)s and h.role in ('user', 'assistant')
         group by 1, 2 order by 1, 2""", _params(org_id, start, end, tz))


async def latency(conn, org_id: UUID, start: date, end: date, tz: str) -> list[dict]:
    """Model latency and time to first token, p50/p95, per day, per agent, per model and overall
    (one scan: grouping sets; `dim` names the grouping of each row)."""
    return await sql.fetch_all(conn, f"""
        select case when grouping(day) = 0 then 'day' when grouping(agent_id) = 0 then 'agent'
                    when grouping(model) = 0 then 'model' else 'total' end as dim,
               day, agent_id, model, count(*)::int as turns,
               percentile_cont(0.5) within group (order by latency_ms) as latency_p50,
               percentile_cont(0.95) within group (order by latency_ms) as latency_p95,
               percentile_cont(0.5) within group (order by first_token_ms) as first_token_p50,
               percentile_cont(0.95) within group (order by first_token_ms) as first_token_p95
          from (select {_day()} as day, agent_id, coalesce(model, '') as model,
                       latency_ms, (metadata ->> 'first_token_ms')::double precision as first_token_ms
                  from public.usage_events
                 where kind = 'chat' and latency_ms is not null and {_range()}) e
         group by grouping sets ((day), (agent_id), (model), ())
         order by dim, day, agent_id, model""", _params(org_id, start, end, tz))


async def agent_names(conn, org_id: UUID) -> dict[UUID, str]:
    rows = await sql.fetch_all(conn, "select id, name from public.agents where organization_id = %s", [org_id])
    return {r["id"]: r["name"] for r in rows}
