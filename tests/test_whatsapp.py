"""WhatsApp Cloud API channel through the real API, the real worker and a fake Graph API on
127.0.0.1 (tests/fakes/graph_api.py): handshake, X-Hub-Signature-256, dedupe of Meta's
retries, statuses, interactive replies, media fallback, provider 429/5xx retried, the 24-hour
window, human handoff and release, credentials encrypted at rest.

The agent answers with the fake hosted model (tests.support.memory): "echo: <message>".
"""
from __future__ import annotations

import json
import time
import uuid

import pytest

from api.channels.whatsapp import sign
from api.core import secretbox
from tests.conftest import wait_for
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.http_recorder import HttpRecorder
from tests.support.memory import FAKE_LLM, MODEL

ACCESS_TOKEN = "EAAG-fake-access-token"
APP_SECRET = "meta-app-secret-123"
VERIFY_TOKEN = "verify-me-please"


@pytest.fixture(scope="module")
def graph():
    server = FakeGraphAPI(ACCESS_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver():
    server = HttpRecorder().start()
    yield server
    server.stop()


def phone_number_id() -> str:
    return str(100000000000000 + uuid.uuid4().int % 10**14)


def wa_id() -> str:
    return "55119" + str(uuid.uuid4().int % 10**8).zfill(8)


def make_integration(client, tenant, graph, *, agent: dict | None = None, **settings) -> dict:
    if agent is None:
        resp = client.post("/v1/agents", json={"name": "Bot", "model": MODEL, "max_tokens": 24,
                                               "memory_enabled": False}, headers=tenant.headers)
        assert resp.status_code == 201, resp.text
        agent = resp.json()
    resp = client.post("/v1/channel-integrations", headers=tenant.headers, json={
        "kind": "whatsapp", "agent_id": agent["id"], "phone_number_id": phone_number_id(),
        "access_token": ACCESS_TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN,
        "base_url": graph.base_url, "settings": settings})
    assert resp.status_code == 201, resp.text
    return resp.json()


def webhook(integration: dict, *messages: dict, statuses: list | None = None, sender: str = "", name="Maria") -> dict:
    """Meta's `messages` change for the integration's number (shape of the Cloud API docs)."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "5511400000000", "phone_number_id": integration["phone_number_id"]}}
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": sender or messages[0]["from"]}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}


def text(sender: str, body: str, *, at: float | None = None, message_id: str | None = None) -> dict:
    return {"from": sender, "id": message_id or f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(at or time.time())),
            "type": "text", "text": {"body": body}}


def post(client, integration: dict, payload: dict | bytes, *, secret: str = APP_SECRET, signature: str | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None or secret:
        headers["X-Hub-Signature-256"] = signature if signature is not None else sign(secret, body)
    return client.post(integration["inbound_path"], content=body, headers=headers)


def event_statuses(admin_conn, integration: dict) -> list[str]:
    return [r[0] for r in admin_conn.execute("select status from public.channel_events where integration_id = %s "
                                             "order by created_at", [integration["id"]]).fetchall()]


def test_handshake_and_credentials_encrypted_at_rest(client, new_tenant, graph, admin_conn):
    t = new_tenant()
    integration = make_integration(client, t, graph)
    assert integration["inbound_path"] == f"/v1/channels/whatsapp/{integration['id']}"
    assert integration["signature_required"] is True
    assert integration.get("token") is None
    for secret in (ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in json.dumps(integration)
        assert secret not in client.get(f"/v1/channel-integrations/{integration['id']}", headers=t.headers).text
        assert secret not in client.get("/v1/channel-integrations", headers=t.headers).text
    row = admin_conn.execute("select access_token, app_secret, verify_token from public.channel_integrations "
                             "where id = %s", [integration["id"]]).fetchone()
    assert all(v.startswith("enc:v1:") for v in row)
    context = f"channel_integrations.access_token:{t.org_id}"
    assert secretbox.decrypt(row[0], context=context) == ACCESS_TOKEN
    with pytest.raises(secretbox.SecretUnavailable):  # bound to its column and organization
        secretbox.decrypt(row[0], context=f"channel_integrations.access_token:{uuid.uuid4()}")

    path = integration["inbound_path"]
    ok = client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                  "hub.challenge": "1158201444"})
    assert ok.status_code == 200
    assert ok.text == "1158201444"
    wrong = client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "invalid_verify_token"
    assert client.get(path, params={"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN}).status_code == 403
    assert client.get(f"/v1/channels/whatsapp/{uuid.uuid4()}", params={"hub.mode": "subscribe"}).status_code == 404

    # New credentials replace the stored ones, encrypted; Chatwoot fields do not apply.
    patched = client.patch(f"/v1/channel-integrations/{integration['id']}", headers=t.headers,
                           json={"verify_token": "another-verify-token"})
    assert patched.status_code == 200
    assert "another-verify-token" not in patched.text
    assert client.get(path, params={"hub.mode": "subscribe", "hub.verify_token": "another-verify-token",
                                    "hub.challenge": "2"}).text == "2"
    assert client.patch(f"/v1/channel-integrations/{integration['id']}", headers=t.headers,
                        json={"api_access_token": "x"}).status_code == 422


def test_signature_is_required(client, new_tenant, graph, admin_conn):
    t = new_tenant()
    integration = make_integration(client, t, graph)
    payload = webhook(integration, text(wa_id(), "Oi"))
    assert post(client, integration, payload, secret="").status_code == 401  # no header
    assert post(client, integration, payload, secret="another-app-secret").status_code == 401
    body = json.dumps(payload).encode()
    tampered = post(client, integration, body.replace(b"Oi", b"Ol"), signature=sign(APP_SECRET, body))
    assert tampered.status_code == 401
    assert tampered.json()["error"]["code"] == "invalid_signature"
    assert post(client, integration, b"not json").status_code == 422
    assert post(client, integration, {"object": "whatsapp_business_account"}).status_code == 422
    assert event_statuses(admin_conn, integration) == []


def test_text_is_answered_once_and_statuses_are_ignored(client, new_tenant, graph, admin_conn, celery_worker):
    t = new_tenant()
    integration = make_integration(client, t, graph)
    customer = wa_id()
    payload = webhook(integration, text(customer, "Qual o horário de funcionamento?"))
    first = post(client, integration, payload)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted", first.text
    [reply] = wait_for(lambda: graph.to(customer), 60, message="reply sent through the Graph API")
    assert reply["messaging_product"] == "whatsapp"
    assert reply["type"] == "text"
    assert reply["text"]["body"].startswith("echo: ")
    assert "horário de funcionamento" in reply["text"]["body"]
    assert reply["phone_number_id"] == integration["phone_number_id"]

    # Meta retries the same webhook (no 200 seen): one answer only.
    again = post(client, integration, payload)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    receipt = {"id": reply["id"], "status": "delivered", "timestamp": str(int(time.time())), "recipient_id": customer}
    for _ in range(2):  # delivery receipts, replayed: acknowledged, never answered
        ack = post(client, integration, webhook(integration, statuses=[receipt]))
        assert ack.status_code == 200
        assert ack.json()["status"] == "ignored"
    # An interactive (button) reply is read as the chosen title, in the same conversation.
    button = {"from": customer, "id": f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(time.time())),
              "type": "interactive", "interactive": {"type": "button_reply",
                                                     "button_reply": {"id": "opt-2", "title": "Entrega"}}}
    assert post(client, integration, webhook(integration, button)).json()["status"] == "accepted"
    wait_for(lambda: len(graph.to(customer)) == 2, 60, message="reply to the button")
    time.sleep(1.0)
    assert [m["text"]["body"] for m in graph.to(customer)][1].endswith("Entrega")
    assert len(graph.to(customer)) == 2
    assert event_statuses(admin_conn, integration) == ["replied", "replied"]
    [(channel, external_id, contact_phone)] = admin_conn.execute(
        "select c.channel, c.external_id, ct.phone from public.conversations c "
        "join public.contacts ct on ct.id = c.contact_id where c.organization_id = %s", [t.org_id]).fetchall()
    assert (channel, external_id, contact_phone) == ("whatsapp", f"{integration['phone_number_id']}:{customer}",
                                                     f"+{customer}")


def test_provider_throttling_and_outages_are_retried(client, new_tenant, graph, admin_conn, celery_worker):
    t = new_tenant()
    integration = make_integration(client, t, graph)
    customer = wa_id()
    # Two failures: retried inside one attempt of the task.
    graph.fail(429, 500)
    assert post(client, integration, webhook(integration, text(customer, "Tem pão?"))).status_code == 200
    wait_for(lambda: graph.to(customer), 60, message="reply after 429 and 500")
    # Six failures: the task itself retries later; the message is not lost.
    other = wa_id()
    graph.fail(429, 503, 500, 429, 503, 500)
    assert post(client, integration, webhook(integration, text(other, "Tem leite?"))).status_code == 200
    [reply] = wait_for(lambda: graph.to(other), 60, message="reply after the task retried")
    assert "Tem leite?" in reply["text"]["body"]
    wait_for(lambda: event_statuses(admin_conn, integration) == ["replied", "replied"], 30, message="both replied")
    assert len(graph.to(customer)) == 1
    assert len(graph.to(other)) == 1


def test_voice_note_gets_the_fallback_text(client, new_tenant, graph, admin_conn, celery_worker):
    t = new_tenant()
    integration = make_integration(client, t, graph, media="fallback", media_fallback_text="Pode escrever, por favor?")
    customer = wa_id()
    voice = {"from": customer, "id": f"wamid.{uuid.uuid4().hex}", "timestamp": str(int(time.time())), "type": "audio",
             "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "id": "1234567890", "voice": True}}
    assert post(client, integration, webhook(integration, voice)).json()["status"] == "accepted"
    [reply] = wait_for(lambda: graph.to(customer), 60, message="fallback text")
    assert reply["text"]["body"] == "Pode escrever, por favor?"
    assert admin_conn.execute("select message_type from public.channel_events where integration_id = %s",
                              [integration["id"]]).fetchone()[0] == "voice"


def test_outside_the_24_hour_window(client, new_tenant, graph, admin_conn, celery_worker):
    t = new_tenant()
    templated = make_integration(client, t, graph, window_template={"name": "retomar_conversa", "language": "pt_BR"})
    customer = wa_id()
    late = text(customer, "Oi, ainda estão aí?", at=time.time() - 25 * 3600)  # Meta redelivered it a day late
    assert post(client, templated, webhook(templated, late)).json()["status"] == "accepted"
    [sent] = wait_for(lambda: graph.to(customer), 60, message="template")
    assert sent["type"] == "template" and sent["template"] == {"name": "retomar_conversa",
                                                               "language": {"code": "pt_BR"}}
    # Without a template: the conversation goes to a human. Also when Graph says the window closed.
    plain = make_integration(client, t, graph)
    late_customer, closed_customer = wa_id(), wa_id()
    assert post(client, plain, webhook(plain, text(late_customer, "Olá?", at=time.time() - 25 * 3600))).status_code == 200
    graph.fail(131047)
    assert post(client, plain, webhook(plain, text(closed_customer, "Olá de novo"))).status_code == 200
    wait_for(lambda: event_statuses(admin_conn, plain) == ["handoff", "handoff"], 60, message="handoffs")
    assert graph.to(late_customer) == []
    assert graph.to(closed_customer) == []


def test_handoff_stops_the_agent_until_released(client, new_tenant, graph, receiver, admin_conn, celery_worker):
    t = new_tenant()
    endpoint = client.post("/v1/webhooks", json={"url": receiver.url(f"/hooks/{t.org_id}"),
                                                 "event_types": ["conversation.handoff"]}, headers=t.headers)
    assert endpoint.status_code == 201, endpoint.text
    integration = make_integration(client, t, graph, handoff_message="Um atendente já vai falar com você.")
    customer = wa_id()
    asks = post(client, integration, webhook(integration, text(customer, "Quero falar com um ATENDENTE, por favor")))
    assert asks.json()["status"] == "accepted"
    [event] = wait_for(lambda: receiver.to(f"/hooks/{t.org_id}"), 60, message="conversation.handoff event")
    data = event.json()["data"]
    assert event.json()["type"] == "conversation.handoff"
    assert data["channel"] == "whatsapp"
    assert data["reason"] == "the customer asked for a person"
    assert data["external_id"].endswith(customer)
    [notice] = wait_for(lambda: graph.to(customer), 30, message="handoff message to the customer")
    assert notice["text"]["body"] == "Um atendente já vai falar com você."
    conversation_id = data["conversation_id"]
    assert not [r for r in FAKE_LLM.requests if "ATENDENTE" in json.dumps(r["body"])]  # the model was not asked

    # While a person has it, messages are stored but not answered.
    post(client, integration, webhook(integration, text(customer, "Alô?")))
    wait_for(lambda: event_statuses(admin_conn, integration) == ["handoff", "handoff"], 30, message="stored")
    time.sleep(1.0)
    assert len(graph.to(customer)) == 1

    released = client.post(f"/v1/conversations/{conversation_id}/release", headers=t.headers)
    assert released.status_code == 200
    assert released.json()["handoff_at"] is None
    post(client, integration, webhook(integration, text(customer, "Voltei, e o pedido?")))
    wait_for(lambda: len(graph.to(customer)) == 2, 60, message="the agent answers again")
    assert "Voltei, e o pedido?" in graph.to(customer)[1]["text"]["body"]

    # The agent declining (its reply carries the decline marker) hands off too.
    FAKE_LLM.script("Quero cancelar meu contrato", "[[handoff]]")
    post(client, integration, webhook(integration, text(customer, "Quero cancelar meu contrato")))
    wait_for(lambda: event_statuses(admin_conn, integration)[-1] == "handoff", 60, message="declined -> handoff")
    reason = admin_conn.execute("select handoff_reason from public.conversations where id = %s",
                                [conversation_id]).fetchone()[0]
    assert reason == "the agent declined to answer"
    assert all("[[handoff]]" not in m["text"]["body"] for m in graph.to(customer))

    # Another organization cannot release or hand off this conversation.
    other = new_tenant()
    assert client.post(f"/v1/conversations/{conversation_id}/release", headers=other.headers).status_code == 404
    assert client.post(f"/v1/conversations/{conversation_id}/handoff", json={}, headers=other.headers).status_code == 404
    manual = client.post(f"/v1/conversations/{uuid.uuid4()}/handoff", json={}, headers=t.headers)
    assert manual.status_code == 404


def test_other_organizations_cannot_see_or_change_the_integration(client, new_tenant, graph):
    t, other = new_tenant(), new_tenant()
    integration = make_integration(client, t, graph)
    path = f"/v1/channel-integrations/{integration['id']}"
    assert client.get(path, headers=other.headers).status_code == 404
    assert client.patch(path, json={"name": "x"}, headers=other.headers).status_code == 404
    assert client.delete(path, headers=other.headers).status_code == 404
    assert integration["id"] not in client.get("/v1/channel-integrations", headers=other.headers).text
