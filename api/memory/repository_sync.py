"""Memory SQL for the workers (sync psycopg): turn indexing, summaries, facts, retention. The
history rows these jobs read or delete are reached through api/conversations/repository_sync.py."""
from __future__ import annotations

from uuid import UUID

from psycopg.types.json import Jsonb

_MEMORY_COLUMNS = ("organization_id", "contact_id", "agent_id", "conversation_id", "message_id", "kind", "key",
                   "content", "confidence", "embedding", "embedding_dim", "fts_config", "metadata", "valid_from",
                   "created_at", "seq")


def _one(conn, query: str, params=()) -> dict | None:
    return conn.execute(query, params).fetchone()


def _all(conn, query: str, params=()) -> list[dict]:
    return conn.execute(query, params).fetchall()


def conversation_context(conn, conversation_id: UUID) -> dict | None:
    return _one(conn, """
        select c.id, c.organization_id, c.contact_id, c.agent_id, a.memory_enabled, a.model, a.settings,
               ct.name as contact_name, c.memory_seq
          from public.conversations c
          join public.agents a on a.id = c.agent_id
          join public.contacts ct on ct.id = c.contact_id
         where c.id = %s""", [conversation_id])


def _memory_values(row: dict) -> list:
    return [Jsonb(row[c]) if c == "metadata" else row.get(c) for c in _MEMORY_COLUMNS]


def insert_turn_memories(conn, rows: list[dict]) -> int:
    """Insert turn memories; a message indexed already (redelivered task) is skipped."""
    cols = ", ".join(_MEMORY_COLUMNS)
    marks = ", ".join(["%s"] * len(_MEMORY_COLUMNS))
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(f"insert into public.memories ({cols}) values ({marks}) "
                        "on conflict (message_id) where kind = 'turn' do nothing", [_memory_values(r) for r in rows])
        return cur.rowcount


def insert_memory(conn, row: dict) -> dict:
    cols = ", ".join(_MEMORY_COLUMNS)
    marks = ", ".join(["%s"] * len(_MEMORY_COLUMNS))
    return _one(conn, f"insert into public.memories ({cols}) values ({marks}) returning id", _memory_values(row))


def current_summary(conn, conversation_id: UUID) -> dict | None:
    return _one(conn, "select id, content, metadata from public.memories "
                      "where conversation_id = %s and kind = 'summary' and valid_to is null", [conversation_id])


def delete_summaries(conn, conversation_id: UUID) -> None:
    conn.execute("delete from public.memories where conversation_id = %s and kind = 'summary'", [conversation_id])


def mark_summarized(conn, conversation_id: UUID) -> None:
    conn.execute("update public.conversations set summarized_at = now() where id = %s", [conversation_id])


def lock_contact_facts(conn, contact_id: UUID) -> None:
    # Two extraction tasks of one contact would both see "no current fact" and race on the
    # one-current-fact-per-key index; they take turns instead (released at commit).
    conn.execute("select pg_advisory_xact_lock(hashtextextended('memory-facts:' || %s::text, 0))", [contact_id])


def current_facts(conn, contact_id: UUID) -> list[dict]:
    return _all(conn, """
        select id, key, metadata->>'value' as value, confidence, valid_from
          from public.memories
         where contact_id = %s and kind = 'fact' and valid_to is null
         order by key""", [contact_id])


def refresh_fact(conn, fact_id: UUID, confidence: float, conversation_id: UUID) -> None:
    conn.execute("""
        update public.memories
           set confidence = greatest(confidence, %s),
               metadata = metadata || jsonb_build_object('last_seen_at', now(), 'last_seen_in', %s::text)
         where id = %s""", [confidence, conversation_id, fact_id])


def close_fact(conn, fact_id: UUID) -> None:
    conn.execute("update public.memories set valid_to = now() where id = %s", [fact_id])


def link_superseded(conn, old_id: UUID, new_id: UUID) -> None:
    conn.execute("update public.memories set superseded_by = %s where id = %s", [new_id, old_id])


def contact_turns(conn, contact_id: UUID) -> list[dict]:
    """The contact's turn memories not yet outdated by a fact: id and content."""
    return _all(conn, """
        select id, content from public.memories
         where contact_id = %s and kind = 'turn' and valid_to is null and superseded_by is null""", [contact_id])


def outdate_turns(conn, turn_ids: list[UUID], fact_id: UUID) -> int:
    """Mark turns as stating a value that `fact_id` replaced (superseded_by; they stay retrievable)."""
    if not turn_ids:
        return 0
    return conn.execute("update public.memories set superseded_by = %s where id = any(%s) and kind = 'turn'",
                        [fact_id, turn_ids]).rowcount


def retention_targets(conn) -> list[dict]:
    """Every agent with a retention period, across organizations (the one cross-tenant read of the
    memory worker, a definer function that answers only the SCANNER principal); the deletes then
    run under each org's RLS."""
    return _all(conn, "select organization_id, agent_id, retention_days from private.retention_targets()")


def delete_memories_before(conn, agent_id: UUID, days: int) -> int:
    cur = conn.execute("delete from public.memories where agent_id = %s "
                       "and created_at < now() - make_interval(days => %s)", [agent_id, days])
    return cur.rowcount


def mark_indexed(conn, conversation_id: UUID, seq: int) -> None:
    """Every turn counted up to `seq` (read before the unindexed turns) has its memory row."""
    conn.execute("update public.conversations set memory_indexed_seq = greatest(memory_indexed_seq, %s) "
                 "where id = %s and memory_indexed_seq < %s", [seq, conversation_id, seq])


def memory_backlog(conn, min_gap_s: float, limit: int) -> list[dict]:
    """Conversations of every tenant with turns to index or a summary due (see the migration)."""
    return _all(conn, "select * from private.memory_backlog(make_interval(secs => %s), %s)", [min_gap_s, limit])
