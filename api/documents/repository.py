"""SQL for the documents API (async). The ingest jobs' SQL (sync) is in repository_sync."""
from uuid import UUID

from psycopg import sql as pgsql

from api.core import sql
from api.core.pagination import PageParams


async def insert(conn, values: dict) -> dict:
    return await sql.insert(conn, "documents", values)


async def insert_content(conn, document_id: UUID, version: int, org_id: UUID, data: bytes) -> None:
    await conn.execute("insert into public.document_contents (document_id, version, organization_id, data) "
                       "values (%s, %s, %s, %s)", [document_id, version, org_id, data])


async def delete_older_contents(conn, document_id: UUID, version: int) -> None:
    await conn.execute("delete from public.document_contents where document_id = %s and version < %s",
                       [document_id, version])


async def get(conn, document_id: UUID, *, for_update: bool = False) -> dict | None:
    lock = " for update" if for_update else ""
    return await sql.fetch_one(conn, f"select * from public.documents where id = %s{lock}", [document_id])


async def lock_content_hash(conn, kb_id: UUID, sha256: str) -> None:
    # Serializes concurrent uploads of the same bytes into one KB until commit, so the dedupe
    # lookup that follows cannot race (a transaction-scoped lock also works behind poolers).
    await conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"doc:{kb_id}:{sha256}"])


async def find_by_hash(conn, kb_id: UUID, sha256: str) -> dict | None:
    return await sql.fetch_one(conn, "select * from public.documents where knowledge_base_id = %s and sha256 = %s "
                                     "order by created_at limit 1", [kb_id, sha256])


async def page(conn, org_id: UUID, kb_id: UUID, params: PageParams, status: str | None) -> list[dict]:
    where = pgsql.SQL("knowledge_base_id = %s and (%s::text is null or status = %s::text)")
    return await sql.page(conn, "documents", org_id, params, where=where, where_params=[kb_id, status, status])


async def replace_version(conn, document_id: UUID, values: dict) -> dict | None:
    """Point the document at a new version of its content and queue it again."""
    return await sql.fetch_one(conn, """
        update public.documents
           set version = version + 1, sha256 = %(sha256)s, size_bytes = %(size_bytes)s,
               content_type = %(content_type)s, filename = coalesce(%(filename)s, filename),
               title = coalesce(%(title)s, title), status = 'queued', progress = 0, error = null, attempts = 0
         where id = %(id)s
        returning *""", {**values, "id": document_id})


async def requeue(conn, document_id: UUID) -> dict | None:
    return await sql.fetch_one(conn, "update public.documents set status = 'queued', progress = 0, error = null, "
                                     "attempts = 0 where id = %s returning *", [document_id])


async def delete(conn, document_id: UUID) -> UUID | None:
    """Delete a document (its contents and chunks cascade); returns its knowledge base id."""
    row = await sql.fetch_one(conn, "delete from public.documents where id = %s returning knowledge_base_id",
                              [document_id])
    return row["knowledge_base_id"] if row else None
