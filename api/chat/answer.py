"""Store an answer: the assistant message, its citations and a usage event, in one transaction.

The `message.created` webhook event is written in the same transaction. After it commits: the
memory task and the event's deliveries (after_commit) and the answer's turn in short-term memory.
The unique index on `reply_to` makes this exactly-once even if two sends answered the same
message (a lock that expired mid-generation): the second finds the first's answer and returns it.
"""
from __future__ import annotations

import logging
import time
from functools import partial

import anyio
from uuid import UUID

from api.chat import context, followups, grounding, repository
from api.chat.turn import Reply, Turn
from api.conversations import service as conversations_service
from api.conversations import repository as conversations_repository
from api.core.db import Session
from api.prompts.budget import approx_tokens
from api.webhooks import events as webhook_events

log = logging.getLogger(__name__)


async def store(turn: Turn, text: str, model: str, usage: tuple[int, int] | None, latency_ms: int | None,
                first_token_ms: int | None, fallbacks: int, *, check: grounding.Check | None = None) -> Reply:
    """`usage` is (prompt, completion) tokens as the provider reported them; None = estimate.
    `check`: the local model judged that the knowledge excerpts do not answer (grounding.py): the
    answer is marked so, and cites nothing."""
    target, question, tx = turn.target, turn.question, turn.tx
    estimated = usage is None  # a provider that reports no usage in its stream
    prompt_tokens, completion_tokens = usage or (turn.prompt.tokens, approx_tokens(text))
    usage_row = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
    details = {"usage": usage_row, "latency_ms": latency_ms, "first_token_ms": first_token_ms,
               "fallbacks": fallbacks, "requested_model": target["model"], "usage_estimated": estimated,
               "context_tokens": turn.prompt.tokens, "context_dropped": turn.prompt.dropped}
    if check is not None:
        details["answer_check"] = check.record()
    async with tx() as session:
        answer = await conversations_repository.insert_message(session.conn, {
            "organization_id": tx.org_id, "conversation_id": target["conversation_id"],
            "contact_id": target["contact_id"], "role": "assistant", "content": text,
            "client_message_id": question["client_message_id"], "reply_to": question["id"], "model": model,
            "tokens": completion_tokens, "metadata": details})
        if answer is None:  # a send that took over after our lock expired answered first
            reply = await conversations_repository.find_reply(session.conn, question["id"])
            return await replay(session, question, reply)
        sources = turn.prompt.sources if check is None or check.answerable else []
        citations = await _store_citations(session, tx.org_id, answer["id"], sources)
        await repository.insert_usage(session.conn, {
            "organization_id": tx.org_id, "kind": "chat", "model": model, "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens, "latency_ms": latency_ms, "agent_id": target["agent_id"],
            "conversation_id": target["conversation_id"], "message_id": answer["id"],
            "api_key_id": tx.principal.api_key_id,
            "metadata": {k: details[k] for k in ("first_token_ms", "fallbacks", "requested_model", "usage_estimated")}
            | {"overhead_ms": _overhead_ms(turn, latency_ms), "context_ms": turn.context_ms}})
        await repository.touch_conversation(session.conn, target["conversation_id"])
        await webhook_events.emit(session, tx.org_id, "message.created", {
            "message_id": answer["id"], "conversation_id": target["conversation_id"], "role": "assistant",
            "agent_id": target["agent_id"], "contact_id": target["contact_id"], "channel": target["channel"],
            "reply_to": question["id"], "content": text, "model": model, "created_at": answer["created_at"]})
        if turn.memory:
            session.after_commit(partial(followups.enqueue_memory_update, tx.org_id, target["conversation_id"]))
    await followups.remember_turn(turn.redis, tx.org_id, target["conversation_id"], "assistant", text, answer["id"])
    return stored_reply(question, answer, citations)


async def record_failure(turn: Turn, code: str, message: str, latency_ms: int | None, partial: str = "") -> None:
    """A usage event for a model call that failed (after retries and fallbacks): the prompt was
    sent and, mid-stream, part of an answer generated, which a hosted provider may bill.
    Tokens are estimates (no provider usage arrives on failure); metadata.error says why.
    Best effort: the caller is already answering with an error."""
    tx, target = turn.tx, turn.target
    try:
        with anyio.CancelScope(shield=True):
            async with tx() as session:
                await repository.insert_usage(session.conn, {
                    "organization_id": tx.org_id, "kind": "chat", "model": turn.group,
                    "prompt_tokens": turn.prompt.tokens if turn.prompt else 0,
                    "completion_tokens": approx_tokens(partial) if partial else 0, "latency_ms": latency_ms,
                    "agent_id": target["agent_id"], "conversation_id": target["conversation_id"],
                    "message_id": turn.question["id"], "api_key_id": tx.principal.api_key_id,
                    "metadata": {"failed": True, "error": {"code": code, "message": message[:500]},
                                 "requested_model": target["model"], "usage_estimated": True}})
    except Exception:  # noqa: BLE001 - the database may be what failed; the error answer goes on
        log.warning("could not record the failed call of message %s", turn.question["id"], exc_info=True)


def _overhead_ms(turn: Turn, latency_ms: int | None) -> int:
    """Time this turn spent outside the model so far (lock, storage, context, prompt)."""
    return max(0, int((time.perf_counter() - turn.started) * 1000) - (latency_ms or 0))


async def _store_citations(session: Session, org_id: UUID, message_id: UUID,
                           sources: list[tuple[context.Source, int]]) -> list[dict]:
    rows = await repository.insert_citations(
        session.conn, org_id, message_id,
        [s.id if s.kind == "chunk" else None for s, _ in sources],
        [s.id if s.kind == "memory" else None for s, _ in sources],
        [s.score for s, _ in sources], [rank for _, rank in sources])
    ids = {(r["chunk_id"] or r["memory_id"]): r["id"] for r in rows}
    # Sources deleted while the model generated were not stored: the answer keeps the rest.
    return [{"id": ids[s.id], "kind": s.kind, "rank": rank, "score": s.score, "text": s.text[:500],
             "chunk_id": s.id if s.kind == "chunk" else None, "document_id": s.document_id,
             "document_title": s.title, "memory_id": s.id if s.kind == "memory" else None,
             "memory_kind": s.memory_kind} for s, rank in sources if s.id in ids]


def stored_reply(question: dict, answer: dict, citations: list[dict], *, replayed: bool = False) -> Reply:
    details = answer["metadata"] or {}
    completion = answer["tokens"] or 0
    usage = details.get("usage") or {"prompt_tokens": 0, "completion_tokens": completion, "total_tokens": completion}
    return Reply(conversation_id=answer["conversation_id"], user_message=question,
                 message={**answer, "citations": citations}, citations=citations, usage=usage,
                 model=answer["model"] or "", latency_ms=details.get("latency_ms"),
                 first_token_ms=details.get("first_token_ms"), replayed=replayed)


async def replay(session: Session, question: dict, answer: dict) -> Reply:
    """The answer already stored for a retried message, with the citations stored with it."""
    cited = await conversations_service.citations(session, [answer["id"]])
    return stored_reply(question, answer, cited.get(answer["id"], []), replayed=True)
