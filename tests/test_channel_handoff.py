"""Human handoff on Chatwoot: the customer asks for a person -> a private note with the reason and
the conversation toggled to `open` in (a fake) Chatwoot, the agent quiet until released; a
model that keeps failing hands off too; an integration can turn handoff off.
"""
from __future__ import annotations

import uuid

from tests.conftest import wait_for
from tests.support.memory import run
from tests.test_channels import ACCOUNT, chatwoot, make_integration, message_created, post, replies_to  # noqa: F401


def _conversation_number() -> int:
    return 20000 + int(uuid.uuid4().int % 10000)


def _outgoing(chatwoot, conversation: int, *, private: bool) -> list:
    return [r for r in replies_to(chatwoot, conversation) if r.json()["private"] is private]


def test_customer_asking_for_a_person_goes_to_chatwoot_agents(client, new_tenant, chatwoot, admin_conn,
                                                              celery_worker):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot, settings={"handoff_phrases": ["quero o gerente"]})
    conversation = _conversation_number()
    asks = post(client, integration, message_created(conversation, content="Posso falar com uma pessoa?"),
                token=integration["token"])
    assert asks.json()["status"] == "accepted"
    toggle_path = f"/api/v1/accounts/{ACCOUNT}/conversations/{conversation}/toggle_status"
    [toggle] = wait_for(lambda: chatwoot.to(toggle_path), 60, message="toggle_status to open")
    assert toggle.json() == {"status": "open"}
    assert toggle.headers["api_access_token"] == "cw-token-123"
    [note] = _outgoing(chatwoot, conversation, private=True)
    assert "the customer asked for a person" in note.json()["content"]
    assert _outgoing(chatwoot, conversation, private=False) == []  # the agent did not answer
    [(conversation_id, reason)] = admin_conn.execute(
        "select id, handoff_reason from public.conversations where organization_id = %s and handoff_at is not null",
        [t.org_id]).fetchall()
    assert reason == "the customer asked for a person"

    post(client, integration, message_created(conversation, content="Oi?"), token=integration["token"])
    wait_for(lambda: admin_conn.execute("select count(*) from public.channel_events where integration_id = %s "
                                        "and status = 'handoff'", [integration["id"]]).fetchone()[0] == 2, 30,
             message="second message stored for the human")
    assert _outgoing(chatwoot, conversation, private=False) == []

    assert client.post(f"/v1/conversations/{conversation_id}/release", headers=t.headers).status_code == 200
    post(client, integration, message_created(conversation, content="E o frete?"), token=integration["token"])
    [answer] = wait_for(lambda: _outgoing(chatwoot, conversation, private=False), 60, message="answer after release")
    assert "E o frete?" in answer.json()["content"]

    # The integration's own phrase hands off as well.
    post(client, integration, message_created(conversation, content="Então QUERO O GERENTE!"), token=integration["token"])
    wait_for(lambda: len(chatwoot.to(toggle_path)) == 2, 60, message="second handoff")


def test_handoff_can_be_turned_off(client, new_tenant, chatwoot, celery_worker):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot, settings={"handoff_enabled": False})
    conversation = _conversation_number()
    post(client, integration, message_created(conversation, content="Quero falar com um atendente"),
         token=integration["token"])
    [answer] = wait_for(lambda: _outgoing(chatwoot, conversation, private=False), 60, message="agent answers")
    assert answer.json()["content"].startswith("echo: ")
    assert chatwoot.to(f"/api/v1/accounts/{ACCOUNT}/conversations/{conversation}/toggle_status") == []


async def _give_up(org_id: str, event_id: str) -> str:
    # Imported here, not at collection: the test process must not load the worker's modules
    # before the Celery worker fixture has started.
    from api.channels import reply
    from api.chat.transactions import Transactions
    from api.core.config import get_settings
    from api.core.db import async_pool
    from api.core.principal import org_principal
    pool = async_pool(get_settings().database_url, min_size=1, max_size=1)
    await pool.open(wait=True)
    try:
        tx = Transactions(pool, org_principal(uuid.UUID(org_id), "admin", kind="worker"), uuid.UUID(org_id))
        return await reply.give_up(tx, uuid.UUID(event_id), "the model is unavailable", model_failed=True)
    finally:
        await pool.close()


def test_a_model_that_keeps_failing_hands_off(client, new_tenant, chatwoot, admin_conn, celery_worker):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    conversation = _conversation_number()
    post(client, integration, message_created(conversation), token=integration["token"])
    wait_for(lambda: replies_to(chatwoot, conversation), 60, message="first answer")
    [conversation_id] = admin_conn.execute("select conversation_id from public.channel_events "
                                           "where integration_id = %s", [integration["id"]]).fetchone()
    # A message whose task used up its retries on a model outage (workers.channels.reply_to_message).
    [event_id] = admin_conn.execute(
        "insert into public.channel_events (organization_id, integration_id, external_id, conversation_id, "
        "external_conversation_id, content) values (%s, %s, 'message_created:outage', %s, %s, 'Oi?') returning id",
        [t.org_id, integration["id"], conversation_id, str(conversation)]).fetchone()
    assert run(_give_up(t.org_id, str(event_id))) == "handoff"
    [note] = _outgoing(chatwoot, conversation, private=True)
    assert "the agent could not answer: the model is unavailable" in note.json()["content"]
    assert admin_conn.execute("select status from public.channel_events where id = %s",
                              [event_id]).fetchone()[0] == "handoff"


def test_resolving_in_chatwoot_gives_the_conversation_back(client, new_tenant, chatwoot, admin_conn, celery_worker):
    t = new_tenant()
    integration = make_integration(client, t, chatwoot)
    conversation = _conversation_number()
    post(client, integration, message_created(conversation, content="Quero falar com um atendente"),
         token=integration["token"])
    wait_for(lambda: chatwoot.to(f"/api/v1/accounts/{ACCOUNT}/conversations/{conversation}/toggle_status"), 60,
             message="handoff")
    # Chatwoot's agent bot event when a person resolves the conversation (conversation.webhook_data).
    resolved = {"event": "conversation_resolved", "id": conversation, "inbox_id": 3, "status": "resolved",
                "account_id": ACCOUNT, "meta": {"sender": {"id": 501, "type": "contact"}}}
    resp = post(client, integration, resolved, token=integration["token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted", resp.text
    assert admin_conn.execute("select count(*) from public.conversations where organization_id = %s "
                              "and handoff_at is not null", [t.org_id]).fetchone()[0] == 0
    again = post(client, integration, resolved, token=integration["token"])
    assert again.json()["status"] == "ignored"
    post(client, integration, message_created(conversation, content="Obrigado!"), token=integration["token"])
    [answer] = wait_for(lambda: _outgoing(chatwoot, conversation, private=False), 60, message="bot answers again")
    assert "Obrigado!" in answer.json()["content"]


def test_chatwoot_voice_note_gets_the_fallback_or_a_person(client, new_tenant, chatwoot, celery_worker):
    t = new_tenant()
    voice = {"attachments": [{"id": 1, "file_type": "audio", "data_url": "https://chat.example.com/a.ogg"}]}
    fallback = make_integration(client, t, chatwoot, settings={"media_fallback_text": "Pode escrever?"})
    conversation = _conversation_number()
    resp = post(client, fallback, message_created(conversation, content=None, **voice), token=fallback["token"])
    assert resp.json()["status"] == "accepted", resp.text
    [answer] = wait_for(lambda: _outgoing(chatwoot, conversation, private=False), 60, message="fallback text")
    assert answer.json()["content"] == "Pode escrever?"

    to_person = make_integration(client, t, chatwoot, settings={"media": "handoff"})
    other = _conversation_number()
    post(client, to_person, message_created(other, content="", **voice), token=to_person["token"])
    [note] = wait_for(lambda: _outgoing(chatwoot, other, private=True), 60, message="handoff note")
    assert "cannot read (voice)" in note.json()["content"]
