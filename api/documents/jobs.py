"""The ingest pipeline: bytes -> text -> chunks -> vectors -> rows, and the reconciler that
re-enqueues documents left queued or processing. workers/ingest.py only wraps these as tasks.

Idempotent per (document id, version): a delivery for a replaced, deleted, ready or failed
document does nothing, and the final write replaces every chunk of the document in one
transaction, so a retried or duplicated task can never leave two versions' chunks side by
side. Each step runs in its own short transaction; nothing holds a transaction open while
text is extracted or embedded.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

import psycopg
import redis

from api.core import tasks
from api.core.config import get_settings
from api.core.db import JobTransaction, job_transaction
from api.core.principal import SCANNER
from api.core.tasks import enqueue
from api.documents import lease
from api.documents import repository_sync as repo
from api.documents.chunking import Chunk, chunk_document
from api.documents.embedders import embedder_for
from api.documents.errors import DocumentError
from api.documents.extract import extract_text
from api.embeddings.errors import EmbeddingError, UnknownEmbeddingModel
from api.webhooks import events as webhook_events

log = logging.getLogger("renum.ingest")
# A document whose processing started this many times (retries and redeliveries after
# crashes together) is failed for good instead of being tried forever.
MAX_ATTEMPTS = 8
# Queued documents untouched this long are re-enqueued by the reconciler; processing ones as
# soon as their lease (api/documents/lease.py) has expired.
STUCK_AFTER_S = 600
# Progress reported once text is extracted and chunked; embedding fills the rest up to 1.
_CHUNKED = 0.1


class TransientIngestError(Exception):
    """A failure a later attempt may not hit (provider rate limit, timeout, 5xx): retry with backoff."""


# Failures a later attempt can get past: database unreachable, serialization failures and
# deadlocks, pool exhaustion, Redis down, embedding provider rate limits / timeouts / 5xx.
TRANSIENT = (psycopg.OperationalError, redis.ConnectionError, redis.TimeoutError, TransientIngestError)


@dataclass
class Job:
    org_id: str
    doc: dict
    data: bytes
    tx: JobTransaction


def process(org_id: str, document_id: str, version: int, *, tx: JobTransaction = job_transaction) -> str:
    """Run one delivery; returns what happened: ready, failed, skipped or superseded."""
    job = _claim(org_id, UUID(document_id), version, tx)
    if job is None:
        return "skipped"
    with lease.heartbeat(lambda: _renew(job)):
        return _process(job, org_id, document_id, version)


def _renew(job: Job) -> bool:
    with job.tx(job.org_id) as session:
        return repo.renew_lease(session.conn, job.doc["id"], job.doc["version"], lease.lease_s())


def _process(job: Job, org_id: str, document_id: str, version: int) -> str:
    doc = job.doc
    try:
        extracted = extract_text(job.data, doc["content_type"], doc["filename"] or "")
        chunks = chunk_document(extracted)
    except DocumentError as exc:
        log.warning("document %s v%s cannot be read: %s", doc["id"], version, exc.code)
        fail(org_id, document_id, version, exc.message, tx=job.tx)
        return "failed"
    try:
        embedder = embedder_for(doc["embedding_model"], doc["embedding_dim"])
    except (UnknownEmbeddingModel, ValueError):
        log.exception("no embedder for KB model %s/%s", doc["embedding_model"], doc["embedding_dim"])
        fail(org_id, document_id, version, tx=job.tx, message=f"The knowledge base's embedding model {doc['embedding_model']!r} "
                                           "is not available on this server.")
        return "failed"
    vectors = _embed(job, embedder, chunks)
    if vectors is None:
        return "superseded"
    return _write(job, chunks, vectors)


def _claim(org_id: str, document_id: UUID, version: int, tx: JobTransaction) -> Job | None:
    with tx(org_id) as session:
        doc = repo.lock_document(session.conn, document_id)
        if doc is None or doc["version"] != version or doc["status"] not in ("queued", "processing"):
            # Deleted, replaced by a newer version, or already finished by another delivery.
            return None
        if doc["attempts"] >= MAX_ATTEMPTS:
            _mark_failed(session, doc, f"Processing was abandoned after {doc['attempts']} attempts. "
                                       "Reprocess the document to try again.")
            return None
        data = repo.content(session.conn, document_id, version)
        if data is None:
            _mark_failed(session, doc, "The uploaded file is missing; upload it again.")
            return None
        repo.mark_processing(session.conn, document_id, lease.lease_s())
    return Job(org_id, doc, data, tx)


def _embed(job: Job, embedder, chunks: list[Chunk]) -> list | None:
    doc = job.doc
    if not _progress(job, _CHUNKED):
        return None
    batch = get_settings().embedding_batch_size
    vectors: list = []
    for start in range(0, len(chunks), batch):
        texts = [c.text for c in chunks[start:start + batch]]
        try:
            vectors.extend(embedder.embed(texts, "passage").vectors)
        except EmbeddingError as exc:
            if exc.retryable:
                raise TransientIngestError(exc.message) from exc
            log.warning("embedding failed for document %s v%s: %s", doc["id"], doc["version"], exc.code)
            fail(job.org_id, str(doc["id"]), doc["version"], exc.message, tx=job.tx)
            return None
        # Each batch is reported in its own short transaction; a replaced or deleted document
        # stops here instead of embedding the rest for nothing.
        if not _progress(job, _CHUNKED + (1 - _CHUNKED) * 0.95 * len(vectors) / len(chunks)):
            return None
    return vectors


def _progress(job: Job, value: float) -> bool:
    with job.tx(job.org_id) as session:
        return repo.set_progress(session.conn, job.doc["id"], job.doc["version"], round(value, 4))


def _write(job: Job, chunks: list[Chunk], vectors: list) -> str:
    doc = job.doc
    rows = [(c.ordinal, c.text, c.token_count, c.page, c.content_hash,
             {"start": c.start, "end": c.end, "page_end": c.page_end}, v) for c, v in zip(chunks, vectors)]
    with job.tx(job.org_id) as session:
        current = repo.lock_document(session.conn, doc["id"])
        if current is None or current["version"] != doc["version"] or current["status"] != "processing":
            return "superseded"
        count = repo.replace_chunks(session.conn, current, rows)
        repo.mark_ready(session.conn, doc["id"], count)
        repo.bump_kb_version(session.conn, doc["knowledge_base_id"])
        _emit(session, current, "document.ready", chunk_count=count)
    log.info("document %s v%s ready: %d chunks", doc["id"], doc["version"], count)
    return "ready"


def fail(org_id: str, document_id: str, version: int, message: str, *,
         tx: JobTransaction = job_transaction) -> bool:
    """Record why the current version cannot be processed (no-op if it was replaced meanwhile)."""
    with tx(org_id) as session:
        doc = repo.lock_document(session.conn, UUID(str(document_id)))
        return doc is not None and doc["version"] == version and _mark_failed(session, doc, message)


def _mark_failed(session, doc: dict, message: str) -> bool:
    """Fail the document's current version and emit document.failed, in the same transaction."""
    if not repo.mark_failed(session.conn, doc["id"], doc["version"], message):
        return False
    _emit(session, doc, "document.failed", error=message)
    return True


def _emit(session, doc: dict, event_type: str, **extra) -> None:
    webhook_events.emit_sync(session, doc["organization_id"], event_type, {
        "document_id": doc["id"], "knowledge_base_id": doc["knowledge_base_id"], "version": doc["version"],
        "title": doc["title"], "status": event_type.removeprefix("document."), **extra})


def failure_message(exc: BaseException, tries: int) -> str:
    """What a document whose task gave up says (retries exhausted, or an unexpected error)."""
    if isinstance(exc, TRANSIENT):
        return (f"Processing failed after {tries} tries because a service it needs (database, cache or "
                "embedding provider) was unavailable. Reprocess the document to try again.")
    return "Processing failed because of an internal error. Reprocess the document to try again."


def give_up(org_id: str, document_id: str, version: int, exc: BaseException, tries: int, *,
            tx: JobTransaction = job_transaction) -> None:
    """Record on the document that its task gave up. Unreadable documents never get here: the
    pipeline marks them failed with the reason."""
    try:
        fail(org_id, document_id, version, failure_message(exc, tries), tx=tx)
    except psycopg.OperationalError:
        # The database is still down: the document stays `processing`, and the reconciler
        # re-enqueues it later (MAX_ATTEMPTS bounds how often).
        log.exception("could not record the failure of document %s v%s", document_id, version)


def stuck_documents(older_than_s: float = STUCK_AFTER_S, limit: int = 500, *,
                    tx: JobTransaction = job_transaction) -> list[dict]:
    """(organization_id, id, version) of every tenant's stuck documents, each re-stamped as handled."""
    with tx(SCANNER) as session:
        return repo.stuck_documents(session.conn, older_than_s, limit)


def reconcile(older_than_s: float = STUCK_AFTER_S, *, tx: JobTransaction = job_transaction) -> int:
    """Re-enqueue documents left queued or processing (lost message, dead worker, expired lease)."""
    stuck = stuck_documents(older_than_s, tx=tx)
    for row in stuck:
        enqueue(tasks.PROCESS_DOCUMENT, str(row["organization_id"]), str(row["id"]), row["version"])
    if stuck:
        log.warning("re-enqueued %d stuck documents", len(stuck))
    return len(stuck)
