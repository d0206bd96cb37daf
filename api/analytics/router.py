from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.analytics import service
from api.analytics.schemas import PerformanceReport, UsageReport
from api.core.deps import OrgId, SessionDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

Start = Annotated[date | None, Query(description="first day (inclusive, in `timezone`); default: 29 days before end")]
End = Annotated[date | None, Query(description="last day (inclusive); default: today")]
Zone = Annotated[str, Query(max_length=64, description="IANA time zone the days are counted in")]


@router.get("/usage", response_model=UsageReport)
async def usage(session: SessionDep, org_id: OrgId, start: Start = None, end: End = None, timezone: Zone = "UTC"):
    """Messages, tokens and estimated cost per day, agent and model over a date range (at most 366 days)."""
    return await service.usage(session, org_id, service.date_range(start, end, timezone))


@router.get("/performance", response_model=PerformanceReport)
async def performance(session: SessionDep, org_id: OrgId, start: Start = None, end: End = None,
                      timezone: Zone = "UTC"):
    """Answer latency and time to first token (p50/p95) per day, agent and model over a date range."""
    return await service.performance(session, org_id, service.date_range(start, end, timezone))
