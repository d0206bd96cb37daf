"""One chat turn: lock, store the question, gather context, ask the model, store the answer.

Three short transactions, none open while the model generates:
  1. `begin`: load the conversation, replay a retried client_message_id, store the message
     (committed before generation, so a crash or a model outage never loses it);
  2. `begin`: read the context (recent turns, memory, knowledge hits);
  3. `answer.store`: store the answer, its citations and a usage event; after commit,
     short-term memory and the memory task.
The conversation lock is held from `begin` until `complete`/`stream` end, which release it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from uuid import UUID

import anyio
from redis.asyncio import Redis

from api.chat import answer, context, followups, grounding, repository
from api.chat import prompt as chat_prompt
from api.chat.errors import AnswerFailed
from api.chat.lock import ConversationLock
from api.chat.transactions import Transactions
from api.chat.answer import replay
from api.chat.turn import Delta, Done, Failed, Reply, Stored, Turn
from api.conversations import repository as conversations_repository
from api.core import ratelimit
from api.core.config import get_settings
from api.core.db import Session
from api.core.errors import Conflict, DomainError, NotFound
from api.llm import client as llm
from api.llm.errors import LLMError
from api.llm.repetition import collapse
from api.llm.results import PROVIDER_ERRORS, to_domain_error
from api.llm.llama_engine import count_tokens
from api.prompts.budget import approx_tokens
from api.prompts.errors import PromptError

log = logging.getLogger(__name__)


async def begin(tx: Transactions, redis: Redis, agent_id: UUID, conversation_id: UUID, content: str, *,
                client_message_id: str | None = None, turns: list[dict] | None = None,
                instructions: str | None = None, memory: bool = True, max_tokens: int | None = None,
                temperature: float | None = None, contact_limit: bool = True, question_id: UUID | None = None) -> Turn:
    """Everything before the model; raises 404/409/422/429 as HTTP errors before any streaming.

    `contact_limit=False` skips the per-contact message limit, for a contact that stands for
    many people (the OpenAI API's anonymous contact); the key/user/org limits still apply.
    `question_id` answers an already stored message (the unanswered-questions sweep) instead of
    storing `content` as a new one; replayed if it has an answer by now."""
    started = time.perf_counter()
    settings = get_settings()
    lock = ConversationLock(redis, tx.org_id, conversation_id, tx=tx)
    await lock.acquire(settings.chat_lock_wait_s)
    try:
        async with tx() as session:
            stored = await _store_question(session, tx, redis, agent_id, conversation_id, content,
                                           client_message_id, contact_limit, question_id)
        if stored.replayed:
            return Turn(tx, redis, lock, stored.target, stored.question, started, replayed=stored.replayed)
        target = stored.target
        limit = max_tokens or target["max_tokens"]
        if stored.group == llm.LOCAL_MODEL:  # half the local window at most, so a prompt still fits
            limit = min(limit, settings.local_model_ctx // 2)
        use_memory = memory and target["memory_enabled"]
        if stored.new_question:
            await followups.remember_turn(redis, tx.org_id, conversation_id, "user", content, stored.question["id"],
                                          new_conversation=not target["has_messages"])
        gathering = time.perf_counter()
        async with lock.kept_alive(), tx() as session:
            gathered = await context.gather(session, redis, target, stored.question["id"], content,
                                            memory=use_memory, turns=turns)
        context_ms = int((time.perf_counter() - gathering) * 1000)
        # The agent's own template renders in the sandbox (up to a second of interpreter time)
        # and exact token counts are CPU work: neither runs on the event loop.
        built = await anyio.to_thread.run_sync(_build_prompt, stored, limit, content, gathered, instructions)
        return Turn(tx, redis, lock, target, stored.question, started, group=stored.group, max_tokens=limit,
                    temperature=target["temperature"] if temperature is None else temperature,
                    memory=use_memory, prompt=built, context_ms=context_ms)
    except BaseException:
        await lock.release()
        raise


async def _store_question(session: Session, tx: Transactions, redis: Redis, agent_id: UUID, conversation_id: UUID,
                          content: str, client_message_id: str | None, contact_limit: bool,
                          question_id: UUID | None = None) -> Stored:
    target = await conversations_repository.chat_target(session.conn, agent_id, conversation_id)
    if target is None:
        raise NotFound("conversation not found")
    if question_id is not None:
        existing = await conversations_repository.get_user_message(session.conn, conversation_id, question_id)
        if existing is None:
            raise NotFound("message not found")
    else:
        existing = client_message_id and await conversations_repository.find_user_message(
            session.conn, conversation_id, client_message_id)
    if existing:
        if existing["content"] != content:
            raise Conflict("this client_message_id was already used for a different message",
                           code="client_message_id_reused")
        if answer := await conversations_repository.find_reply(session.conn, existing["id"]):
            return Stored(target, existing, replayed=await replay(session, existing, answer))
    if target["status"] != "open":
        raise Conflict("the conversation is closed; open a new one", code="conversation_closed")
    try:
        group = llm.get_router().resolve(target["model"])  # an unknown model fails before anything is stored
    except LLMError as exc:
        raise AnswerFailed(exc, saved=False) from exc
    if existing:  # stored by an earlier attempt that never got its answer: answer it now
        return Stored(target, existing, group=group)
    if contact_limit:
        await ratelimit.hit(redis, f"contact:{target['contact_id']}", get_settings().chat_messages_per_minute)
    row = await conversations_repository.insert_message(session.conn, {
        "organization_id": tx.org_id, "conversation_id": conversation_id, "contact_id": target["contact_id"],
        "role": "user", "content": content, "client_message_id": client_message_id})
    if row is None:  # the same client_message_id was stored concurrently (lock expired meanwhile)
        raise Conflict("this message is already being answered; retry shortly", code="conversation_busy")
    await repository.touch_conversation(session.conn, conversation_id)
    return Stored(target, row, new_question=True, group=group)


def _build_prompt(stored: Stored, max_tokens: int, content: str, gathered: context.Gathered,
                  instructions: str | None) -> chat_prompt.Prompt:
    settings = get_settings()
    budget = settings.context_token_budget
    count = approx_tokens
    if stored.group == llm.LOCAL_MODEL:
        # The local model's window is small: the answer must fit next to the prompt. Its own
        # tokenizer is exact (Portuguese costs more tokens than the 4-chars rule assumes).
        budget = min(budget, settings.local_model_ctx - max_tokens)
        count = count_tokens
    try:
        return chat_prompt.build(stored.target, content, gathered, budget=budget, count=count,
                                 instructions=instructions)
    except PromptError as exc:
        raise AnswerFailed(exc, client_message_id=stored.question["client_message_id"]) from exc
    except PROVIDER_ERRORS as exc:  # the model server (RENUM_LOCAL_MODEL_URL) counts tokens: it is down
        raise AnswerFailed(to_domain_error(exc), client_message_id=stored.question["client_message_id"]) from exc


def _ms(since: float) -> int:
    return int((time.perf_counter() - since) * 1000)


async def _not_found(turn: Turn, checked: grounding.Check) -> Reply:
    """Store "I don't have that information": the local model judged that the knowledge excerpts
    do not answer the question (api/chat/grounding.py)."""
    with anyio.CancelScope(shield=True):
        return await answer.store(turn, grounding.not_found_text(turn.question["content"]), turn.group, None,
                                  checked.ms, checked.ms, 0, check=checked)


async def complete(turn: Turn) -> Reply:
    """The whole answer at once (JSON responses)."""
    try:
        if turn.replayed:
            return turn.replayed
        async with turn.lock.kept_alive():
            checked = await grounding.check(turn.group, turn.prompt, turn.target.get("agent_settings"),
                                            question=turn.question["content"])
            if checked is not None and not checked.answerable:
                return await _not_found(turn, checked)
            calling = time.perf_counter()
            try:
                result = await llm.chat(turn.prompt.messages, turn.group, max_tokens=turn.max_tokens,
                                        temperature=turn.temperature)
            except LLMError as exc:
                await answer.record_failure(turn, exc.code, exc.message, _ms(calling))
                raise AnswerFailed(exc, client_message_id=turn.question["client_message_id"]) from exc
        return await answer.store(turn, result.text, result.model, (result.prompt_tokens, result.completion_tokens),
                                  result.latency_ms, None, result.fallbacks, check=checked)
    finally:
        await turn.lock.release()


async def stream(turn: Turn) -> AsyncIterator[Delta | Done | Failed]:
    """Deltas as the model writes, then Done with the stored answer; Failed instead of raising."""
    try:
        if turn.replayed:
            yield Delta(turn.replayed.message["content"])
            yield Done(turn.replayed)
            return
        parts: list[str] = []
        calling = time.perf_counter()
        async with turn.lock.kept_alive():
            checked = await grounding.check(turn.group, turn.prompt, turn.target.get("agent_settings"),
                                            question=turn.question["content"])
            if checked is not None and not checked.answerable:
                declined = await _not_found(turn, checked)
                yield Delta(declined.message["content"])
                yield Done(declined)
                return
            chat = await llm.chat(turn.prompt.messages, turn.group, stream=True, max_tokens=turn.max_tokens,
                                  temperature=turn.temperature)
            try:
                async for delta in chat:
                    parts.append(delta)
                    yield Delta(delta)
            finally:
                with anyio.CancelScope(shield=True):  # stop the model even if the client left
                    await chat.aclose()
        # Shielded: once the model has answered, the answer and its usage are stored even if
        # the client disconnects now (a retry then gets this answer instead of a new one).
        with anyio.CancelScope(shield=True):
            # A small model's loop is cut by the engine; what went out twice is stored once.
            reply = await answer.store(turn, collapse("".join(parts)), chat.model, chat.usage, chat.latency_ms,
                                       chat.first_token_ms, chat.fallbacks, check=checked)
        yield Done(reply)
    except (LLMError, PromptError) as exc:
        if isinstance(exc, LLMError):
            await answer.record_failure(turn, exc.code, exc.message, _ms(calling), "".join(parts))
        failed = AnswerFailed(exc, client_message_id=turn.question["client_message_id"])
        yield Failed(failed.status_code, failed.code, failed.message)
    except DomainError as exc:
        yield Failed(exc.status_code, exc.code, exc.message)
    except Exception:
        log.exception("chat stream failed for conversation %s", turn.target["conversation_id"])
        yield Failed(500, "internal_error", "internal error; your message was saved")
    finally:
        await turn.lock.release()
