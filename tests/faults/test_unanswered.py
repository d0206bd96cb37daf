"""Answers survive outages: a stored question left without an answer (the process died, the
model or database was down, the client never retried) is answered once by the chat sweep."""
from __future__ import annotations

import uuid

import psycopg
import pytest

from api.chat import repository_sync
from api.core.db import job_pool, job_transaction, sync_unit_of_work
from api.core.principal import SCANNER, org_principal
from tests.support.chat import DOWN, HOSTED, create_agent, hosted, messages_of, open_conversation, send  # noqa: F401
from api.chat import jobs as chat_jobs


def _pending(conv_id: str) -> list[dict]:
    with job_transaction(SCANNER) as session:
        rows = repository_sync.unanswered_questions(session.conn, 60, 3600, 3, 1000)
    return [r for r in rows if str(r["conversation_id"]) == conv_id]


def _orphan(admin_conn, conv: dict, content: str, age_s: int = 300) -> str:
    """A question stored as the chat code stores it, whose answer never came."""
    row = admin_conn.execute(
        "insert into public.conversation_history (organization_id, conversation_id, contact_id, role, content, "
        "created_at) select organization_id, id, contact_id, 'user', %s, now() - make_interval(secs => %s) "
        "from public.conversations where id = %s returning id", [content, age_s, conv["id"]]).fetchone()
    return str(row[0])


def test_stored_question_without_answer_is_answered_once(client, new_tenant, admin_conn, hosted):
    t = new_tenant()
    agent = create_agent(client, t, model=HOSTED, memory_enabled=False)
    conv = open_conversation(client, t, agent["id"])
    question = _orphan(admin_conn, conv, "ainda sem resposta")

    (row,) = _pending(conv["id"])
    assert str(row["message_id"]) == question
    assert str(row["agent_id"]) == agent["id"]
    assert _pending(conv["id"]) == []  # stamped: scheduled once per window

    args = (t.org_id, agent["id"], conv["id"], question)
    assert chat_jobs.answer_question(*args) == "answered"
    assert chat_jobs.answer_question(*args) == "replayed"  # a redelivered task: no second answer
    rows = messages_of(admin_conn, conv["id"])
    assert [r[0] for r in rows] == ["user", "assistant"]
    assert rows[1][1].endswith("ainda sem resposta")
    assert str(rows[1][3]) == question
    # The client's own retry would have found the same answer.
    admin_conn.execute("update public.conversation_history set answer_swept_at = null where id = %s", [question])
    assert _pending(conv["id"]) == []


def test_only_the_latest_recent_question_of_an_open_conversation_is_answered(client, new_tenant, admin_conn, hosted):
    t = new_tenant()
    agent = create_agent(client, t, model=HOSTED, memory_enabled=False)
    superseded = open_conversation(client, t, agent["id"])
    _orphan(admin_conn, superseded, "primeira", age_s=600)
    assert send(client, t, agent["id"], superseded["id"], "segunda").status_code == 201
    fresh = open_conversation(client, t, agent["id"])
    _orphan(admin_conn, fresh, "agora mesmo", age_s=1)  # an answer may still be on its way
    closed = open_conversation(client, t, agent["id"])
    _orphan(admin_conn, closed, "fechada")
    admin_conn.execute("update public.conversations set status = 'closed' where id = %s", [closed["id"]])
    assert _pending(superseded["id"]) == _pending(fresh["id"]) == _pending(closed["id"]) == []


def test_a_model_outage_leaves_it_for_the_next_sweep(client, new_tenant, admin_conn, hosted):
    t = new_tenant()
    agent = create_agent(client, t, model=DOWN, memory_enabled=False)
    conv = open_conversation(client, t, agent["id"])
    question = _orphan(admin_conn, conv, "modelo fora do ar")
    assert chat_jobs.answer_question(t.org_id, agent["id"], conv["id"], question) == "failed"
    assert [r[0] for r in messages_of(admin_conn, conv["id"])] == ["user"]
    # The failed call is on the bill with its error (hosted tokens may have been spent).
    usage = admin_conn.execute("select model, metadata from public.usage_events where message_id = %s",
                               [question]).fetchall()
    assert usage
    assert usage[0][0] == DOWN
    assert usage[0][1]["failed"]
    assert usage[0][1]["error"]["code"]


def test_the_scan_answers_only_worker_principals(new_tenant):
    t = new_tenant()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with sync_unit_of_work(job_pool(), org_principal(uuid.UUID(t.org_id), "admin", kind="api_key")) as s:
            repository_sync.unanswered_questions(s.conn, 0, 3600, 3, 10)
