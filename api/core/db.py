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
from contextlib import asynccontextmanager, contextmanager
from typing import AsyncIterator, Callable, Iterator

from pgvector.psycopg import register_vector, register_vector_async
from psycopg import AsyncConnection, Connection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from api.core.principal import Principal

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

    def __init__(self, conn, principal: Principal):
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
async def unit_of_work(pool: AsyncConnectionPool, principal: Principal) -> AsyncIterator[Session]:
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute(_SET_CLAIMS, [json.dumps(principal.claims)])
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


@asynccontextmanager
async def anon_unit_of_work(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """For the few pre-auth lookups (API key, channel integration): the API role with no claims,
    so every table policy shows nothing and only the private resolver functions answer."""
    async with pool.connection() as conn:
        async with conn.transaction():
            await conn.execute(_SET_CLAIMS, ["{}"])
            yield conn
