"""Durable memory work: turns whose task never ran are indexed, and due summaries written,
by the beat sweep from what the database records (nothing depends on the broker)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from api.core.db import job_pool, job_transaction, sync_unit_of_work
from api.core.principal import SCANNER, org_principal
from api.memory import repository_sync

from tests.conftest import wait_for
from tests.support.memory import FAKE_LLM, add_turns, create_agent, create_contact, create_conversation, memories
from api.core import tasks
from api.core.tasks import enqueue
from api.memory import jobs as memory_jobs


def _seq(admin_conn, conv: str) -> tuple[int, int]:
    return admin_conn.execute("select memory_seq, memory_indexed_seq from public.conversations where id = %s",
                              [conv]).fetchone()


def _sweep_rows(*convs: str) -> list[dict]:
    """One sweep (it stamps every conversation it returns), filtered to `convs`."""
    with job_transaction(SCANNER) as session:
        rows = repository_sync.memory_backlog(session.conn, memory_jobs.SWEEP_MIN_GAP_S, 10_000)
    return [r for r in rows if str(r["conversation_id"]) in convs]


def test_lost_memory_tasks_are_recovered_by_the_sweep(client, new_tenant, admin_conn, celery_worker):
    tenant = new_tenant()
    agent = create_agent(client, tenant)
    contact = create_contact(client, tenant)
    conv = create_conversation(admin_conn, agent, contact)
    FAKE_LLM.script("sweep-marker", "Cliente pediu o cardápio vegano (sweep-marker).")
    # Stored as the chat code stores them, but no memory task was ever sent (broker lost).
    add_turns(admin_conn, conv, [("user", "Vocês têm cardápio vegano? sweep-marker"), ("assistant", "Temos sim."),
                                 ("user", "Ótimo, obrigado")],
              at=datetime.now(UTC) - timedelta(hours=1))
    admin_conn.execute("update public.conversations set last_message_at = now() - interval '1 hour' where id = %s",
                       [conv])
    assert _seq(admin_conn, conv) == (3, 0)  # the trigger counted the turns in their transaction

    (row,) = _sweep_rows(conv)
    assert row["needs_index"]
    assert row["needs_summary"]
    assert _sweep_rows(conv) == []  # re-stamped: scheduled once per gap, not once per beat

    enqueue(tasks.MEMORY_CATCH_UP, tenant.org_id, conv, True)  # what the sweep sends for it
    wait_for(lambda: len(memories(admin_conn, contact["id"], "turn")) == 3, timeout=60, message="turns indexed")
    wait_for(lambda: memories(admin_conn, contact["id"], "summary"), timeout=60, message="summary written")
    assert _seq(admin_conn, conv) == (3, 3)
    # Caught up: the next sweep (after the gap) finds nothing for it.
    admin_conn.execute("update public.conversations set memory_swept_at = null where id = %s", [conv])
    assert _sweep_rows(conv) == []


def test_sweep_skips_agents_without_memory_and_active_conversations(client, new_tenant, admin_conn):
    tenant = new_tenant()
    off = create_conversation(admin_conn, create_agent(client, tenant, memory_enabled=False), create_contact(client, tenant))
    active = create_conversation(admin_conn, create_agent(client, tenant), create_contact(client, tenant))
    add_turns(admin_conn, off, [("user", "oi")])
    add_turns(admin_conn, active, [("user", "oi")])
    (row,) = _sweep_rows(off, active)
    assert str(row["conversation_id"]) == active  # memory off: never swept
    # Just talked: index now, summarize only once idle.
    assert row["needs_index"]
    assert not row["needs_summary"]


def test_sweep_answers_only_worker_principals(new_tenant):
    tenant = new_tenant()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with sync_unit_of_work(job_pool(), org_principal(uuid.UUID(tenant.org_id), "admin", kind="api_key")) as s:
            repository_sync.memory_backlog(s.conn, 0, 10)
