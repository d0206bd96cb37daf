"""The data of one chat turn: the result of its first stage (`Stored`), the turn as `begin` hands
it to generation (`Turn`, immutable), the stored answer the endpoints return (`Reply`, fresh or
replayed for a retried message) and the stream events."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from redis.asyncio import Redis

from api.chat.lock import ConversationLock
from api.chat.prompt import Prompt
from api.chat.transactions import Transactions


@dataclass(frozen=True)
class Reply:
    conversation_id: UUID
    user_message: dict
    message: dict  # the assistant message row, with its citations
    citations: list[dict]
    usage: dict
    model: str
    latency_ms: int | None
    first_token_ms: int | None
    replayed: bool


@dataclass(frozen=True)
class Stored:
    """What the first transaction decided: the question is stored (or found), or already answered."""
    target: dict  # conversation + agent + contact (api.conversations.repository.chat_target)
    question: dict  # the stored user message
    new_question: bool = False  # stored by this send (not by an earlier, unanswered attempt)
    group: str = ""  # LiteLLM model group to ask (empty when replayed)
    replayed: Reply | None = None  # the answer an earlier attempt got


@dataclass(frozen=True)
class Turn:
    """Everything generation and `answer.store` need; built once, at the end of `begin`."""
    tx: Transactions
    redis: Redis
    lock: ConversationLock
    target: dict
    question: dict
    started: float  # perf_counter when the send arrived (for the overhead metric)
    group: str = ""
    max_tokens: int = 0
    temperature: float = 0.0
    memory: bool = False
    prompt: Prompt | None = None  # None only when replayed
    replayed: Reply | None = None
    context_ms: int = 0  # reading turns, memory and knowledge (embedding the question included)


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    reply: Reply


@dataclass(frozen=True)
class Failed:
    status: int
    code: str
    message: str
