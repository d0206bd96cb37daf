"""Turn indexing: each user/assistant message becomes a kind='turn' memory with a vector."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from api.conversations import repository_sync as conversations_repository_sync
from api.core.db import Session
from api.embeddings.service import Embedder
from api.memory import repository_sync as repo
from api.memory.rows import load_context, memory_row
from api.memory.scheduling import DEFAULT_EVERY_N_TURNS, DEFAULT_IDLE_S
from api.memory.text import turn_text


@dataclass(frozen=True)
class Plan:
    every_n_turns: int
    idle_s: int


def index_turns(session: Session, conversation_id: UUID, embedder: Embedder) -> int:
    """Embed the conversation's new user/assistant turns as kind='turn' memories.

    Idempotent by message id (unique index): a redelivered task inserts nothing twice."""
    ctx = load_context(session, conversation_id)
    return _index(session, ctx, embedder) if ctx else 0


def _line(turn: dict) -> str:
    return turn_text(turn["role"], turn["content"], (turn["metadata"] or {}).get("speaker"))


def embedding_texts(turns: list[dict], previous: dict | None) -> list[str]:
    """What is embedded for each turn: the turn after the one before it, with speakers.

    A reply ("Yes, last Saturday!") means little alone; with the question it answers it
    matches what the customer later asks about (LoCoMo evidence recall@10 +0.11 on one
    conversation with vectors alone, see BENCHMARKS.md). Only the previous turn is used: the
    next one does not exist yet when a turn is indexed right after its exchange, except for a
    customer message whose reply is in the same batch: then the message shares the reply's text
    (the exchange), so one embedding serves both turns (the embedder computes equal texts once).
    No date: the vector gains nothing from it (retrieval reads dates from `created_at`) and it
    was a third of a short turn's tokens."""
    texts = []
    for turn in turns:
        texts.append(f"{_line(previous)}\n{_line(turn)}" if previous else _line(turn))
        previous = turn
    for i in range(len(turns) - 1):
        if turns[i]["role"] == "user" and turns[i + 1]["role"] == "assistant":
            texts[i] = texts[i + 1]
    return texts


def _index(session: Session, ctx: dict, embedder: Embedder) -> int:
    # ctx["memory_seq"] was read before this query, so recording it below never claims a turn
    # committed after the query as indexed (the sweep would look again, never miss one).
    pending = conversations_repository_sync.unindexed_turns(session.conn, ctx["conversation_id"])
    if not pending:
        repo.mark_indexed(session.conn, ctx["conversation_id"], ctx["memory_seq"])
        return 0
    previous = conversations_repository_sync.turn_before(session.conn, ctx["conversation_id"], pending[0])
    vectors = embedder.embed_passages(embedding_texts(pending, previous))
    # content stays the message itself (what the prompt shows); date and role are columns/metadata.
    rows = [memory_row(ctx, "turn", t["content"], vec, message_id=t["id"], at=t["created_at"], seq=t["seq"],
                        metadata={"message_id": str(t["id"]), "role": t["role"],
                                  "speaker": (t["metadata"] or {}).get("speaker")})
            for t, vec in zip(pending, vectors, strict=True)]
    inserted = repo.insert_turn_memories(session.conn, rows)
    repo.mark_indexed(session.conn, ctx["conversation_id"], ctx["memory_seq"])
    return inserted


def index_turns_and_plan(session: Session, conversation_id: UUID, embedder: Embedder) -> Plan | None:
    """Index new turns and say how this agent consolidates; None when memory is off or the
    conversation no longer exists. Agent settings may override `memory_every_n_turns` and
    `memory_idle_s`."""
    ctx = load_context(session, conversation_id)
    if ctx is None:
        return None
    _index(session, ctx, embedder)
    settings = ctx["settings"] or {}
    return Plan(every_n_turns=int(settings.get("memory_every_n_turns", DEFAULT_EVERY_N_TURNS)),
                idle_s=int(settings.get("memory_idle_s", DEFAULT_IDLE_S)))
