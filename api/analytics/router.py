from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api.analytics import cache, service
from api.analytics.schemas import KnowledgeGapsReport, PerformanceReport, UsageReport
from api.core.deps import OrgId, RedisDep, SessionDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

Start = Annotated[date | None, Query(description="first day (inclusive, in `timezone`); default: 29 days before end")]
End = Annotated[date | None, Query(description="last day (inclusive); default: today")]
Zone = Annotated[str, Query(max_length=64, description="IANA time zone the days are counted in")]
Fresh = Annotated[bool, Query(description=f"bypass the {cache.TTL_S} s cache of identical reports")]


@router.get("/usage", response_model=UsageReport)
async def usage(session: SessionDep, org_id: OrgId, redis: RedisDep, start: Start = None, end: End = None,
                timezone: Zone = "UTC", fresh: Fresh = False):
    """Messages, tokens and estimated cost per day, agent and model over a date range (at most 366 days)."""
    rng = service.date_range(start, end, timezone)
    return await cache.cached(redis, cache.key("usage", org_id, rng.start, rng.end, rng.timezone),
                              lambda: service.usage(session, org_id, rng), fresh=fresh)


@router.get("/performance", response_model=PerformanceReport)
async def performance(session: SessionDep, org_id: OrgId, redis: RedisDep, start: Start = None, end: End = None,
                      timezone: Zone = "UTC", fresh: Fresh = False):
    """Answer latency and time to first token (p50/p95) per day, agent and model over a date range."""
    rng = service.date_range(start, end, timezone)
    return await cache.cached(redis, cache.key("performance", org_id, rng.start, rng.end, rng.timezone),
                              lambda: service.performance(session, org_id, rng), fresh=fresh)


@router.get("/knowledge-gaps", response_model=KnowledgeGapsReport)
async def knowledge_gaps(session: SessionDep, org_id: OrgId, start: Start = None, end: End = None,
                         timezone: Zone = "UTC",
                         agent_id: Annotated[UUID | None, Query(description="only this agent's conversations")] = None,
                         limit: Annotated[int, Query(ge=1, le=500, description="questions listed")] = 100):
    """Customer questions the agents could not answer from their knowledge bases (the local model
    judged the excerpts did not hold the answer), newest first, with the count per agent."""
    rng = service.date_range(start, end, timezone)
    return await service.knowledge_gaps(session, org_id, rng, agent_id, limit)
