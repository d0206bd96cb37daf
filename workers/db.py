"""Per-process sync connection pool and the task unit of work (role + org claims)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator
from uuid import UUID

from psycopg_pool import ConnectionPool

from api.core.config import get_settings
from api.core.db import Session, sync_pool, sync_unit_of_work
from api.core.principal import org_principal

_pool: ConnectionPool | None = None
_lock = threading.Lock()


def pool() -> ConnectionPool:
    """Opened lazily in each worker process (never inherited across fork)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = sync_pool(get_settings().database_url, max_size=4)
            _pool.open(wait=True, timeout=30)
        return _pool


@contextmanager
def org_transaction(org_id: UUID | str) -> Iterator[Session]:
    """A task's transaction, under RLS as the organization it works for."""
    principal = org_principal(UUID(str(org_id)), "admin", kind="worker")
    with sync_unit_of_work(pool(), principal) as session:
        yield session
