"""Chat SQL for the workers' sync connections (the beat sweep)."""
from __future__ import annotations


def unanswered_questions(conn, stale_s: float, max_age_s: float, max_sweeps: int, limit: int) -> list[dict]:
    """Latest customer messages of every tenant still without an answer (see the migration);
    each returned one is stamped, so it is scheduled at most once per `stale_s`."""
    return conn.execute(
        "select * from private.unanswered_questions(make_interval(secs => %s), make_interval(secs => %s), %s, %s)",
        [stale_s, max_age_s, max_sweeps, limit]).fetchall()
