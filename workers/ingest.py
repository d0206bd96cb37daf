"""Ingest tasks (queue `ingest`): Celery wrappers around api/documents/jobs.py."""
from celery import Task

from api.core import tasks
from api.documents import jobs
from workers.celery_app import app

MAX_RETRIES = 5


class IngestTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries exhausted, or an unexpected error: recorded on the document (Celery logs the traceback)."""
        given = {**dict(zip(("organization_id", "document_id", "version"), args)), **kwargs}
        jobs.give_up(given["organization_id"], given["document_id"], int(given["version"]), exc,
                     self.request.retries + 1)


@app.task(name=tasks.PROCESS_DOCUMENT.name, base=IngestTask, bind=True, acks_late=True,
          autoretry_for=jobs.TRANSIENT, max_retries=MAX_RETRIES,
          retry_backoff=2, retry_backoff_max=300, retry_jitter=True)
def process_document(self, organization_id: str, document_id: str, version: int) -> str:
    return jobs.process(organization_id, document_id, int(version))


@app.task(name=tasks.INGEST_RECONCILE.name)
def reconcile(older_than_s: float = jobs.STUCK_AFTER_S) -> int:
    return jobs.reconcile(older_than_s)
