"""Documents of a knowledge base: upload, replace, list, delete, reprocess.

Processing is asynchronous: every change that needs (re)processing commits the documents
row and its bytes first and enqueues `workers.ingest.process_document` only after the
commit, so a worker never looks for a row that is not there yet.

Dedupe: uploading bytes whose sha256 matches a document already in the same knowledge base
returns that document (200) instead of creating a second one, whatever its status, title or
tags; replacing a document's content (PUT) with identical bytes is a no-op (200).
"""
import asyncio
import logging
from uuid import UUID

from kombu.exceptions import OperationalError as BrokerError

from api.core.config import get_settings
from api.core.db import Session
from api.core.errors import Conflict, NotFound
from api.core.pagination import PageParams
from api.core.redis import broker_breaker
from api.core.tasks import PROCESS_DOCUMENT, enqueue
from api.documents import repository
from api.documents.inspect import Inspected, inspect_upload
from api.documents.schemas import NewContent
from api.knowledge_bases import repository as kb_repository
from api.knowledge_bases import service as kb_service

log = logging.getLogger("renum.documents")


async def _inspect(content: NewContent) -> Inspected:
    # Hashing and reading up to max_upload_bytes is CPU work: keep it off the event loop.
    return await asyncio.to_thread(inspect_upload, content.data, content.content_type, content.filename,
                                   get_settings().max_upload_bytes)


async def upload(session: Session, org_id: UUID, kb_id: UUID, content: NewContent) -> tuple[dict, bool]:
    """Store a new document (queued) with its bytes; returns (document, created)."""
    await _kb_of_org(session, org_id, kb_id)
    checked = await _inspect(content)
    conn = session.conn
    await repository.lock_content_hash(conn, kb_id, checked.sha256)
    existing = await repository.find_by_hash(conn, kb_id, checked.sha256)
    if existing is not None:
        return existing, False
    title = content.title or checked.filename or "Untitled document"
    doc = await repository.insert(conn, {
        "organization_id": org_id, "knowledge_base_id": kb_id, "title": title[:500],
        "filename": checked.filename, "content_type": checked.content_type, "source": content.source,
        "size_bytes": checked.size_bytes, "sha256": checked.sha256, "tags": content.tags,
        "metadata": content.metadata})
    await repository.insert_content(conn, doc["id"], doc["version"], org_id, content.data)
    _enqueue_after_commit(session, doc)
    return doc, True


async def replace_content(session: Session, document_id: UUID, content: NewContent) -> tuple[dict, bool]:
    """Store a new version of a document's bytes and queue it; returns (document, changed)."""
    checked = await _inspect(content)  # before taking the row lock: hashing can take a while
    doc = await _get(session, document_id, for_update=True)
    if checked.sha256 == doc["sha256"]:
        return doc, False
    doc = await repository.replace_version(session.conn, document_id, {
        "sha256": checked.sha256, "size_bytes": checked.size_bytes, "content_type": checked.content_type,
        "filename": checked.filename, "title": content.title[:500] if content.title else None})
    await repository.insert_content(session.conn, document_id, doc["version"], doc["organization_id"], content.data)
    # Only the current version's bytes are kept; chunks of the old version stay searchable
    # until the worker swaps in the new ones in a single transaction.
    await repository.delete_older_contents(session.conn, document_id, doc["version"])
    _enqueue_after_commit(session, doc)
    return doc, True


async def get(session: Session, document_id: UUID) -> dict:
    return await _get(session, document_id)


async def list_documents(session: Session, org_id: UUID, kb_id: UUID, params: PageParams,
                         status: str | None) -> list[dict]:
    await _kb_of_org(session, org_id, kb_id)
    return await repository.page(session.conn, org_id, kb_id, params, status)


async def delete(session: Session, document_id: UUID) -> None:
    kb_id = await repository.delete(session.conn, document_id)
    if kb_id is None:
        raise NotFound("document not found")
    # Search results are cached per content_version; the deleted chunks must drop out now.
    await kb_repository.bump_version(session.conn, kb_id)


async def reprocess(session: Session, document_id: UUID) -> dict:
    """Queue the current version again (e.g. after a failure or a chunking change)."""
    doc = await _get(session, document_id, for_update=True)
    if doc["status"] in ("queued", "processing"):
        raise Conflict(f"the document is already {doc['status']}; wait for it to finish")
    doc = await repository.requeue(session.conn, document_id)
    _enqueue_after_commit(session, doc)
    return doc


async def _kb_of_org(session: Session, org_id: UUID, kb_id: UUID) -> dict:
    # RLS already hides other tenants' KBs; this also stops a member of several organizations
    # from filing a document of one organization under another's knowledge base.
    kb = await kb_service.get(session, kb_id)
    if kb["organization_id"] != org_id:
        raise NotFound("knowledge base not found")
    return kb


async def _get(session: Session, document_id: UUID, *, for_update: bool = False) -> dict:
    doc = await repository.get(session.conn, document_id, for_update=for_update)
    if doc is None:
        raise NotFound("document not found")
    return doc


def _enqueue_after_commit(session: Session, doc: dict) -> None:
    args = [str(doc["organization_id"]), str(doc["id"]), doc["version"]]
    session.after_commit(lambda: enqueue_processing(*args))


def enqueue_processing(org_id: str, document_id: str, version: int) -> None:
    if not broker_breaker().closed:  # Redis (the broker) failed moments ago: the reconciler enqueues it
        log.warning("broker unavailable: document %s v%s left to the reconciler", document_id, version)
        return
    try:
        enqueue(PROCESS_DOCUMENT, org_id, document_id, version)
    except BrokerError:
        # The document is durably queued; failing the request now would make the client
        # retry an upload that already succeeded. The reconciler (workers.ingest.reconcile)
        # re-enqueues documents left queued, so log loudly and carry on.
        log.exception("could not enqueue %s for document %s v%s; the reconciler will retry",
                      PROCESS_DOCUMENT.name, document_id, version)
