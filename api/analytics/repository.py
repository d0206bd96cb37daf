"""Usage and latency aggregates. Every query filters by organization as well as RLS: a user who
belongs to several organizations sees each one's numbers apart."""
from __future__ import annotations

from datetime import date
from uuid import UUID

from api.core import local_days, sql


async def chat_usage(conn, org_id: UUID, start: date, end: date, tz: str) -> list[dict]:
    """Answered turns and tokens at the finest grain (day, agent, model); cost is priced per model
    in the service, so the coarser views are sums of these rows."""
    return await sql.fetch_all(conn, f"""
        select {local_days.day_of()} as day, agent_id, coalesce(model, '') as model,
               count(*)::int as turns, sum(prompt_tokens)::bigint as prompt_tokens,
               sum(completion_tokens)::bigint as completion_tokens
          from public.usage_events
         where kind = 'chat' and {local_days.in_range()}
         group by 1, 2, 3 order by 1, 2, 3""", local_days.params(org_id, start, end, tz))


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
          from (select {local_days.day_of()} as day, agent_id, coalesce(model, '') as model,
                       latency_ms, (metadata ->> 'first_token_ms')::double precision as first_token_ms
                  from public.usage_events
                 where kind = 'chat' and latency_ms is not null and {local_days.in_range()}) e
         group by grouping sets ((day), (agent_id), (model), ())
         order by dim, day, agent_id, model""", local_days.params(org_id, start, end, tz))


async def agent_names(conn, org_id: UUID) -> dict[UUID, str]:
    rows = await sql.fetch_all(conn, "select id, name from public.agents where organization_id = %s", [org_id])
    return {r["id"]: r["name"] for r in rows}
