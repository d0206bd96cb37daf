"""Short units of work for chat, which cannot use the request's single transaction.

A chat turn commits the customer's message before the model starts, reads its context in a
second transaction and stores the answer in a third: a transaction (and its pooled
connection) is never held open while a model generates for seconds or minutes.
"""
from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from api.core import aio
from api.core.db import Session, unit_of_work
from api.core.principal import Principal, org_principal


@dataclass(frozen=True)
class Transactions:
    pool: AsyncConnectionPool
    principal: Principal
    org_id: UUID  # the organization the request acts for (already checked against the principal)

    def __call__(self) -> AbstractAsyncContextManager[Session]:
        """A new transaction as the caller, under RLS; commits when the block exits cleanly."""
        return unit_of_work(self.pool, self.principal)


async def for_job(org_id: UUID) -> Transactions:
    """A background job's transactions as its organization, on the job thread's async pool
    (api/core/aio.py): the chat service's own units of work, from a Celery task."""
    return Transactions(await aio.db(), org_principal(org_id, "admin", kind="worker"), org_id)
