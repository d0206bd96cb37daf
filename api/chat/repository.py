from uuid import UUID

import psycopg.errors as pg_errors

from api.core import sql


async def touch_conversation(conn, conversation_id: UUID) -> None:
    await conn.execute("update public.conversations set last_message_at = now() where id = %s", [conversation_id])


async def insert_citations(conn, org_id: UUID, message_id: UUID, chunk_ids: list[UUID | None],
                           memory_ids: list[UUID | None], scores: list[float], ranks: list[int]) -> list[dict]:
    """Cite only the chunks and memories that still exist. A document re-ingested (or a memory
    forgotten) while the model generated has deleted what the prompt showed; the answer is
    stored regardless. A delete that commits between our check and the foreign-key check
    fails only the savepoint, and the next try no longer sees the deleted row."""
    if not ranks:
        return []
    for attempt in range(3):
        try:
            async with conn.transaction():  # a savepoint: the answer's insert survives a retry
                return await sql.fetch_all(conn, """
                    insert into public.citations (organization_id, message_id, chunk_id, memory_id, score, rank)
                    select %s, %s, x.chunk_id, x.memory_id, x.score, x.rank
                      from unnest(%s::uuid[], %s::uuid[], %s::real[], %s::int[]) with ordinality
                           as x(chunk_id, memory_id, score, rank, n)
                     where (x.chunk_id is null
                            or exists (select 1 from public.document_chunks c where c.id = x.chunk_id))
                       and (x.memory_id is null
                            or exists (select 1 from public.memories m where m.id = x.memory_id))
                     order by x.n
                    returning id, chunk_id, memory_id""",
                    [org_id, message_id, chunk_ids, memory_ids, scores, ranks])
        except pg_errors.ForeignKeyViolation:
            if attempt == 2:
                return []  # sources kept vanishing: the answer matters more than its citations
    return []


async def insert_usage(conn, values: dict) -> dict:
    return await sql.insert(conn, "usage_events", values)


async def take_answer_lease(conn, conversation_id: UUID, token: str, ttl_ms: int, *, extend_only: bool = False) -> bool:
    """The Postgres fallback of the conversation lock (api/chat/lock.py): take a free or
    expired lease, or extend our own (`extend_only`: only our own)."""
    free = "false" if extend_only else "c.answer_lock_until is null or c.answer_lock_until < clock_timestamp()"
    cur = await conn.execute(f"""
        update public.conversations c
           set answer_lock_token = %(token)s,
               answer_lock_until = clock_timestamp() + make_interval(secs => %(ttl)s)
         where c.id = %(id)s and (c.answer_lock_token = %(token)s or {free})
        returning c.id""", {"token": token, "ttl": ttl_ms / 1000, "id": conversation_id})
    return await cur.fetchone() is not None


async def release_answer_lease(conn, conversation_id: UUID, token: str) -> None:
    await conn.execute("""
        update public.conversations set answer_lock_token = null, answer_lock_until = null
         where id = %s and answer_lock_token = %s""", [conversation_id, token])


async def conversation_visible(conn, conversation_id: UUID) -> bool:
    cur = await conn.execute("select 1 from public.conversations where id = %s", [conversation_id])
    return await cur.fetchone() is not None
