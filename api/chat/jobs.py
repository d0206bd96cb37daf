"""Chat background work: answer customer messages left without an answer.

A message is stored before the model is asked, so an outage (database, model, a process
killed mid-answer) can leave a question without an answer when the client does not retry.
The sweep finds such questions in the database (private.unanswered_questions) and each is
answered through the chat service, exactly like a retried client_message_id: the unique
reply_to index keeps it to one answer, and a question answered meanwhile is replayed.
workers/chat.py only wraps these functions as Celery tasks.
"""
from __future__ import annotations

import logging
from uuid import UUID

from redis.asyncio import Redis

from api.chat import repository_sync as chat_repository_sync
from api.chat import service as chat_service
from api.chat import transactions
from api.chat.transactions import Transactions
from api.conversations import repository as conversations_repository
from api.core import aio, tasks
from api.core.db import JobTransaction, job_transaction
from api.core.errors import DomainError
from api.core.principal import SCANNER
from api.core.tasks import enqueue

log = logging.getLogger("renum.chat")
STALE_S = 120  # older than any answer in progress (the lock's TTL is kept alive while one runs)
MAX_AGE_S = 24 * 3600  # a question older than a day is not answered out of the blue
MAX_SWEEPS = 3


async def answer(tx: Transactions, redis: Redis, agent_id: UUID, conversation_id: UUID, message_id: UUID) -> str:
    """Answer one stored question: answered, replayed (answered meanwhile) or skipped (gone)."""
    async with tx() as session:
        question = await conversations_repository.get_user_message(session.conn, conversation_id, message_id)
    if question is None:
        return "skipped"
    turn = await chat_service.begin(tx, redis, agent_id, conversation_id, question["content"],
                                    question_id=message_id, contact_limit=False)
    reply = await chat_service.complete(turn)
    return "replayed" if reply.replayed else "answered"


def answer_question(organization_id: str, agent_id: str, conversation_id: str, message_id: str) -> str:
    """The task's body: `answer` on the job loop; a busy conversation, a model outage or a closed
    conversation is "failed" (the next sweep tries again, up to MAX_SWEEPS)."""
    async def run() -> str:
        tx = await transactions.for_job(UUID(organization_id))
        return await answer(tx, aio.redis(), UUID(agent_id), UUID(conversation_id), UUID(message_id))
    try:
        return aio.run(run())
    except DomainError as exc:
        log.warning("question %s not answered: %s %s", message_id, exc.code, exc.message)
        return "failed"


def sweep(stale_s: float = STALE_S, limit: int = 100, *, tx: JobTransaction = job_transaction) -> int:
    """Schedule an answer for every stored question that has none."""
    with tx(SCANNER) as session:
        rows = chat_repository_sync.unanswered_questions(session.conn, stale_s, MAX_AGE_S, MAX_SWEEPS, limit)
    for row in rows:
        enqueue(tasks.CHAT_ANSWER_QUESTION, str(row["organization_id"]), str(row["agent_id"]),
                str(row["conversation_id"]), str(row["message_id"]))
    if rows:
        log.warning("chat sweep: answering %d stored questions without an answer", len(rows))
    return len(rows)
