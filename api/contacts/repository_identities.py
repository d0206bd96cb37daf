"""SQL for contact identifiers (phone, email, channel ids) and contact merges (async)."""
from uuid import UUID

from psycopg.types.json import Jsonb

from api.conversations import repository as conversations_repository
from api.core import sql

KIND_ORDER = ("channel", "phone", "email")


async def find(conn, org_id: UUID, identifiers: list[tuple[str, str]]) -> UUID | None:
    """The contact owning the first matching identifier (channel id before phone before email)."""
    if not identifiers:
        return None
    row = await sql.fetch_one(conn, """
        select i.contact_id from public.contact_identifiers i
          join unnest(%s::text[], %s::text[]) with ordinality as q(kind, value, n)
            on i.kind = q.kind and i.value = q.value
         where i.organization_id = %s
         order by q.n limit 1""", [[k for k, _ in identifiers], [v for _, v in identifiers], org_id])
    return row["contact_id"] if row else None


async def add(conn, org_id: UUID, contact_id: UUID, identifiers: list[tuple[str, str]]) -> None:
    """Attach identifiers nobody in the organization has yet (one already taken stays with its owner)."""
    if identifiers:
        await conn.execute("""
            insert into public.contact_identifiers (organization_id, contact_id, kind, value)
            select %s, %s, q.kind, q.value from unnest(%s::text[], %s::text[]) as q(kind, value)
            on conflict (organization_id, kind, value) do nothing""",
                           [org_id, contact_id, [k for k, _ in identifiers], [v for _, v in identifiers]])


async def fill_contact(conn, contact_id: UUID, phone: str | None, email: str | None) -> None:
    """Phone and email on the contact row when it has none yet."""
    await conn.execute("update public.contacts set phone = coalesce(phone, %s), email = coalesce(email, %s) "
                       "where id = %s and (phone is null or email is null)", [phone, email, contact_id])


async def list_for(conn, contact_id: UUID) -> list[dict]:
    return await sql.fetch_all(conn, "select id, kind, value, created_at from public.contact_identifiers "
                                     "where contact_id = %s order by kind, value", [contact_id])


async def delete(conn, contact_id: UUID, identifier_id: UUID) -> bool:
    cur = await conn.execute("delete from public.contact_identifiers where id = %s and contact_id = %s",
                             [identifier_id, contact_id])
    return cur.rowcount > 0


async def merge(conn, org_id: UUID, keep: UUID, merged: UUID) -> dict:
    """Move everything of contact `merged` to `keep`, then delete `merged`. Facts both hold as
    current are reconciled first (one current fact per key): the older value is closed and
    superseded by the newer, exactly as a contradiction in conversation would. Returns counts."""
    superseded = await conn.execute("""
        with pairs as (
          select m.id as merged_id, k.id as keep_id, m.valid_from > k.valid_from as merged_newer
            from public.memories m
            join public.memories k on k.contact_id = %(keep)s and k.kind = 'fact' and k.valid_to is null
                                  and k.key = m.key
           where m.contact_id = %(merged)s and m.kind = 'fact' and m.valid_to is null and m.key is not null)
        update public.memories x
           set valid_to = now(),
               superseded_by = case when p.merged_newer then p.merged_id else p.keep_id end
          from pairs p
         where x.id = case when p.merged_newer then p.keep_id else p.merged_id end""",
                                    {"keep": keep, "merged": merged})
    moved = {"facts_superseded": superseded.rowcount}
    # Same order as ever (conversations, their messages, memories, identifiers); the conversations
    # domain owns the statement on the history.
    moved["conversations"] = await _repoint(conn, "conversations", keep, merged)
    moved["conversation_history"] = await conversations_repository.move_messages_to_contact(conn, keep, merged)
    for table in ("memories", "contact_identifiers"):
        moved[table] = await _repoint(conn, table, keep, merged)
    # The merged contact's own fields fill the survivor's gaps; its metadata never overrides.
    await conn.execute("""
        update public.contacts k
           set name = coalesce(k.name, m.name), email = coalesce(k.email, m.email),
               phone = coalesce(k.phone, m.phone), locale = coalesce(k.locale, m.locale),
               metadata = m.metadata || k.metadata
          from public.contacts m where k.id = %s and m.id = %s""", [keep, merged])
    return moved


async def _repoint(conn, table: str, keep: UUID, merged: UUID) -> int:
    cur = await conn.execute(f"update public.{table} set contact_id = %s where contact_id = %s",  # noqa: S608
                             [keep, merged])
    return cur.rowcount


async def record_merge(conn, org_id: UUID, keep: UUID, merged: UUID, merged_external_id: str | None,
                       moved: dict) -> dict:
    return await sql.fetch_one(conn, """
        insert into public.contact_merges (organization_id, contact_id, merged_contact_id, merged_external_id, moved)
        values (%s, %s, %s, %s, %s) returning *""", [org_id, keep, merged, merged_external_id, Jsonb(moved)])


async def list_merges(conn, contact_id: UUID) -> list[dict]:
    return await sql.fetch_all(conn, "select * from public.contact_merges where contact_id = %s "
                                     "order by created_at desc limit 100", [contact_id])
