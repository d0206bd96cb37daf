"""The benchmarks' own embedded Postgres + Redis (.renum/bench, ports 15434/16381), like tests/conftest.py."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from infra import migrate, services

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".renum" / "bench"
PG_PORT = int(os.environ.get("RENUM_BENCH_PG_PORT", "15434"))
REDIS_PORT = int(os.environ.get("RENUM_BENCH_REDIS_PORT", "16381"))


@dataclass(frozen=True)
class Stack:
    admin_url: str  # superuser: create the database, organizations, ANALYZE
    app_url: str  # renum_app: everything a worker or request does, under RLS
    redis_url: str


def start(database: str, *, recreate: bool = True, redis_db: int = 0) -> Stack:
    """Start (or reuse) the services and recreate `database` from the real migrations.

    Sets DATABASE_URL/REDIS_URL before project settings are read, so the ingest pipeline and
    the search service share the bench Redis and its embedding cache (db 0 stays warm across
    runs; pass another, empty, redis_db to measure cold ingest).
    """
    pg = services.start_postgres(BENCH_DIR, PG_PORT)
    admin_url = services.ensure_database(pg, database, recreate=recreate)
    migrate.migrate(admin_url, shim=True)
    redis_url = services.start_redis(BENCH_DIR, REDIS_PORT).rsplit("/", 1)[0] + f"/{redis_db}"
    stack = Stack(admin_url, pg.url(database, user="renum_app"), redis_url)
    os.environ.update(DATABASE_URL=stack.app_url, REDIS_URL=redis_url, MIGRATION_DATABASE_URL=admin_url)
    from api.core.config import get_settings
    get_settings.cache_clear()
    return stack
