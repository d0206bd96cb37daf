"""Channel SQL for the workers (sync psycopg): the stalled-message sweep."""
from __future__ import annotations


def stalled_events(conn, stale_s: float, min_gap_s: float, max_sweeps: int, limit: int) -> list[dict]:
    """Inbound messages still unanswered after `stale_s`: (organization_id, id, status); status
    'failed' for those that used up their `max_sweeps` re-enqueues."""
    return conn.execute("select * from private.stalled_channel_events(make_interval(secs => %s), "
                        "make_interval(secs => %s), %s, %s)", [stale_s, min_gap_s, max_sweeps, limit]).fetchall()
