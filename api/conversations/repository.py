"""Conversations and their message history (public.conversation_history): every statement on
the history lives here (async, for requests) or in repository_sync.py (sync, for the workers);
other domains reach those rows through these functions."""
from datetime import date
from uuid import UUID

from psycopg import sql as q

from api.core import local_days, sql
from api.core.pagination import PageParams

CITATION_TEXT_CHARS = 500


async def get(conn, conversation_id: UUID) -> dict | None:
    return await sql.get(conn, "conversations", conversation_id)


async def get_by_external_id(conn, org_id: UUID, channel: str, external_id: str) -> dict | None:
    return await sql.fetch_one(conn, """
        select * from public.conversations
         where organization_id = %s and channel = %s and external_id = %s""", [org_id, channel, external_id])


async def insert(conn, values: dict) -> dict | None:
    """None when a conversation with the same (channel, external_id) already exists."""
    cols = list(values)
    query = q.SQL("insert into public.conversations ({}) values ({}) "
                  "on conflict (organization_id, channel, external_id) where external_id is not null "
                  "do nothing returning *").format(
        q.SQL(", ").join(map(q.Identifier, cols)), q.SQL(", ").join(q.Placeholder() * len(cols)))
    return await sql.fetch_one(conn, query, [sql.adapt(values[c]) for c in cols])


async def page_for_agent(conn, org_id: UUID, agent_id: UUID, params: PageParams, *, contact_id: UUID | None,
                         status: str | None) -> list[dict]:
    where = [q.SQL("agent_id = %s")]
    args: list = [agent_id]
    if contact_id:
        where.append(q.SQL("contact_id = %s"))
        args.append(contact_id)
    if status:
        where.append(q.SQL("status = %s"))
        args.append(status)
    return await sql.page(conn, "conversations", org_id, params, where=q.SQL(" and ").join(where),
                          where_params=args)


async def close(conn, conversation_id: UUID) -> dict | None:
    return await sql.fetch_one(conn, """
        update public.conversations set status = 'closed', closed_at = coalesce(closed_at, now())
         where id = %s returning *""", [conversation_id])


async def insert_contact(conn, org_id: UUID) -> dict:
    """A contact with no identity yet (a web visitor); channels can set external_id later."""
    return await sql.insert(conn, "contacts", {"organization_id": org_id})


async def upsert_contact(conn, org_id: UUID, external_id: str, name: str | None) -> dict:
    """The contact with this external id, created if new; a given name replaces the stored one."""
    row = await sql.fetch_one(conn, """
        with ins as (
          insert into public.contacts (organization_id, external_id, name) values (%(org)s, %(ext)s, %(name)s)
          on conflict (organization_id, external_id) do update set name = excluded.name
           where excluded.name is not null and contacts.name is distinct from excluded.name
          returning *)
        select * from ins
        union all
        select * from public.contacts
         where organization_id = %(org)s and external_id = %(ext)s and not exists (select 1 from ins)""",
        {"org": org_id, "ext": external_id, "name": name})
    if row is None:
        # A concurrent request inserted it after this statement's snapshot: it is committed now.
        row = await sql.fetch_one(conn, "select * from public.contacts where organization_id = %s "
                                        "and external_id = %s", [org_id, external_id])
    return row


async def page_messages(conn, org_id: UUID, conversation_id: UUID, params: PageParams) -> list[dict]:
    return await sql.page(conn, "conversation_history", org_id, params, where=q.SQL("conversation_id = %s"),
                          where_params=[conversation_id])


async def chat_target(conn, agent_id: UUID, conversation_id: UUID) -> dict | None:
    """Everything a turn needs about the conversation, its agent, contact and organization, in one read.

    Only the agent's knowledge bases that still exist (and are visible) are returned: the agent
    keeps plain ids, so a deleted knowledge base must not break its chats."""
    return await sql.fetch_one(conn, """
        select c.id as conversation_id, c.organization_id, c.status, c.contact_id, c.channel,
               a.id as agent_id, a.name as agent_name, a.model, a.system_prompt, a.temperature,
               a.max_tokens, a.memory_enabled, a.timezone, a.settings as agent_settings,
               ct.name as contact_name, o.name as business_name,
               coalesce((select jsonb_agg(jsonb_build_object('id', k.id, 'model', k.embedding_model,
                                                             'dim', k.embedding_dim) order by k.id)
                           from public.knowledge_bases k where k.id = any(a.knowledge_base_ids)),
                        '[]'::jsonb) as knowledge_bases,
               exists (select 1 from public.conversation_history h where h.conversation_id = c.id) as has_messages
          from public.conversations c
          join public.agents a on a.id = c.agent_id
          join public.contacts ct on ct.id = c.contact_id
          left join public.organizations o on o.id = c.organization_id
         where c.id = %s and c.agent_id = %s""", [conversation_id, agent_id])


async def find_user_message(conn, conversation_id: UUID, client_message_id: str) -> dict | None:
    return await sql.fetch_one(conn, """
        select * from public.conversation_history
         where conversation_id = %s and role = 'user' and client_message_id = %s""",
        [conversation_id, client_message_id])


async def get_user_message(conn, conversation_id: UUID, message_id: UUID) -> dict | None:
    return await sql.fetch_one(conn, """
        select * from public.conversation_history
         where conversation_id = %s and role = 'user' and id = %s""", [conversation_id, message_id])


async def find_reply(conn, user_message_id: UUID) -> dict | None:
    return await sql.fetch_one(conn, "select * from public.conversation_history where reply_to = %s",
                               [user_message_id])


async def insert_message(conn, values: dict) -> dict | None:
    """None when a unique index says it is already stored (same client_message_id, or an
    answer to the same user message)."""
    cols = list(values)
    query = q.SQL("insert into public.conversation_history ({}) values ({}) on conflict do nothing returning *").format(
        q.SQL(", ").join(map(q.Identifier, cols)), q.SQL(", ").join(q.Placeholder() * len(cols)))
    return await sql.fetch_one(conn, query, [sql.adapt(values[c]) for c in cols])


async def recent_turns(conn, conversation_id: UUID, limit: int) -> list[dict]:
    """The last `limit` user/assistant messages, oldest first."""
    rows = await sql.fetch_all(conn, """
        select id, role, content from public.conversation_history
         where conversation_id = %s and role in ('user', 'assistant')
         order by created_at desc, id desc limit %s""", [conversation_id, limit])
    return rows[::-1]


async def recent_turn_texts(conn, conversation_id: UUID, limit: int) -> list[dict]:
    """The last `limit` user/assistant messages, oldest first: role and content only."""
    rows = await sql.fetch_all(conn, """
        select role, content from public.conversation_history
         where conversation_id = %s and role in ('user', 'assistant')
         order by created_at desc, id desc limit %s""", [conversation_id, limit])
    return rows[::-1]


async def contact_texts(conn, contact_id: UUID) -> list[str]:
    """Every text of the contact that may have been embedded (and so cached in Redis): its messages
    and its memories, in one read."""
    rows = await sql.fetch_all(conn, """
        select content from public.conversation_history where contact_id = %s
        union select content from public.memories where contact_id = %s""", [contact_id, contact_id])
    return [r["content"] for r in rows]


async def move_messages_to_contact(conn, keep: UUID, merged: UUID) -> int:
    """A contact merge: every message of contact `merged` now belongs to `keep`; how many moved."""
    cur = await conn.execute("update public.conversation_history set contact_id = %s where contact_id = %s",
                             [keep, merged])
    return cur.rowcount


async def message_counts(conn, org_id: UUID, start: date, end: date, tz: str) -> list[dict]:
    """Stored user and assistant messages per (local day, agent) of an organization (analytics' usage)."""
    return await sql.fetch_all(conn, f"""
        select {local_days.day_of('h.created_at')} as day, c.agent_id,
               count(*) filter (where h.role = 'user')::int as user_messages,
               count(*) filter (where h.role = 'assistant')::int as assistant_messages
          from public.conversation_history h
          join public.conversations c on c.id = h.conversation_id
         where {local_days.in_range('h.')}
           and c.organization_id = %(org)s and h.role in ('user', 'assistant')
         group by 1, 2 order by 1, 2""", local_days.params(org_id, start, end, tz))


async def citations_for(conn, message_ids: list[UUID]) -> list[dict]:
    """Citations of these messages whose source still exists (erasure nulls chunk/memory ids)."""
    return await sql.fetch_all(conn, """
        select c.id, c.message_id, c.rank, c.score, c.chunk_id, c.memory_id,
               case when c.chunk_id is not null then 'chunk' else 'memory' end as kind,
               d.id as document_id, d.title as document_title, m.kind as memory_kind,
               left(coalesce(ch.content, m.content, ''), %s) as text
          from public.citations c
          left join public.document_chunks ch on ch.id = c.chunk_id
          left join public.documents d on d.id = ch.document_id
          left join public.memories m on m.id = c.memory_id
         where c.message_id = any(%s) and (ch.id is not null or m.id is not null)
         order by c.message_id, kind, c.rank""", [CITATION_TEXT_CHARS, message_ids])


# The answers the local model judged its knowledge excerpts did not answer (api/chat/grounding.py);
# the jsonb predicate is the partial index's (20261202010000_knowledge_gaps.sql).
def _gaps_where() -> str:
    return (f"a.role = 'assistant' and a.metadata @> '{{\"answer_check\": {{\"answerable\": false}}}}'::jsonb "
            f"and {local_days.in_range('a.')} and (%(agent)s::uuid is null or c.agent_id = %(agent)s::uuid)")


async def knowledge_gaps(conn, org_id: UUID, start: date, end: date, tz: str, agent_id: UUID | None,
                         limit: int) -> tuple[list[dict], list[dict]]:
    """The questions answered "not found" (newest first, at most `limit`) and their count per agent."""
    params = local_days.params(org_id, start, end, tz) | {"agent": agent_id, "limit": limit}
    rows = await sql.fetch_all(conn, f"""
        select q.id as message_id, a.conversation_id, c.agent_id, q.content as question, q.created_at as asked_at,
               (a.metadata #>> '{{answer_check,margin}}')::float8 as margin
          from public.conversation_history a
          join public.conversation_history q on q.id = a.reply_to
          join public.conversations c on c.id = a.conversation_id
         where {_gaps_where()}
         order by a.created_at desc, a.id desc limit %(limit)s""", params)
    counts = await sql.fetch_all(conn, f"""
        select c.agent_id, count(*)::int as count
          from public.conversation_history a
          join public.conversations c on c.id = a.conversation_id
         where {_gaps_where()}
         group by 1 order by 2 desc, 1""", params)
    return rows, counts
