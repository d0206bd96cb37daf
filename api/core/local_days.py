"""Per-day aggregates over a date range in the caller's time zone: the SQL fragments and the
named parameters (org, start, end, tz) shared by the repositories that count per local day
(analytics' usage and latency, the conversations' message counts). Days are counted in the
caller's time zone; [start, end] are inclusive local dates."""
from __future__ import annotations

from datetime import date
from uuid import UUID


def in_range(alias: str = "") -> str:
    col = f"{alias}created_at"
    return (f"{alias}organization_id = %(org)s and {col} >= (%(start)s::date)::timestamp at time zone %(tz)s "
            f"and {col} < ((%(end)s::date + 1)::timestamp at time zone %(tz)s)")


# The local day of a row: a binary search of its instant among the range's local midnights
# (width_bucket over a sorted array), several times cheaper per row than converting every
# timestamp to local time, and still right across daylight-saving changes.
_DAY = """(%(start)s::date + width_bucket({col}, (
    select array_agg((d::date)::timestamp at time zone %(tz)s order by d)
      from generate_series(%(start)s::date, %(end)s::date, interval '1 day') d)) - 1)"""


def day_of(col: str = "created_at") -> str:
    return _DAY.format(col=col)


def params(org_id: UUID, start: date, end: date, tz: str) -> dict:
    return {"org": org_id, "start": start, "end": end, "tz": tz}
