"""One chat turn as `begin` hands it to generation (immutable), the result of its first stage,
and its stream events."""
from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from api.chat.lock import ConversationLock
from api.chat.prompt import Prompt
from api.chat.replies import Reply
from api.chat.transactions import Transactions


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
