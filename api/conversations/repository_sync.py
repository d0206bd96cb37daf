"""Conversation history SQL for the workers' sync connections (the memory jobs): the sync twin of
api/conversations/repository.py, so every statement on public.conversation_history stays in
this domain."""
from __future__ import annotations

from uuid import UUID


def _one(conn, query: str, params=()) -> dict | None:
    return conn.execute(query, params).fetchone()


def _all(conn, query: str, params=()) -> list[dict]:
    return conn.execute(query, params).fetchall()


def unindexed_turns(conn, conversation_id: UUID) -> list[dict]:
    """Turns not indexed yet, oldest first, with `seq`: their 0-based position among the
    conversation's user/assistant messages (excerpts group turns by it)."""
    return _all(conn, """
        select t.* from (
          select h.id, h.role, h.content, h.created_at, h.metadata,
                 (row_number() over (order by h.created_at, h.id) - 1)::int as seq
            from public.conversation_history h
           where h.conversation_id = %s and h.role in ('user', 'assistant')) t
         where not exists (select 1 from public.memories m where m.message_id = t.id and m.kind = 'turn')
         order by t.created_at, t.id""", [conversation_id])


def turn_before(conn, conversation_id: UUID, turn: dict) -> dict | None:
    return _one(conn, """
        select h.id, h.role, h.content, h.created_at, h.metadata
          from public.conversation_history h
         where h.conversation_id = %s and h.role in ('user', 'assistant') and (h.created_at, h.id) < (%s, %s)
         order by h.created_at desc, h.id desc limit 1""", [conversation_id, turn["created_at"], turn["id"]])


def recent_turns(conn, conversation_id: UUID, limit: int) -> list[dict]:
    """The last `limit` user/assistant turns, oldest first."""
    return _all(conn, """
        select * from (
          select h.id, h.role, h.content, h.created_at, h.metadata
            from public.conversation_history h
           where h.conversation_id = %s and h.role in ('user', 'assistant')
           order by h.created_at desc, h.id desc limit %s) t
         order by created_at, id""", [conversation_id, limit])


def count_turns(conn, conversation_id: UUID) -> int:
    row = _one(conn, "select count(*) as n from public.conversation_history "
                     "where conversation_id = %s and role in ('user', 'assistant')", [conversation_id])
    return row["n"]


def delete_history_before(conn, agent_id: UUID, days: int) -> int:
    cur = conn.execute("""
        delete from public.conversation_history h
         using public.conversations c
         where c.id = h.conversation_id and c.agent_id = %s
           and h.created_at < now() - make_interval(days => %s)""", [agent_id, days])
    return cur.rowcount
