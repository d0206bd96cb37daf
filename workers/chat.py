"""Chat tasks (queue `default`): one-line wrappers around api/chat/jobs.py."""
from api.chat import jobs
from api.core import tasks
from workers.celery_app import app

STALE_S = jobs.STALE_S


@app.task(name=tasks.CHAT_ANSWER_QUESTION.name, acks_late=True)
def answer_question(organization_id: str, agent_id: str, conversation_id: str, message_id: str) -> str:
    return jobs.answer_question(organization_id, agent_id, conversation_id, message_id)


@app.task(name=tasks.CHAT_SWEEP.name)
def sweep(stale_s: float = STALE_S, limit: int = 100) -> int:
    return jobs.sweep(stale_s, limit)
