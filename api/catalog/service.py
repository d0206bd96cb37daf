"""Catalog knowledge bases: structured records kept in step with a shop's catalog.

Writes go by the customer's external id (one record or batches of up to 1000, optionally as a
named full snapshot whose completion deletes whatever it did not mention). Text changes queue
the record for embedding by the worker (workers.catalog.embed) after commit; attribute changes
(price, stock) are just a row update, visible to the next search. Until a record's new text is
embedded, the vector list uses its previous vector and the text list its new text.
"""
from __future__ import annotations

import asyncio
from uuid import UUID

from api.catalog import repository
from api.catalog.schemas import BulkSync, CatalogSearch, RecordBody
from api.core.db import Session
from api.core import egress
from api.core.errors import Forbidden, NotFound, Unprocessable
from api.core.tasks import CATALOG_EMBED, CATALOG_PULL, enqueue, enqueue_after_commit
from api.knowledge_bases import repository as kb_repository
from api.search.embedding import query_embedder



async def _kb(session: Session, kb_id: UUID) -> dict:
    kb = await kb_repository.get(session.conn, kb_id)
    if kb is None:
        raise NotFound("knowledge base not found")
    return {**kb, "language": str(kb["language"])}


async def put(session: Session, kb_id: UUID, external_id: str, body: RecordBody) -> dict:
    if not external_id or len(external_id) > 200:
        raise Unprocessable("external_id must be 1 to 200 characters")
    await _write(session, kb_id, [{"external_id": external_id, **body.model_dump()}], None)
    return await repository.get(session.conn, kb_id, external_id)


async def sync(session: Session, kb_id: UUID, body: BulkSync) -> dict:
    result = await _write(session, kb_id, [r.model_dump() for r in body.records], body.snapshot_id)
    deleted = await repository.complete_snapshot(session.conn, kb_id, body.snapshot_id) if body.complete else 0
    return {**result, "deleted": deleted}


async def complete_snapshot(session: Session, kb_id: UUID, snapshot_id: str) -> dict:
    await _kb(session, kb_id)
    deleted = await repository.complete_snapshot(session.conn, kb_id, snapshot_id)
    return {"inserted": 0, "updated": 0, "to_embed": 0, "deleted": deleted}


async def _write(session: Session, kb_id: UUID, records: list[dict], snapshot_id: str | None) -> dict:
    kb = await _kb(session, kb_id)
    result = await repository.upsert(session.conn, kb["organization_id"], kb, records, snapshot_id)
    if result["to_embed"]:
        org_id = str(kb["organization_id"])
        session.after_commit(lambda: _enqueue_embedding(org_id, str(kb_id)))
    return result


async def get(session: Session, kb_id: UUID, external_id: str) -> dict:
    await _kb(session, kb_id)
    row = await repository.get(session.conn, kb_id, external_id)
    if row is None:
        raise NotFound("record not found")
    return row


async def delete(session: Session, kb_id: UUID, external_id: str) -> None:
    await _kb(session, kb_id)
    if not await repository.delete(session.conn, kb_id, external_id):
        raise NotFound("record not found")


async def search(session: Session, kb_id: UUID, body: CatalogSearch) -> list[dict]:
    kb = await _kb(session, kb_id)
    embedder = query_embedder(kb["embedding_model"], kb["embedding_dim"])
    vector = await asyncio.to_thread(embedder.embed_query, body.query)
    filters = {name: cond.model_dump(exclude_none=True) if hasattr(cond, "model_dump") else cond
               for name, cond in body.filters.items()}
    statement, params = repository.search_statement(dim=kb["embedding_dim"], kb=kb, query=body.query, vector=vector,
                                                    filters=filters, k=body.k, candidates=body.candidates,
                                                    rrf_k=body.rrf_k)
    rows = await repository.search(session.conn, statement, params)
    return [{"record": r, "rrf": r["rrf"], "vector_rank": r["vector_rank"], "text_rank": r["text_rank"]}
            for r in rows]


def _enqueue_embedding(org_id: str, kb_id: str) -> None:
    try:
        enqueue(CATALOG_EMBED, org_id, kb_id)
    except Exception:  # the records stay queued (embedded_hash differs); the next write enqueues again
        import logging
        logging.getLogger("renum.catalog").exception("could not enqueue %s for knowledge base %s", CATALOG_EMBED.name, kb_id)


async def put_feed(session: Session, kb_id: UUID, body) -> dict:
    """Create or replace the knowledge base's feed (admins); it is pulled within a minute."""
    kb = await _kb(session, kb_id)
    await egress.require_public_url(body.url, "url")
    row = await repository.put_feed(session.conn, {**body.model_dump(), "organization_id": kb["organization_id"],
                                                   "knowledge_base_id": kb_id})
    if row is None:
        raise Forbidden("only admins and owners can configure catalog feeds")
    return row


async def get_feed(session: Session, kb_id: UUID) -> dict:
    await _kb(session, kb_id)
    row = await repository.get_feed(session.conn, kb_id)
    if row is None:
        raise NotFound("this knowledge base has no feed")
    return row


async def delete_feed(session: Session, kb_id: UUID) -> None:
    await get_feed(session, kb_id)
    if not await repository.delete_feed(session.conn, kb_id):
        raise Forbidden("only admins and owners can configure catalog feeds")


async def run_feed(session: Session, kb_id: UUID, *, conditional: bool) -> dict:
    """Pull the feed now (after commit), instead of waiting for its interval."""
    feed = await get_feed(session, kb_id)
    enqueue_after_commit(session, CATALOG_PULL, str(feed["organization_id"]), str(feed["id"]), conditional)
    return feed
