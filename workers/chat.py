"""Chat tasks (queue `default`): wrappers around api/chat/jobs.py."""
from __future__ import annotations

import logging
from uuid import UUID

from api.chat import jobs
from api.chat.transactions import Transactions
from api.core import tasks
from api.core.errors import DomainError
from api.core.principal import org_principal
from workers import aio
from workers.celery_app import app

log = logging.getLogger("renum.chat")
STALE_S = jobs.STALE_S


async def _answer(org_id: UUID, agent_id: UUID, conversation_id: UUID, message_id: UUID) -> str:
    tx = Transactions(await aio.db(), org_principal(org_id, "admin", kind="worker"), org_id)
    return await jobs.answer(tx, aio.redis(), agent_id, conversation_id, message_id)


@app.task(name=tasks.CHAT_ANSWER_QUESTION.name, acks_late=True)
def answer_question(organization_id: str, agent_id: str, conversation_id: str, message_id: str) -> str:
    try:
        return aio.run(_answer(UUID(organization_id), UUID(agent_id), UUID(conversation_id), UUID(message_id)))
    except DomainError as exc:  # busy, model down, closed: the next sweep tries again (MAX_SWEEPS)
        log.warning("question %s not answered: %s %s", message_id, exc.code, exc.message)
        return "failed"


@app.task(name=tasks.CHAT_SWEEP.name)
def sweep(stale_s: float = STALE_S, limit: int = 100) -> int:
    return jobs.sweep(stale_s, limit)
