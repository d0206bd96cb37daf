"""SQL for the ingest worker (sync psycopg, inside a job_transaction, api/core/db.py).

Chunks are bulk-loaded with binary COPY. Postgres refuses COPY FROM into a table under
row-level security, so rows are copied into a transaction-scoped temp table first and moved
with one INSERT ... SELECT, which the RLS policies then check like any other insert.
"""
from uuid import UUID

from psycopg.types.json import Jsonb

_STAGE = """create temp table chunk_stage (ordinal integer, content text, token_count integer, page integer,
             content_hash text, metadata jsonb, embedding extensions.vector) on commit drop"""
_STAGE_TYPES = ["int4", "text", "int4", "int4", "text", "jsonb", "vector"]


def lock_document(conn, document_id: UUID) -> dict | None:
    """The document with its KB's language and embedding model, row-locked until commit.

    The row lock is what keeps two deliveries of the same task from claiming or writing the
    same document at the same time: the second waits, then sees what the first did.
    """
    cur = conn.execute("""
        select d.*, kb.language::text as kb_language, kb.embedding_model, kb.embedding_dim
          from public.documents d
          join public.knowledge_bases kb on kb.id = d.knowledge_base_id
         where d.id = %s
           for update of d""", [document_id])
    return cur.fetchone()


def mark_processing(conn, document_id: UUID, lease_s: float) -> None:
    conn.execute("update public.documents set status = 'processing', attempts = attempts + 1, progress = 0, "
                 "error = null, lease_until = now() + make_interval(secs => %s) where id = %s",
                 [lease_s, document_id])


def renew_lease(conn, document_id: UUID, version: int, lease_s: float) -> bool:
    """False when the document is no longer being processed in this version."""
    cur = conn.execute("update public.documents set lease_until = now() + make_interval(secs => %s) "
                       "where id = %s and version = %s and status = 'processing'", [lease_s, document_id, version])
    return cur.rowcount == 1


def content(conn, document_id: UUID, version: int) -> bytes | None:
    row = conn.execute("select data from public.document_contents where document_id = %s and version = %s",
                       [document_id, version]).fetchone()
    return row["data"] if row else None


def set_progress(conn, document_id: UUID, version: int, progress: float) -> bool:
    """False when the document was deleted, replaced or finished meanwhile (stop working on it)."""
    cur = conn.execute("update public.documents set progress = %s where id = %s and version = %s "
                       "and status = 'processing'", [progress, document_id, version])
    return cur.rowcount == 1


def mark_failed(conn, document_id: UUID, version: int, message: str) -> bool:
    cur = conn.execute("update public.documents set status = 'failed', error = %s where id = %s and version = %s "
                       "and status in ('queued', 'processing')", [message, document_id, version])
    return cur.rowcount == 1


def replace_chunks(conn, doc: dict, rows: list[tuple]) -> int:
    """Delete every chunk of the document (all versions) and insert this version's.

    `rows` are (ordinal, content, token_count, page, content_hash, metadata, embedding).
    """
    conn.execute("delete from public.document_chunks where document_id = %s", [doc["id"]])
    conn.execute(_STAGE)
    with conn.cursor().copy("copy chunk_stage from stdin (format binary)") as copy:
        copy.set_types(_STAGE_TYPES)
        for ordinal, text, tokens, page, content_hash, metadata, embedding in rows:
            copy.write_row((ordinal, text, tokens, page, content_hash, Jsonb(metadata), embedding))
    cur = conn.execute("""
        insert into public.document_chunks
               (organization_id, knowledge_base_id, document_id, document_version, ordinal, content, token_count,
                page, content_hash, metadata, tags, source, embedding, embedding_dim, fts_config)
        select %(org)s, %(kb)s, %(doc)s, %(version)s, s.ordinal, s.content, s.token_count, s.page, s.content_hash,
               s.metadata, %(tags)s, %(source)s, s.embedding, %(dim)s, %(language)s::regconfig
          from chunk_stage s""", {
        "org": doc["organization_id"], "kb": doc["knowledge_base_id"], "doc": doc["id"], "version": doc["version"],
        "tags": doc["tags"], "source": doc["source"], "dim": doc["embedding_dim"], "language": doc["kb_language"]})
    return cur.rowcount


def mark_ready(conn, document_id: UUID, chunk_count: int) -> None:
    conn.execute("update public.documents set status = 'ready', progress = 1, error = null, chunk_count = %s, "
                 "processed_at = now() where id = %s", [chunk_count, document_id])


def bump_kb_version(conn, kb_id: UUID) -> None:
    # Part of the search cache key: cached results of this KB go stale with this commit.
    conn.execute("update public.knowledge_bases set content_version = content_version + 1 where id = %s", [kb_id])


def stuck_documents(conn, older_than_s: float, limit: int) -> list[dict]:
    """Queued/processing documents of every tenant untouched for older_than_s (see the migration)."""
    return conn.execute("select * from private.stuck_documents(make_interval(secs => %s), %s)",
                        [older_than_s, limit]).fetchall()
