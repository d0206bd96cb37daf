"""Channel tasks (queue `channels`): wrappers around api/channels/jobs.py; a job's RetryLater
becomes a Celery retry with its countdown."""
from api.channels import jobs
from api.core import tasks
from workers.celery_app import app

STALE_S, SWEEP_LIMIT = jobs.STALE_S, jobs.SWEEP_LIMIT


@app.task(name=tasks.CHANNEL_REPLY.name, bind=True, acks_late=True, max_retries=jobs.MAX_RETRIES)
def reply_to_message(self, organization_id: str, event_id: str) -> str:
    try:
        return jobs.reply_to_message(organization_id, event_id, self.request.retries)
    except jobs.RetryLater as later:
        raise self.retry(exc=later.__cause__, countdown=later.countdown) from later.__cause__


@app.task(name=tasks.CHANNELS_SWEEP.name)
def sweep(stale_s: float = STALE_S, limit: int = 200) -> int:
    return jobs.sweep(stale_s, limit)
