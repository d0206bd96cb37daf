"""Chatwoot agent bot channel: authentication (token, signature window), dedupe, and a reply
posted back to a fake Chatwoot on 127.0.0.1 by the real worker through the chat service.

The worker answers with the fake hosted model: tests.support.memory (imported here, before
the worker starts) points infra/litellm.yaml's `gpt-4o-mini` at a FakeOpenAIServer, which
echoes "echo: <last user message>".
"""
import json
import time
import uuid

import pytest

from api.channels.chatwoot import sign
from tests.conftest import wait_for
from tests.fakes.http_recorder import HttpRecorder
from tests.support.memory import MODEL

ACCOUNT = 7


@pytest.fixture(scope="module")
def chatwoot():
    server = HttpRecorder().start()
    yield server
    server.stop()


def make_agent(client, tenant) -> dict:
    resp = client.post("/v1/agents", json={"name": "Bot", "model": MODEL, "max_tokens": 24, "memory_enabled": False},
                       headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def make_integration(client, tenant, chatwoot, **body) -> dict:
    agent = make_agent(client, tenant)
    resp = client.post("/v1/channel-integrations", headers=tenant.headers, json={
        "agent_id": agent["id"], "base_url": chatwoot.base_url + "/", "account_id": ACCOUNT,
        "api_access_token": "cw-token-123", **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def message_created(conversation: int, message_id: int | None = None, content: str = "Qual o prazo de entrega?",
                    **extra) -> dict:
    return {"event": "message_created", "id": message_id or int(time.time() * 1000) % 10**9, "content": content,
            "message_type": "incoming", "private": False, "content_type": "text",
            "sender": {"id": 501, "name": "Maria Souza", "type": "contact"},
            "conversation": {"id": conversation, "inbox_id": 3}, "account": {"id": ACCOUNT, "name": "Loja"}, **extra}


def post(client, integration: dict, payload, *, token: str | None = None, headers=None):
    url = integration["inbound_path"] + (f"?token={token}" if token else "")
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(url, content=data, headers={"Content-Type": "application/json", **(headers or {})})


def replies_to(chatwoot, conversation: int):
    return chatwoot.to(f"/api/v1/accounts/{ACCOUNT}/conversations/{conversation}/messages")


def test_incoming_message_is_answered_in_chatwoot_once(client, new_tenant, chatwoot, admin_conn, celery_worker):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    assert integration["token"].startswith("rch_")
    assert "api_access_token" not in json.dumps(integration)
    conversation = 9000 + int(uuid.uuid4().int % 1000)
    payload = message_created(conversation)
    resp = post(client, integration, payload, token=integration["token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted", resp.text

    [reply] = wait_for(lambda: replies_to(chatwoot, conversation), 60, message="reply posted to Chatwoot")
    assert reply.headers["api_access_token"] == "cw-token-123"
    assert reply.json()["message_type"] == "outgoing"
    assert reply.json()["private"] is False
    assert reply.json()["content"].startswith("echo: ")
    assert "Qual o prazo de entrega?" in reply.json()["content"]

    # The same webhook again (Chatwoot retried it): 200, no second answer.
    again = post(client, integration, payload, token=integration["token"])
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    # A new message in the same Chatwoot conversation continues the same Renum conversation.
    second = post(client, integration, message_created(conversation, content="E o frete?"),
                  token=integration["token"])
    assert second.json()["status"] == "accepted"
    wait_for(lambda: len(replies_to(chatwoot, conversation)) == 2, 60, message="second reply")
    time.sleep(1.5)
    assert len(replies_to(chatwoot, conversation)) == 2

    rows = admin_conn.execute(
        "select c.channel, c.external_id, ct.external_id, ct.name, count(h.id) from public.conversations c "
        "join public.contacts ct on ct.id = c.contact_id "
        "join public.conversation_history h on h.conversation_id = c.id "
        "where c.organization_id = %s group by 1, 2, 3, 4", [t.org_id]).fetchall()
    assert rows == [("chatwoot", f"{ACCOUNT}:{conversation}", f"chatwoot:{ACCOUNT}:501", "Maria Souza", 4)]
    statuses = admin_conn.execute("select status, reply_message_id is not null from public.channel_events "
                                  "where integration_id = %s", [integration["id"]]).fetchall()
    assert statuses == [("replied", True), ("replied", True)]


def test_sweep_answers_messages_whose_reply_task_was_lost(client, new_tenant, chatwoot, admin_conn, celery_worker):
    from api.channels import jobs as channel_jobs
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    conversation = 8000 + int(uuid.uuid4().int % 1000)
    assert post(client, integration, message_created(conversation), token=integration["token"]).status_code == 200
    wait_for(lambda: replies_to(chatwoot, conversation), 60, message="first reply")
    [conv_id] = admin_conn.execute("select conversation_id from public.channel_events where integration_id = %s",
                                   [integration["id"]]).fetchone()
    # Two messages stored as received whose reply task never ran (enqueue failed, worker died):
    # one recent enough to retry, one that used up its re-enqueues.
    for external_id, content, sweeps in (("message_created:lost-1", "Ainda tem estoque?", 0),
                                         ("message_created:lost-2", "Alguém aí?", channel_jobs.SWEEP_LIMIT)):
        admin_conn.execute(
            "insert into public.channel_events (organization_id, integration_id, external_id, conversation_id, "
            "external_conversation_id, content, created_at, sweeps) values (%s, %s, %s, %s, %s, %s, "
            "now() - interval '10 minutes', %s)",
            [t.org_id, integration["id"], external_id, conv_id, str(conversation), content, sweeps])

    assert channel_jobs.sweep() == 1
    assert channel_jobs.sweep() == 0  # re-enqueued at most once per STALE_S
    replies = wait_for(lambda: len(replies_to(chatwoot, conversation)) == 2 and replies_to(chatwoot, conversation),
                       60, message="reply to the swept message")
    assert "Ainda tem estoque?" in replies[-1].json()["content"]
    def statuses() -> dict:
        return dict(admin_conn.execute("select external_id, status from public.channel_events "
                                       "where integration_id = %s", [integration["id"]]).fetchall())
    # The reply is posted a moment before the event is marked replied.
    rows = wait_for(lambda: statuses()["message_created:lost-1"] == "replied" and statuses(), 30,
                    message="swept message marked replied")
    assert rows["message_created:lost-2"] == "failed"


def test_only_incoming_customer_messages_are_answered(client, new_tenant, chatwoot, admin_conn):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    token = integration["token"]
    for payload in (message_created(1, message_type="outgoing"), message_created(1, private=True),
                    message_created(1, content="  "), {"event": "conversation_status_changed", "id": 5},
                    message_created(1, sender={"id": 9, "type": "user"})):
        resp = post(client, integration, payload, token=token)
        assert resp.status_code == 200, (payload, resp.text)
        assert resp.json()["status"] == "ignored", (payload, resp.text)
    assert admin_conn.execute("select count(*) from public.channel_events where integration_id = %s",
                              [integration["id"]]).fetchone()[0] == 0


def test_inbound_errors(client, new_tenant, chatwoot):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    token = integration["token"]
    assert post(client, integration, message_created(1), token="rch_wrong").status_code == 401
    assert post(client, integration, message_created(1)).status_code == 401
    by_header = post(client, integration, {"event": "conversation_created"}, headers={"X-Renum-Channel-Token": token})
    assert by_header.status_code == 200
    assert by_header.json()["status"] == "ignored"
    unknown = {**integration, "inbound_path": f"/v1/channels/chatwoot/{uuid.uuid4()}"}
    assert post(client, unknown, message_created(1), token=token).status_code == 404
    assert post(client, integration, b"not json", token=token).status_code == 422
    assert post(client, integration, b"[1, 2]", token=token).status_code == 422
    assert post(client, integration, {"event": "message_created", "id": 1}, token=token).status_code == 422
    # A disabled integration is acknowledged but not answered.
    assert client.patch(f"/v1/channel-integrations/{integration['id']}", json={"active": False},
                        headers=t.headers).status_code == 200
    off = post(client, integration, message_created(1), token=token)
    assert off.status_code == 200
    assert off.json()["status"] == "ignored"


def test_signed_requests_within_the_window(client, new_tenant, chatwoot):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot, webhook_secret="cw-webhook-secret")
    assert integration["signature_required"] is True
    body = json.dumps(message_created(4242)).encode()

    def signed(offset: int, secret: str = "cw-webhook-secret", data: bytes = body) -> dict:
        # The timestamp is taken per request: a slow request must not move it into the window.
        ts = int(time.time()) + offset
        return {"X-Chatwoot-Timestamp": str(ts), "X-Chatwoot-Signature": sign(secret, ts, data)}

    assert post(client, integration, body, headers=signed(-320)).status_code == 401  # outside 300 s
    assert post(client, integration, body, headers=signed(+320)).status_code == 401
    assert post(client, integration, body, headers=signed(0, secret="other")).status_code == 401
    fresh = signed(0)
    tampered = {**fresh, "X-Chatwoot-Timestamp": str(int(fresh["X-Chatwoot-Timestamp"]) - 1)}
    assert post(client, integration, body, headers=tampered).status_code == 401
    # With a webhook secret, the URL token alone is not enough.
    assert post(client, integration, body, token=integration["token"]).status_code == 401
    ok = post(client, integration, body, headers=signed(-280))
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "accepted", ok.text
    dup = post(client, integration, body, headers=signed(0))
    assert dup.status_code == 200
    assert dup.json()["status"] == "duplicate"


def test_integration_crud_validation_and_roles(client, new_tenant, new_user, chatwoot):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    assert integration["base_url"] == chatwoot.base_url
    assert integration["account_id"] == str(ACCOUNT)
    got = client.get(f"/v1/channel-integrations/{integration['id']}", headers=t.headers)
    assert got.status_code == 200
    assert "token" not in got.json()
    assert "cw-token-123" not in got.text
    listed = client.get("/v1/channel-integrations", headers=t.headers).json()["data"]
    assert [i["id"] for i in listed] == [integration["id"]]
    base = {"agent_id": integration["agent_id"], "base_url": "https://chat.example.com", "account_id": 1,
            "api_access_token": "x"}
    for bad in ({"base_url": "ftp://chat.example.com"}, {"account_id": "abc"}, {"kind": "whatsapp"},
                {"api_access_token": ""}):
        resp = client.post("/v1/channel-integrations", json={**base, **bad}, headers=t.headers)
        assert resp.status_code == 422, (bad, resp.text)
    assert client.post("/v1/channel-integrations", json={**base, "agent_id": str(uuid.uuid4())},
                       headers=t.headers).status_code == 404

    member_id, member_token = new_user()
    client.post(f"/v1/organizations/{t.org_id}/members", json={"user_id": str(member_id)}, headers=t.headers)
    member = {"Authorization": f"Bearer {member_token}"}
    assert client.post("/v1/channel-integrations", json=base, headers=member).status_code == 403
    assert client.get(f"/v1/channel-integrations/{integration['id']}", headers=member).status_code == 404
    assert client.delete(f"/v1/channel-integrations/{integration['id']}", headers=t.headers).status_code == 204
    assert post(client, integration, message_created(1), token=integration["token"]).status_code == 404


def test_inbound_is_rate_limited_per_integration_and_sender(client, new_tenant, chatwoot, monkeypatch):
    from api.core.config import get_settings
    monkeypatch.setattr(get_settings(), "channel_rate_limit_per_minute", 2)
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    ignored = message_created(1, content="x", message_type="outgoing")  # accepted, not answered
    codes = [post(client, integration, {**ignored, "id": i}, token=integration["token"]).status_code for i in range(3)]
    assert codes[:2] == [200, 200]
    assert codes[2] == 429
    limited = post(client, integration, {**ignored, "id": 99}, token=integration["token"])
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"

