"""Tenant isolation of chat: with org A's credentials nothing of org B's agents, conversations,
messages or citations can be read, listed, written or used as context, through every chat
endpoint and the OpenAI-compatible API."""
from __future__ import annotations

import json
import uuid

import openai
import psycopg
import pytest
import redis as redis_sync

from api.chat.lock import lock_key
from tests.support.chat import (base_url, create_agent, hosted, open_conversation, send,  # noqa: F401
                                stream_send)
from tests.support.isolation import as_user

pytestmark = pytest.mark.usefixtures("hosted")
SECRET = "O código secreto do cofre da loja B é 4471."


@pytest.fixture
def orgs(client, new_tenant, admin_conn):
    """B: an agent with a knowledge base, a conversation with a cited answer. A: its own agent."""
    a, b = new_tenant("A"), new_tenant("B")
    b_kb = client.post("/v1/knowledge-bases", json={"name": "B kb"}, headers=b.headers).json()["id"]
    _add_chunk(admin_conn, b.org_id, b_kb, SECRET)
    b_agent = create_agent(client, b, knowledge_base_ids=[b_kb], name="Agente B")
    b_conv = open_conversation(client, b, b_agent["id"], contact_external_id="b-customer")
    answer = send(client, b, b_agent["id"], b_conv["id"], "Qual o código secreto do cofre?")
    assert answer.status_code == 201, answer.text
    assert answer.json()["citations"], answer.text
    a_agent = create_agent(client, a, name="Agente A")
    a_key = client.post("/v1/api-keys", json={"name": "a"}, headers=a.headers).json()["key"]
    creds = {"user token": a.headers, "api key": {"Authorization": f"Bearer {a_key}"}}
    return a, b, a_agent, b_agent, b_conv, b_kb, answer.json(), creds, a_key


def _add_chunk(admin_conn, org_id, kb_id, text: str) -> None:
    from tests.support.search import Doc, add_document
    add_document(admin_conn, org_id, kb_id, Doc(title="Cofre", content=text), [text])


def test_chat_endpoints_never_reach_another_orgs_data(client, orgs, admin_conn, hosted):
    a, b, a_agent, b_agent, b_conv, b_kb, b_answer, creds, _ = orgs
    for label, headers in creds.items():
        paths = [("post", f"/v1/agents/{b_agent['id']}/conversations", {"contact_external_id": "x"}),
                 ("get", f"/v1/agents/{b_agent['id']}/conversations", None),
                 ("get", f"/v1/conversations/{b_conv['id']}", None),
                 ("get", f"/v1/conversations/{b_conv['id']}/messages", None),
                 ("post", f"/v1/conversations/{b_conv['id']}/close", None),
                 ("post", f"/v1/agents/{b_agent['id']}/conversations/{b_conv['id']}/messages", {"content": "oi"}),
                 ("post", f"/v1/agents/{a_agent['id']}/conversations/{b_conv['id']}/messages", {"content": "oi"}),
                 ("post", f"/v1/agents/{b_agent['id']}/conversations/{b_conv['id']}/messages",
                  {"content": "oi", "stream": True}),
                 ("post", f"/v1/agents/{a_agent['id']}/conversations", {"contact_id": b_conv["contact_id"]})]
        for method, path, body in paths:
            resp = client.request(method, path, json=body, headers=headers)
            assert resp.status_code == 404, (label, method, path, resp.status_code, resp.text)
            assert b_agent["id"] not in resp.text
            assert b_conv["contact_id"] not in resp.text
        # Acting as B with A's credentials is refused like an unknown organization.
        as_b = {**headers, "X-Organization-Id": b.org_id}
        assert client.get(f"/v1/agents/{b_agent['id']}/conversations", headers=as_b).status_code == 404
        assert send(client, a, b_agent["id"], b_conv["id"], "oi", headers=as_b).status_code == 404
    # Nothing of B changed: still open, still two messages, B can keep chatting at once.
    assert client.get(f"/v1/conversations/{b_conv['id']}", headers=b.headers).json()["status"] == "open"
    assert len(client.get(f"/v1/conversations/{b_conv['id']}/messages", headers=b.headers).json()["data"]) == 2
    assert send(client, b, b_agent["id"], b_conv["id"], "Mais uma").status_code == 201


def test_openai_api_never_reaches_another_orgs_agents(orgs, base_url):
    a, b, a_agent, b_agent, b_conv, b_kb, b_answer, creds, a_key = orgs
    oai = openai.OpenAI(base_url=base_url, api_key=a_key, max_retries=0)
    assert f"agent:{b_agent['id']}" not in [m.id for m in oai.models.list().data]
    for model in (f"agent:{b_agent['id']}", b_agent["id"], "Agente B"):
        with pytest.raises(openai.NotFoundError):
            oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "oi"}])
        with pytest.raises(openai.NotFoundError):
            list(oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "oi"}], stream=True))
    with pytest.raises(openai.NotFoundError):  # A's agent cannot continue B's conversation
        oai.chat.completions.create(model=f"agent:{a_agent['id']}", messages=[{"role": "user", "content": "oi"}],
                                    metadata={"conversation_id": b_conv["id"]})
    # The same contact external id in A is a different contact: B's memory is not A's.
    done = oai.chat.completions.create(model=f"agent:{a_agent['id']}", user="b-customer",
                                       messages=[{"role": "user", "content": "Qual o código secreto do cofre?"}])
    assert "4471" not in done.choices[0].message.content
    assert not done.model_extra["citations"]


def test_b_knowledge_is_never_context_or_citation_for_a(client, orgs, admin_conn, hosted, stack):
    a, b, a_agent, b_agent, b_conv, b_kb, b_answer, creds, _ = orgs
    # Even an agent row that names B's knowledge base (written past the API's check) gets nothing.
    admin_conn.execute("update public.agents set knowledge_base_ids = %s where id = %s", [[b_kb], a_agent["id"]])
    conv = open_conversation(client, a, a_agent["id"])
    resp = send(client, a, a_agent["id"], conv["id"], "Qual o código secreto do cofre?")
    assert resp.status_code == 201
    assert resp.json()["citations"] == []
    assert "4471" not in json.dumps(hosted.requests[-1]["body"])
    # B's citations are invisible to A in SQL too (RLS), though they exist.
    b_message = b_answer["message"]["id"]
    assert admin_conn.execute("select count(*) from public.citations where message_id = %s",
                              [b_message]).fetchone()[0] == len(b_answer["citations"])
    with psycopg.connect(stack["DATABASE_URL"]) as conn:
        as_user(conn, a.user_id)
        for table in ("citations", "conversation_history", "conversations", "usage_events"):
            rows = conn.execute(f"select count(*) from public.{table} where organization_id = %s",
                                [b.org_id]).fetchone()[0]
            assert rows == 0, table
        assert conn.execute("select count(*) from public.citations where message_id = %s",
                            [b_message]).fetchone()[0] == 0


def test_locks_and_short_term_memory_are_per_organization(client, orgs, stack):
    a, b, a_agent, b_agent, b_conv, b_kb, b_answer, creds, _ = orgs
    r = redis_sync.Redis.from_url(stack["REDIS_URL"])
    # A lock taken under A's namespace for B's conversation id does not block B.
    r.set(lock_key(a.org_id, b_conv["id"]), "a-holds-it", px=10_000)
    assert send(client, b, b_agent["id"], b_conv["id"], "Ainda aí?").status_code == 201
    r.delete(lock_key(a.org_id, b_conv["id"]))
    assert not r.exists(f"stm:{a.org_id}:{b_conv['id']}")
    assert r.exists(f"stm:{b.org_id}:{b_conv['id']}")
    assert not list(r.scan_iter(f"chat:lock:{a.org_id}:*"))  # A's failed attempts left no lock behind


def test_a_foreign_conversation_id_answers_like_a_missing_one(client, orgs):
    a, b, a_agent, b_agent, b_conv, *_ = orgs
    ghost = str(uuid.uuid4())
    foreign = send(client, a, a_agent["id"], b_conv["id"], "oi")
    missing = send(client, a, a_agent["id"], ghost, "oi")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    status, events = stream_send(client, a, a_agent["id"], b_conv["id"], "oi")
    assert status == 404
