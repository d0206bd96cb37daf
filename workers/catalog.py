"""Catalog task (queue `ingest`, with the other embedding work): embed the records of a
knowledge base whose text changed. Idempotent and safe to run twice at once: rows are read,
embedded with no transaction open (a price update never waits on the model), and a vector is
stored only if the record's text is still the one it was computed from."""
from __future__ import annotations

import logging
from uuid import UUID

from api.catalog import repository
from api.documents.embedders import embedder_for
from workers.celery_app import app
from workers.db import org_transaction

log = logging.getLogger("renum.catalog")
BATCH = 64


@app.task(name="workers.catalog.embed", acks_late=True)
def embed(organization_id: str, knowledge_base_id: str, max_batches: int = 1000) -> int:
    kb_id, done = UUID(knowledge_base_id), 0
    for _ in range(max_batches):
        with org_transaction(organization_id) as session:
            kb = repository.kb_sync(session.conn, kb_id)
            rows = repository.unembedded_sync(session.conn, kb_id, BATCH) if kb else []
        if not rows:
            return done
        embedder = embedder_for(kb["embedding_model"], kb["embedding_dim"])
        vectors = embedder.embed_passages([f"{r['name']}\n{r['description']}".strip() for r in rows])
        with org_transaction(organization_id) as session:
            for row, vector in zip(rows, vectors):
                repository.set_embedding_sync(session.conn, row["id"], vector, kb["embedding_dim"],
                                              row["content_hash"])
        done += len(rows)
    return done
