"""The search SQL of repository.py for sync connections (benchmarks, planner tests, jobs):
the same statement text, and EXPLAIN for the plan tests."""
from __future__ import annotations

from uuid import UUID

from psycopg import sql

from api.search import repository


def load_kbs(conn, kb_ids: list[UUID], org_id: UUID | None) -> list[dict]:
    return conn.execute(repository.KBS, {"kb_ids": list(kb_ids), "org_id": org_id}).fetchall()


def search(conn, statement: sql.Composed, params: dict, *, ef_search: int, max_scan_tuples: int) -> list[dict]:
    conn.execute(repository.TUNE, repository.tune_params(ef_search, max_scan_tuples))
    return conn.execute(statement, params).fetchall()


def explain(conn, statement: sql.Composed, params: dict, *, ef_search: int, max_scan_tuples: int,
            analyze: bool = False) -> str:
    """The plan of a search statement as text (EXPLAIN [ANALYZE]), for tests and benchmarks."""
    conn.execute(repository.TUNE, repository.tune_params(ef_search, max_scan_tuples))
    prefix = sql.SQL("explain (analyze, buffers) " if analyze else "explain ")
    return "\n".join(next(iter(r.values())) for r in conn.execute(prefix + statement, params).fetchall())
