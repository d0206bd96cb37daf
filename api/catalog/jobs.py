"""Catalog background work (queue `ingest`, with the other embedding work): pull due feeds (beat,
every minute) and embed the records of a knowledge base whose text changed. Idempotent and safe
to run twice at once: rows are read, embedded with no transaction open (a price update never
waits on the model), and a vector is stored only if the record's text is still the one it was
computed from. `tx` opens a job transaction (api/core/db.job_transaction); workers/catalog.py
only wraps these functions as Celery tasks."""
from __future__ import annotations

import logging
from uuid import UUID

from api.catalog import feeds, repository
from api.core import tasks
from api.core.db import JobTransaction, job_transaction
from api.core.principal import SCANNER
from api.core.tasks import enqueue
from api.documents.embedders import embedder_for

log = logging.getLogger("renum.catalog")
BATCH = 64


def embed(organization_id: str, knowledge_base_id: str, max_batches: int = 1000, *,
          tx: JobTransaction = job_transaction) -> int:
    kb_id, done = UUID(knowledge_base_id), 0
    for _ in range(max_batches):
        with tx(organization_id) as session:
            kb = repository.kb_sync(session.conn, kb_id)
            rows = repository.unembedded_sync(session.conn, kb_id, BATCH) if kb else []
        if not rows:
            return done
        embedder = embedder_for(kb["embedding_model"], kb["embedding_dim"])
        vectors = embedder.embed_passages([f"{r['name']}\n{r['description']}".strip() for r in rows])
        # One short transaction per record: the worker never holds two row locks, so a concurrent
        # sync or snapshot delete (which lock many rows) cannot deadlock with it.
        for row, vector in zip(rows, vectors):
            with tx(organization_id) as session:
                repository.set_embedding_sync(session.conn, row["id"], vector, kb["embedding_dim"],
                                              row["content_hash"])
        done += len(rows)
    return done


def pull(organization_id: str, feed_id: str, conditional: bool = True, *,
         tx: JobTransaction = job_transaction) -> str:
    """Pull one feed: synced, not_modified, failed or skipped (gone / disabled)."""
    with tx(organization_id) as session:
        feed = repository.get_feed_sync(session.conn, UUID(feed_id))
        kb = feed and repository.kb_sync(session.conn, feed["knowledge_base_id"])
    if not feed or not kb:
        return "skipped"
    try:
        status, body, headers = feeds.fetch(feed, conditional=conditional)
        if status == 304:
            with tx(organization_id) as session:
                repository.record_run_sync(session.conn, feed["id"], "not_modified")
            return "not_modified"
        if status >= 300:
            raise feeds.FeedError(f"the feed answered HTTP {status}")
        records, skipped = feeds.to_records(feeds.parse(body, feed["format"]), feed["mapping"])
        with tx(organization_id) as session:
            counts = feeds.apply(session.conn, feed, {**kb, "language": str(kb["language"])}, records)
            repository.record_run_sync(session.conn, feed["id"], "synced", counts={**counts, "skipped": skipped},
                                       etag=headers.get("etag"), last_modified=headers.get("last-modified"))
    except feeds.FeedError as exc:
        log.warning("catalog feed %s not pulled: %s", feed_id, exc)
        with tx(organization_id) as session:
            repository.record_run_sync(session.conn, feed["id"], "failed", error=str(exc))
        return "failed"
    if counts["to_embed"]:
        enqueue(tasks.CATALOG_EMBED, organization_id, str(kb["id"]))
    return "synced"


def pull_due(limit: int = 100, *, tx: JobTransaction = job_transaction) -> int:
    """Beat: enqueue the feeds whose interval has passed."""
    with tx(SCANNER) as session:
        due = repository.due_feeds_sync(session.conn, limit)
    for row in due:
        enqueue(tasks.CATALOG_PULL, str(row["organization_id"]), str(row["id"]))
    return len(due)
