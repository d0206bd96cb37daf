"""Hostile input around chat: Chatwoot webhooks before and after authentication, agent
templates that would stall every message, and an answer whose cited document is replaced
while the model generates (issue 10)."""
from __future__ import annotations

import json
import time

import psycopg

from api.channels.chatwoot import sign
from tests.support.chat import create_agent, hosted, open_conversation, send  # noqa: F401 (fixture)
from tests.test_channels import chatwoot, make_integration, message_created, post  # noqa: F401 (fixture)

LOOPS = "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}x" \
        "{% endfor %}{% endfor %}{% endfor %}"


def test_chatwoot_timestamp_is_parsed_defensively(client, new_tenant, chatwoot):  # noqa: F811
    t = new_tenant()
    integration = make_integration(client, t, chatwoot, webhook_secret="s3cret")
    body = json.dumps(message_created(11)).encode()
    # Superscript two (latin-1, as a header carries it), more digits than int() takes, a sign,
    # Arabic-Indic digits (UTF-8 bytes).
    for stamp in (b"\xb2", b"1" * 5_000, b"-5", "١٢٣".encode()):
        resp = post(client, integration, body, headers={"X-Chatwoot-Timestamp": stamp,
                                                        "X-Chatwoot-Signature": sign("s3cret", 0, body)})
        assert resp.status_code == 401, (stamp[:10], resp.text)
        assert resp.json()["error"]["code"] == "invalid_signature"
    now = int(time.time())
    ok = post(client, integration, body, headers={"X-Chatwoot-Timestamp": str(now),
                                                  "X-Chatwoot-Signature": sign("s3cret", now, body)})
    assert ok.status_code == 200, ok.text


def test_chatwoot_payload_shapes_are_422_not_500(client, new_tenant, chatwoot):  # noqa: F811
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    token = integration["token"]
    long_id = "9" * 300
    for payload in (message_created(long_id), message_created(12, message_id=long_id),
                    message_created(12, sender={"id": long_id, "type": "contact"}),
                    message_created({"nested": 1}), message_created(12, message_id=10 ** 80),
                    message_created(12, sender={"id": [1], "type": "contact"})):
        resp = post(client, integration, payload, token=token)
        assert resp.status_code == 422, (str(payload)[:80], resp.text)
    deep = b'{"event": "message_created", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert post(client, integration, deep, token=token).status_code == 422
    huge = b'{"event": "message_created", "id": ' + b"1" * 5_000 + b"}"
    assert post(client, integration, huge, token=token).status_code == 422


def test_chatwoot_text_with_nul_is_stored_without_it(client, new_tenant, chatwoot, admin_conn):  # noqa: F811
    """A channel's customer message is not refused for a stray NUL: it is cleaned and kept."""
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    payload = message_created(13, content="Oi\x00, tudo bem?\ud800",
                              sender={"id": 7, "name": "Jo\x00ão " + "x" * 400, "type": "contact"})
    resp = post(client, integration, payload, token=integration["token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted", resp.text
    content, = admin_conn.execute("select content from public.channel_events where integration_id = %s",
                                  [integration["id"]]).fetchone()
    assert content == "Oi, tudo bem?"
    name, = admin_conn.execute("select name from public.contacts where organization_id = %s and external_id like "
                               "'chatwoot:%%'", [t.org_id]).fetchone()
    assert name.startswith("João x")
    assert len(name) == 200


def test_agent_template_that_would_stall_every_message_is_refused(client, new_tenant, hosted, stack):  # noqa: F811
    t = new_tenant()
    resp = client.post("/v1/agents", json={"name": "Lenta", "model": "fake-hosted", "system_prompt": LOOPS},
                       headers=t.headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "prompt_too_expensive", resp.text
    agent = create_agent(client, t, system_prompt="Você é {{ agent_name }}.")
    patch = client.patch(f"/v1/agents/{agent['id']}", json={"system_prompt": LOOPS}, headers=t.headers)
    assert patch.status_code == 422
    # One saved before this check (written straight to the table) fails its messages with a 422
    # in milliseconds instead of rendering for hours on the event loop; the message is kept.
    with psycopg.connect(stack["MIGRATION_DATABASE_URL"], autocommit=True) as admin:
        admin.execute("update public.agents set system_prompt = %s where id = %s", [LOOPS, agent["id"]])
    conversation = open_conversation(client, t, agent["id"])
    started = time.monotonic()
    resp = send(client, t, agent["id"], conversation["id"], "Oi")
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "prompt_too_expensive", resp.text
    assert time.monotonic() - started < 30  # a tripwire, not a speed target (the old render took hours)
    assert client.get("/healthz").status_code == 200


def test_answer_is_kept_when_its_cited_document_is_replaced_during_generation(
        client, new_tenant, celery_worker, admin_conn, hosted, stack):  # noqa: F811
    from tests.support.chat import add_knowledge
    t = new_tenant()
    kb = add_knowledge(client, t, {"Trocas": "Política de trocas: você pode trocar o produto em até 30 dias.",
                                   "Frete": "Frete grátis para compras acima de R$ 200."})
    agent = create_agent(client, t, knowledge_base_ids=[kb])
    conversation = open_conversation(client, t, agent["id"])
    trocas, = admin_conn.execute("select id from public.documents where knowledge_base_id = %s and title = 'Trocas'",
                                 [kb]).fetchone()

    def reingest(_body):  # what the ingest worker's swap does: the old version's chunks go away
        with psycopg.connect(stack["MIGRATION_DATABASE_URL"], autocommit=True) as admin:
            admin.execute("delete from public.document_chunks where document_id = %s", [trocas])

    hosted.before_reply(reingest)
    try:
        resp = send(client, t, agent["id"], conversation["id"], "Em quantos dias posso trocar um produto?",
                    client_message_id="troca-1")
    finally:
        hosted.before_reply(None)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["message"]["content"].startswith("echo: ")
    assert all(c["document_title"] != "Trocas" for c in body["citations"])
    stored = admin_conn.execute("select count(*) from public.conversation_history where conversation_id = %s "
                                "and role = 'assistant'", [conversation["id"]]).fetchone()[0]
    assert stored == 1
    cited = admin_conn.execute("select count(*) from public.citations where message_id = %s",
                               [body["message"]["id"]]).fetchone()[0]
    assert cited == len(body["citations"])
    again = send(client, t, agent["id"], conversation["id"], "Em quantos dias posso trocar um produto?",
                 client_message_id="troca-1")
    assert again.status_code == 200
    assert again.json()["message"]["id"] == body["message"]["id"]
