"""Usage (messages, tokens, cost) and performance (latency percentiles) of an organization over a
date range, as the console's charts and a billing export read them."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from api.analytics import pricing, repository
from api.conversations import repository as conversations_repository
from api.core.db import Session
from api.core.errors import Unprocessable

MAX_DAYS = 366
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Range:
    start: date
    end: date
    timezone: str


def date_range(start: date | None, end: date | None, timezone: str) -> Range:
    """Inclusive local dates; the default is the last 30 days up to today in `timezone`."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        raise Unprocessable(f"unknown time zone {timezone!r}: use an IANA name such as 'America/Sao_Paulo'",
                            code="validation_error") from None
    end = end or datetime.now(zone).date()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise Unprocessable("start must not be after end", code="validation_error")
    if (end - start).days + 1 > MAX_DAYS:
        raise Unprocessable(f"the range may cover at most {MAX_DAYS} days", code="validation_error")
    return Range(start, end, timezone)


def _bucket(**keys) -> dict:
    return {**keys, "turns": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}


def _add(bucket: dict, row: dict) -> None:
    bucket["turns"] += row["turns"]
    bucket["prompt_tokens"] += row["prompt_tokens"]
    bucket["completion_tokens"] += row["completion_tokens"]
    bucket["cost_usd"] += pricing.cost(row["model"], row["prompt_tokens"], row["completion_tokens"])


def _add_messages(bucket: dict, row: dict) -> None:
    bucket["user_messages"] = bucket.get("user_messages", 0) + row["user_messages"]
    bucket["assistant_messages"] = bucket.get("assistant_messages", 0) + row["assistant_messages"]


def _finish(bucket: dict) -> dict:
    bucket["total_tokens"] = bucket["prompt_tokens"] + bucket["completion_tokens"]
    bucket["cost_usd"] = round(bucket["cost_usd"], 6)
    if "user_messages" in bucket or "day" in bucket or "agent_id" in bucket:
        bucket.setdefault("user_messages", 0)
        bucket.setdefault("assistant_messages", 0)
        bucket["messages"] = bucket["user_messages"] + bucket["assistant_messages"]
    return bucket


async def usage(session: Session, org_id: UUID, rng: Range) -> dict:
    conn = session.conn
    usage_rows = await repository.chat_usage(conn, org_id, rng.start, rng.end, rng.timezone)
    message_rows = await conversations_repository.message_counts(conn, org_id, rng.start, rng.end, rng.timezone)
    names = await repository.agent_names(conn, org_id)
    total = _bucket(user_messages=0, assistant_messages=0)
    days = {rng.start + timedelta(n): _bucket(day=rng.start + timedelta(n))
            for n in range((rng.end - rng.start).days + 1)}
    agents: dict[UUID | None, dict] = {}
    models: dict[str, dict] = {}
    for row in usage_rows:
        agent = agents.setdefault(row["agent_id"], _bucket(agent_id=row["agent_id"],
                                                           agent_name=names.get(row["agent_id"])))
        model = models.setdefault(row["model"], _bucket(model=row["model"]))
        for bucket in (total, days[row["day"]], agent, model):
            _add(bucket, row)
    for row in message_rows:
        agent = agents.setdefault(row["agent_id"], _bucket(agent_id=row["agent_id"],
                                                           agent_name=names.get(row["agent_id"])))
        for bucket in (total, days[row["day"]], agent):
            _add_messages(bucket, row)
    return {"start": rng.start, "end": rng.end, "timezone": rng.timezone, "totals": _finish(total),
            "by_day": [_finish(b) for b in days.values()],
            "by_agent": sorted((_finish(b) for b in agents.values()), key=lambda b: -b["messages"]),
            "by_model": sorted((_finish(b) for b in models.values()), key=lambda b: -b["turns"])}


def _latency(row: dict, names: dict) -> dict:
    out = {"turns": row["turns"], "latency_p50_ms": row["latency_p50"], "latency_p95_ms": row["latency_p95"],
           "first_token_p50_ms": row["first_token_p50"], "first_token_p95_ms": row["first_token_p95"]}
    if row["dim"] == "day":
        out["day"] = row["day"]
    elif row["dim"] == "agent":
        out.update(agent_id=row["agent_id"], agent_name=names.get(row["agent_id"]))
    elif row["dim"] == "model":
        out["model"] = row["model"]
    return out


async def performance(session: Session, org_id: UUID, rng: Range) -> dict:
    rows = await repository.latency(session.conn, org_id, rng.start, rng.end, rng.timezone)
    names = await repository.agent_names(session.conn, org_id)
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row["dim"]].append(_latency(row, names))
    empty = {"turns": 0, "latency_p50_ms": None, "latency_p95_ms": None, "first_token_p50_ms": None,
             "first_token_p95_ms": None}
    return {"start": rng.start, "end": rng.end, "timezone": rng.timezone,
            "totals": (grouped["total"] or [empty])[0], "by_day": grouped["day"],
            "by_agent": grouped["agent"], "by_model": grouped["model"]}


async def knowledge_gaps(session: Session, org_id: UUID, rng: Range, agent_id: UUID | None, limit: int) -> dict:
    """What customers asked that the agents' knowledge bases did not answer (the answer check said
    so and the agent replied that it did not find it): what to add to the help center."""
    rows, counts = await conversations_repository.knowledge_gaps(session.conn, org_id, rng.start, rng.end,
                                                                 rng.timezone, agent_id, limit)
    names = await repository.agent_names(session.conn, org_id)
    return {"start": rng.start, "end": rng.end, "timezone": rng.timezone, "total": sum(c["count"] for c in counts),
            "by_agent": [c | {"agent_name": names.get(c["agent_id"])} for c in counts],
            "questions": [r | {"agent_name": names.get(r["agent_id"])} for r in rows]}
