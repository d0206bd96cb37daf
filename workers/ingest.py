"""Ingest tasks: process one document version, and re-enqueue documents that got stuck.

Thin on purpose: the work is in api.documents.pipeline, which tests can also call directly.
"""
import logging

import psycopg
import redis
from celery import Task

from api.documents import pipeline
from api.core import tasks
from workers.celery_app import app

log = logging.getLogger("renum.ingest")

# Failures a later attempt can get past: database unreachable, serialization failures and
# deadlocks, pool exhaustion, Redis down, embedding provider rate limits / timeouts / 5xx.
TRANSIENT = (psycopg.OperationalError, redis.ConnectionError, redis.TimeoutError, pipeline.TransientIngestError)
MAX_RETRIES = 5


class IngestTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries exhausted, or an unexpected error: record it on the document (Celery logs the traceback).

        Unreadable documents never get here; the pipeline marks them failed with the reason.
        """
        given = {**dict(zip(("organization_id", "document_id", "version"), args)), **kwargs}
        organization_id, document_id, version = given["organization_id"], given["document_id"], given["version"]
        if isinstance(exc, TRANSIENT):
            message = (f"Processing failed after {self.request.retries + 1} tries because a service it needs "
                       "(database, cache or embedding provider) was unavailable. Reprocess the document to try again.")
        else:
            message = "Processing failed because of an internal error. Reprocess the document to try again."
        try:
            pipeline.fail(organization_id, document_id, int(version), message)
        except psycopg.OperationalError:
            # The database is still down: the document stays `processing`, and the reconciler
            # re-enqueues it later (MAX_ATTEMPTS bounds how often).
            log.exception("could not record the failure of document %s v%s", document_id, version)


@app.task(name=tasks.PROCESS_DOCUMENT.name, base=IngestTask, bind=True, acks_late=True,
          autoretry_for=TRANSIENT, max_retries=MAX_RETRIES,
          retry_backoff=2, retry_backoff_max=300, retry_jitter=True)
def process_document(self, organization_id: str, document_id: str, version: int) -> str:
    return pipeline.process(organization_id, document_id, int(version))


@app.task(name=tasks.INGEST_RECONCILE.name)
def reconcile(older_than_s: float = pipeline.STUCK_AFTER_S) -> int:
    """Re-enqueue documents left queued or processing (lost message, dead worker)."""
    stuck = pipeline.stuck_documents(older_than_s)
    for row in stuck:
        process_document.apply_async(args=[str(row["organization_id"]), str(row["id"]), row["version"]])
    if stuck:
        log.warning("re-enqueued %d stuck documents", len(stuck))
    return len(stuck)
