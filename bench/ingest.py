"""Ingest a BEIR corpus into one knowledge base through the real ingest pipeline.

Each corpus document is stored the way the upload endpoint stores a text/plain file of
"title\\n\\ntext" (a queued documents row plus its bytes), then `api.documents.jobs.process`
runs exactly what the Celery ingest task runs: extract, chunk, embed with the KB's model behind
the Redis embedding cache, COPY the chunks, mark ready, bump the KB's content_version.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from api.core.db import sync_unit_of_work
from bench import repository

_UPLOAD_BATCH = 200


@dataclass
class IngestStats:
    docs: int = 0
    chunks: int = 0
    upload_seconds: float = 0.0
    pipeline_seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    # document uuid (as str) -> corpus doc id, to score rankings against the qrels
    doc_ids: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict:
        return {"docs": self.docs, "chunks": self.chunks, "outcomes": self.statuses,
                "upload_seconds": round(self.upload_seconds, 1), "pipeline_seconds": round(self.pipeline_seconds, 1),
                "docs_per_s": round(self.docs / self.pipeline_seconds, 2) if self.pipeline_seconds else None,
                "chunks_per_s": round(self.chunks / self.pipeline_seconds, 2) if self.pipeline_seconds else None}


def document_body(doc: dict) -> bytes:
    return (f"{doc['title']}\n\n{doc['text']}" if doc.get("title") else doc["text"]).encode()


def ingest(pool, principal, kb: dict, corpus: dict[str, dict], *, progress=None) -> IngestStats:
    from api.documents import jobs as ingest_jobs  # reads settings: import once the bench stack's URLs are set
    stats = IngestStats()
    items = list(corpus.items())
    started = time.perf_counter()
    for start in range(0, len(items), _UPLOAD_BATCH):
        with sync_unit_of_work(pool, principal) as session:
            for corpus_id, doc in items[start:start + _UPLOAD_BATCH]:
                document_id = repository.queue_document(session.conn, kb, doc.get("title") or corpus_id,
                                                        f"{corpus_id}.txt", document_body(doc),
                                                        {"corpus_id": corpus_id})
                stats.doc_ids[str(document_id)] = corpus_id
    stats.upload_seconds = time.perf_counter() - started
    started = time.perf_counter()
    org_id = str(kb["organization_id"])
    for document_id in stats.doc_ids:
        outcome = ingest_jobs.process(org_id, document_id, 1)
        stats.statuses[outcome] = stats.statuses.get(outcome, 0) + 1
        stats.docs += 1
        if progress and stats.docs % 100 == 0:
            progress(stats)
    stats.pipeline_seconds = time.perf_counter() - started
    with sync_unit_of_work(pool, principal) as session:
        stats.chunks = repository.count_chunks(session.conn, kb["id"])
    return stats
