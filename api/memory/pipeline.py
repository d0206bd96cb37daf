"""Summaries, facts and retention, as sync functions over a task Session (workers/memory.py).
Turn indexing is in api/memory/indexing.py.

Jobs that need the LLM are split: `*_job` reads what the prompt needs in one transaction,
the task calls the model with no transaction open, and `store_*` writes in a second one.

Memory writes embed with the plain (uncached) embedder: a turn is embedded once, and
keeping personal text out of the shared Redis embedding cache keeps erasure simple.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

import numpy as np

from api.conversations import repository_sync as conversations_repository_sync
from api.core.db import Session
from api.memory import repository_sync as repo
from api.memory.facts import fact_text
from api.memory.rows import load_context, memory_row
from api.memory.models import ExtractedFact
from api.memory.text import normalize_value
from api.prompts import service as prompts

SUMMARY_MAX_TOKENS = 256
FACTS_MAX_TOKENS = 384
# Turns shown to the model; the local model has a 4k context, and ~4 chars make a token.
LLM_TURNS = 40
LLM_PROMPT_CHARS = 9000
TURN_CHARS = 800


@dataclass(frozen=True)
class LLMJob:
    organization_id: UUID
    contact_id: UUID
    agent_id: UUID
    conversation_id: UUID
    model: str
    messages: list[dict]
    turns: int
    customer_text: str = ""  # what the customer wrote in the turns the prompt shows (facts are checked against it)
    known_facts: dict[str, str] = field(default_factory=dict)  # the contact's current facts, key -> value


def _prompt_turns(rows: list[dict]) -> list[dict]:
    """Newest turns that fit the prompt, oldest first, each cut to TURN_CHARS."""
    kept, used = [], 0
    for row in reversed(rows):
        content = row["content"][:TURN_CHARS]
        used += len(content) + 12
        if kept and used > LLM_PROMPT_CHARS:
            break
        kept.append({"role": "customer" if row["role"] == "user" else "assistant", "content": content})
    return kept[::-1]


def _job(ctx: dict, prompt: str, turns: int, customer_text: str = "", known_facts: dict | None = None) -> LLMJob:
    model = (ctx["settings"] or {}).get("memory_model") or ctx["model"]
    return LLMJob(organization_id=ctx["organization_id"], contact_id=ctx["contact_id"], agent_id=ctx["agent_id"],
                  conversation_id=ctx["conversation_id"], model=model,
                  messages=[{"role": "user", "content": prompt}], turns=turns, customer_text=customer_text,
                  known_facts=known_facts or {})


def summary_job(session: Session, conversation_id: UUID) -> LLMJob | None:
    ctx = load_context(session, conversation_id)
    if ctx is None:
        return None
    rows = conversations_repository_sync.recent_turns(session.conn, conversation_id, LLM_TURNS)
    if not rows:  # nothing to summarize (e.g. retention removed the turns): no longer due
        repo.mark_summarized(session.conn, conversation_id)
        return None
    # A conversation longer than what fits builds on its previous summary.
    previous = None
    if conversations_repository_sync.count_turns(session.conn, conversation_id) > len(rows):
        previous = (repo.current_summary(session.conn, conversation_id) or {}).get("content")
    prompt = prompts.render("summarize_session", turns=_prompt_turns(rows), previous_summary=previous)
    return _job(ctx, prompt, len(rows))


def store_summary(session: Session, job: LLMJob, text: str, vector: np.ndarray | None) -> bool:
    """Replace the conversation's summary (delete + insert in this transaction)."""
    text = text.strip()
    if not text or vector is None or load_context(session, job.conversation_id) is None:
        return False
    ctx = {"organization_id": job.organization_id, "contact_id": job.contact_id, "agent_id": job.agent_id,
           "conversation_id": job.conversation_id}
    repo.delete_summaries(session.conn, job.conversation_id)
    repo.insert_memory(session.conn, memory_row(ctx, "summary", text, vector,
                                                 metadata={"turns": job.turns, "model": job.model}))
    repo.mark_summarized(session.conn, job.conversation_id)
    return True


def facts_job(session: Session, conversation_id: UUID) -> LLMJob | None:
    ctx = load_context(session, conversation_id)
    if ctx is None:
        return None
    rows = conversations_repository_sync.recent_turns(session.conn, conversation_id, LLM_TURNS)
    if not any(r["role"] == "user" for r in rows):
        return None
    known = [{"key": f["key"], "value": f["value"]} for f in repo.current_facts(session.conn, ctx["contact_id"])]
    shown = _prompt_turns(rows)
    prompt = prompts.render("extract_facts", turns=shown, known_facts=known or None)
    return _job(ctx, prompt, len(rows), "\n".join(t["content"] for t in shown if t["role"] == "customer"),
                {f["key"]: f["value"] for f in known if f["value"]})


def store_facts(session: Session, job: LLMJob, facts: list[ExtractedFact], vectors: list[np.ndarray]) -> int:
    """Write facts: a new key inserts, the same value refreshes, a different value supersedes
    the current fact (valid_to = now, superseded_by = new) instead of duplicating it, and the
    turns that stated the old value are marked outdated by the new fact (outdate_turns)."""
    if not facts or load_context(session, job.conversation_id) is None:
        return 0
    repo.lock_contact_facts(session.conn, job.contact_id)
    current = {f["key"]: f for f in repo.current_facts(session.conn, job.contact_id)}
    ctx = {"organization_id": job.organization_id, "contact_id": job.contact_id, "agent_id": job.agent_id,
           "conversation_id": job.conversation_id}
    written = 0
    for fact, vector in zip(facts, vectors, strict=True):
        old = current.get(fact.key)
        if old is not None and normalize_value(old["value"] or "") == normalize_value(fact.value):
            repo.refresh_fact(session.conn, old["id"], fact.confidence, job.conversation_id)
            written += 1
            continue
        if old is not None:
            repo.close_fact(session.conn, old["id"])  # first: one current fact per key
        new = repo.insert_memory(session.conn, memory_row(
            ctx, "fact", fact_text(fact), vector, key=fact.key, confidence=fact.confidence,
            metadata={"value": fact.value, **({"supersedes": str(old["id"])} if old else {})}))
        if old is not None:
            repo.link_superseded(session.conn, old["id"], new["id"])
            outdate_turns(session, job.contact_id, old["value"] or "", fact.value, new["id"])
        written += 1
    return written


# Values this short ("sim", "ok", "2") would mark unrelated turns as outdated.
MIN_OUTDATED_VALUE_CHARS = 3


def _mentions(text: str, value: str) -> bool:
    return f" {value} " in f" {normalize_value(text)} "


def outdate_turns(session: Session, contact_id: UUID, old_value: str, new_value: str, fact_id: UUID) -> int:
    """Carry a fact's supersession to the turns that stated the old value: "Meu endereço é Rua A"
    is outdated once "me mudei, agora é Rua B" replaced the address fact. Retrieval ranks such
    turns below newer ones when the customer asks what is true now, and above them when they ask
    what it was before (api/memory/repository.py). A turn stating both values (the change itself)
    is not outdated. Matching is by the normalized value as a whole-word substring, so an old
    value the model paraphrased outdates nothing (the turn keeps its rank, as before)."""
    old, new = normalize_value(old_value), normalize_value(new_value)
    if len(old) < MIN_OUTDATED_VALUE_CHARS:
        return 0
    ids = [t["id"] for t in repo.contact_turns(session.conn, contact_id)
           if _mentions(t["content"], old) and not (new and _mentions(t["content"], new))]
    return repo.outdate_turns(session.conn, ids, fact_id)


def retention_targets(conn) -> list[dict]:
    return repo.retention_targets(conn)


def apply_retention(session: Session, agent_id: UUID, days: int) -> tuple[int, int]:
    """Delete the agent's turns and memories older than `days`; returns (messages, memories).
    Turn memories of deleted messages go with them (foreign key cascade)."""
    memories = repo.delete_memories_before(session.conn, agent_id, days)
    messages = conversations_repository_sync.delete_history_before(session.conn, agent_id, days)
    return messages, memories
