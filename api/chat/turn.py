"""The state of one chat turn between `begin` and the end of generation, and its stream events."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from redis.asyncio import Redis

from api.chat.lock import ConversationLock
from api.chat.prompt import Prompt
from api.chat.replies import Reply
from api.chat.transactions import Transactions


@dataclass
class Turn:
    tx: Transactions
    redis: Redis
    lock: ConversationLock
    target: dict  # conversation + agent + contact (api.conversations.repository.chat_target)
    question: dict  # the stored user message
    new_question: bool = False  # stored by this send (not by an earlier, unanswered attempt)
    group: str = ""  # LiteLLM model group asked
    max_tokens: int = 0
    temperature: float = 0.0
    memory: bool = False
    prompt: Prompt | None = None
    replayed: Reply | None = None
    started: float = field(default_factory=time.perf_counter)
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
