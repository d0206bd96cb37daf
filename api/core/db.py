"""Connection pools and the one-transaction-per-request (or task) unit of work.

Every unit of work runs `set_config('role', 'renum_api', true)` and sets
`request.jwt.claims` with is_local=true inside its own transaction, so nothing outlives the
transaction on a pooled connection. `renum_api` is Renum's own role: the Data API's
`authenticated`/`anon` roles that end users' JWTs get can read almost nothing (README,
"Security model"), so the policies that encode the API's rules apply to `renum_api` alone. `prepare_threshold=None` keeps psycopg from creating
server-side prepared statements, which Supavisor's transaction pooling cannot route.
"""
from __future__ import annotations

import json
import logging
import threading
from contextlib import asynccontextmanager, contextmanager
from contextlib import AbstractContextManager
from typing import AsyncIterator, Callable, Iterator
from uuid import UUID

from pgvector.psycopg import register_vector, register_vector_async
from psycopg import AsyncConnection, Connection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from api.core.config import get_settings
from api.core.principal import Principal, org_principal

log = logging.getLogger("renum.db")
API_ROLE = "renum_api"
_SET_CLAIMS = f"select set_config('role', '{API_ROLE}', true), set_config('request.jwt.claims', %s, true)"
# Belt and braces: a connection that somehow carries session-level role/GUCs is cleaned
# before the pool hands it out again.
_RESET = "reset role; reset all"
_CONN_KWARGS = {"prepare_threshold": None, "autocommit": True, "row_factory": dict_row}


async def _configure_async(conn: AsyncConnection) -> None:
    await register_vector_async(conn)


async def _reset_async(conn: AsyncConnection) -> None:
    await conn.execute(_RESET)


def _configure(conn: Connection) -> None:
    register_vector(conn)


def _reset(conn: Connection) -> None:
    conn.execute(_RESET)


def async_pool(url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 30.0) -> AsyncConnectionPool:
    # `check`: a connection broken by a database restart is replaced before a request gets it;
    # `timeout`: how long a request waits for a connection before answering 503.
    return AsyncConnectionPool(url, min_size=min_size, max_size=max_size, kwargs=_CONN_KWARGS,
                               configure=_configure_async, reset=_reset_async, open=False,
                               name="renum-api", timeout=timeout, check=AsyncConnectionPool.check_connection)


def sync_pool(url: str, *, min_size: int = 1, max_size: int = 4) -> ConnectionPool:
    return ConnectionPool(url, min_size=min_size, max_size=max_size, kwargs=_CONN_KWARGS,
                          configure=_configure, reset=_reset, open=False, name="renum-worker",
                          check=ConnectionPool.check_connection)


class Session:
    """A connection inside the request's transaction, plus work to run after it commits."""

    def __init__(self, conn, principal: Principal | None):
        self.conn = conn
        self.principal = principal
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` only once the transaction has committed (e.g. enqueue a Celery task)."""
        self._after_commit.append(fn)

    def run_after_commit(self) -> None:
        for fn in self._after_commit:
            fn()
        self._after_commit.clear()


@asynccontextmanager
async def unit_of_work(pool: AsyncConnectionPool, principal: Principal | None) -> AsyncIterator[Session]:
    """The one way a request opens a transaction (`SessionDep`, chat's `Transactions`): the API
    role with the principal's claims, so RLS decides what it sees. `principal=None` is the
    pre-auth variant, `anon_unit_of_work`."""
    claims = principal.claims if principal is not None else {}
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute(_SET_CLAIMS, [json.dumps(claims)])
            session = Session(conn, principal)
            yield session
    session.run_after_commit()


@contextmanager
def sync_unit_of_work(pool: ConnectionPool, principal: Principal) -> Iterator[Session]:
    with pool.connection() as conn:
        with conn.transaction():
            conn.execute(_SET_CLAIMS, [json.dumps(principal.claims)])
            session = Session(conn, principal)
            yield session
    session.run_after_commit()


_job_pool: ConnectionPool | None = None
_job_pool_lock = threading.Lock()


def job_pool() -> ConnectionPool:
    """The background jobs' sync pool: opened lazily in each worker process (never inherited
    across fork)."""
    global _job_pool
    with _job_pool_lock:
        if _job_pool is None:
            _job_pool = sync_pool(get_settings().database_url, max_size=4)
            _job_pool.open(wait=True, timeout=30)
        return _job_pool


# What a job function takes to open its transactions (job_transaction, or a test's own).
JobTransaction = Callable[["UUID | str | Principal"], AbstractContextManager["Session"]]


@contextmanager
def job_transaction(actor: UUID | str | Principal) -> Iterator[Session]:
    """The one way a background job opens a transaction (the sync twin of a request's
    `unit_of_work`, same role and claims): under RLS as the organization it works for, or, given a
    Principal such as `SCANNER`, as that principal (the sweeps that look across organizations)."""
    principal = actor if isinstance(actor, Principal) else org_principal(UUID(str(actor)), "admin", kind="worker")
    with sync_unit_of_work(job_pool(), principal) as session:
        yield session


@asynccontextmanager
async def anon_unit_of_work(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """For the few pre-auth lookups (API key, channel integration): the API role with no claims,
    so every table policy shows nothing and only the private resolver functions answer. The same
    function as a request's `unit_of_work`, named so a pre-auth path is visible at its call site."""
    async with unit_of_work(pool, None) as session:
        yield session.conn
