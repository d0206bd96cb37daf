"""The benchmarks' SQL for arranging data: an organization (as superuser), then a KB and queued
documents with their bytes (under RLS, as the upload endpoint stores them) for the real pipeline."""
from __future__ import annotations

import hashlib
from uuid import UUID

from psycopg.types.json import Jsonb


def create_org(admin_conn, name: str, slug: str) -> UUID:
    """admin_conn: a superuser connection with dict rows (organizations need no creator here)."""
    return admin_conn.execute("insert into public.organizations (name, slug) values (%s, %s) returning id",
                              [name, slug]).fetchone()["id"]


def create_kb(conn, org_id: UUID, name: str, language: str) -> dict:
    return conn.execute("insert into public.knowledge_bases (organization_id, name, language) "
                        "values (%s, %s, %s) returning *", [org_id, name, language]).fetchone()


def queue_document(conn, kb: dict, title: str, filename: str, body: bytes, metadata: dict) -> UUID:
    """A queued text/plain document (version 1) and its bytes, as POST .../documents leaves them."""
    document_id = conn.execute(
        "insert into public.documents (organization_id, knowledge_base_id, title, filename, content_type, "
        "size_bytes, sha256, metadata) values (%s, %s, %s, %s, 'text/plain', %s, %s, %s) returning id",
        [kb["organization_id"], kb["id"], title[:500] or filename, filename, len(body),
         hashlib.sha256(body).hexdigest(), Jsonb(metadata)]).fetchone()["id"]
    conn.execute("insert into public.document_contents (document_id, version, organization_id, data) "
                 "values (%s, 1, %s, %s)", [document_id, kb["organization_id"], body])
    return document_id


def analyze(admin_conn) -> None:
    admin_conn.execute("analyze public.document_chunks")
    admin_conn.execute("analyze public.documents")


def count_chunks(conn, kb_id: UUID) -> int:
    return conn.execute("select count(*) as n from public.document_chunks where knowledge_base_id = %s",
                        [kb_id]).fetchone()["n"]


# --- bench/scale.py: synthetic load written as superuser (arranging data, not the code under test) ---

_HNSW_384 = ("create index document_chunks_embedding_384_idx on public.document_chunks using hnsw "
             "((embedding::extensions.vector(384)) extensions.vector_cosine_ops) where embedding_dim = 384")
_SYNTH_COLUMNS = ("organization_id", "knowledge_base_id", "document_id", "document_version", "ordinal", "content",
                  "token_count", "content_hash", "tags", "source", "embedding", "embedding_dim", "fts_config")
# Binary COPY has no regconfig dumper: fts_config is sent as its oid (regconfig's binary form).
_SYNTH_TYPES = ["uuid", "uuid", "uuid", "int4", "int4", "text", "int4", "text", "text[]", "text", "vector",
                "int4", "oid"]


def drop_vector_index(admin_conn) -> None:
    """Bulk loads build HNSW once at the end (much faster than maintaining it row by row)."""
    admin_conn.execute("drop index if exists public.document_chunks_embedding_384_idx")


def create_vector_index(admin_conn) -> None:
    # Same definition as the migration, so the planner sees exactly what production has.
    admin_conn.execute(_HNSW_384)


def create_documents(admin_conn, kb: dict, count: int) -> list:
    return [r["id"] for r in admin_conn.execute(
        "insert into public.documents (organization_id, knowledge_base_id, title, content_type, size_bytes, "
        "sha256, status) select %s, %s, 'synthetic ' || g, 'text/plain', 0, md5(g::text), 'ready' "
        "from generate_series(1, %s) g returning id", [kb["organization_id"], kb["id"], count]).fetchall()]


def regconfig_oid(admin_conn, language: str) -> int:
    return admin_conn.execute("select %s::regconfig::oid as oid", [language]).fetchone()["oid"]


def copy_synthetic_chunks(admin_conn, rows) -> None:
    """rows: tuples in _SYNTH_COLUMNS order; binary COPY (superuser, so RLS does not apply)."""
    with admin_conn.cursor().copy(f"copy public.document_chunks ({', '.join(_SYNTH_COLUMNS)}) "
                                  "from stdin (format binary)") as copy:
        copy.set_types(_SYNTH_TYPES)
        for row in rows:
            copy.write_row(row)


def set_chunk_counts(admin_conn) -> None:
    """documents.chunk_count, as the pipeline leaves it (search reads it to size a KB)."""
    admin_conn.execute("update public.documents d set chunk_count = c.n from (select document_id, count(*) as n "
                       "from public.document_chunks group by 1) c where c.document_id = d.id")


def chunk_count(admin_conn) -> int:
    return admin_conn.execute("select count(*) as n from public.document_chunks").fetchone()["n"]


def tenant_kbs(admin_conn) -> list[dict]:
    """(kb id, organization id, chunk count) of every KB, biggest first."""
    return admin_conn.execute("select knowledge_base_id as id, organization_id, count(*) as chunks "
                              "from public.document_chunks group by 1, 2 order by 3 desc").fetchall()
