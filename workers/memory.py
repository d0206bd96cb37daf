"""Memory tasks (queue `memory`): Celery wrappers around api/memory/jobs.py.

acks_late everywhere: a job is idempotent, so a redelivery after a lost worker is safe. A model
that is down (after the LLM client's own retries and fallbacks) is retried later.
"""
from __future__ import annotations

from api.core import tasks
from api.llm.errors import LLMError
from api.memory import jobs
from workers.celery_app import app

_LLM_RETRY = {"autoretry_for": (LLMError,), "retry_backoff": 30, "retry_backoff_max": 600, "max_retries": 5}


@app.task(name=tasks.MEMORY_INDEX_TURNS.name, acks_late=True)
def index_turns(organization_id: str, conversation_id: str) -> int:
    return jobs.index_turns(organization_id, conversation_id)


@app.task(name=tasks.MEMORY_SUMMARIZE.name, acks_late=True, **_LLM_RETRY)
def summarize_conversation(organization_id: str, conversation_id: str) -> bool:
    return jobs.summarize(organization_id, conversation_id)


@app.task(name=tasks.MEMORY_EXTRACT_FACTS.name, acks_late=True, **_LLM_RETRY)
def extract_facts(organization_id: str, conversation_id: str) -> int:
    return jobs.extract_facts(organization_id, conversation_id)


@app.task(name=tasks.MEMORY_AFTER_TURN.name, acks_late=True)
def after_turn(organization_id: str, conversation_id: str) -> None:
    jobs.after_turn(organization_id, conversation_id)


@app.task(name=tasks.MEMORY_CONSOLIDATE_IF_IDLE.name, acks_late=True)
def consolidate_if_idle(organization_id: str, conversation_id: str, token: str) -> bool:
    return jobs.consolidate_if_idle(organization_id, conversation_id, token)


@app.task(name=tasks.MEMORY_SWEEP.name)
def sweep() -> int:
    return jobs.sweep()


@app.task(name=tasks.MEMORY_CATCH_UP.name, acks_late=True)
def catch_up(organization_id: str, conversation_id: str, summarize: bool) -> int:
    return jobs.catch_up(organization_id, conversation_id, summarize)


@app.task(name=tasks.MEMORY_RETENTION.name, acks_late=True)
def apply_retention() -> dict:
    return jobs.apply_retention()
