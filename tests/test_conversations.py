"""Conversation endpoints: opening (with contact upsert), listing, reading and closing."""
import uuid

from tests.support.chat import LOCAL, open_conversation
from tests.support.chat import create_agent as _create_agent


def create_agent(client, tenant, **fields):
    # These tests never chat, so the always-configured local model group is enough.
    return _create_agent(client, tenant, model=LOCAL, **fields)


def test_open_with_contact_external_id_upserts_the_contact(client, new_tenant):
    t = new_tenant()
    agent = create_agent(client, t)
    first = open_conversation(client, t, agent["id"], contact_external_id="5511999990000", channel="whatsapp",
                              metadata={"source": "campaign"})
    assert first["status"] == "open"
    assert first["channel"] == "whatsapp"
    assert first["metadata"] == {"source": "campaign"}
    contact = client.get(f"/v1/contacts/{first['contact_id']}", headers=t.headers).json()
    assert contact["external_id"] == "5511999990000"
    assert contact["name"] is None
    named = open_conversation(client, t, agent["id"], contact_external_id="5511999990000", contact_name="Maria")
    assert named["contact_id"] == first["contact_id"]
    assert named["id"] != first["id"]
    assert client.get(f"/v1/contacts/{first['contact_id']}", headers=t.headers).json()["name"] == "Maria"
    by_id = open_conversation(client, t, agent["id"], contact_id=first["contact_id"], contact_external_id=None)
    assert by_id["contact_id"] == first["contact_id"]
    anonymous = client.post(f"/v1/agents/{agent['id']}/conversations", json={}, headers=t.headers)
    assert anonymous.status_code == 201
    assert anonymous.json()["contact_id"] not in (first["contact_id"], None)


def test_channel_conversation_is_opened_once(client, new_tenant):
    t = new_tenant()
    agent, other = create_agent(client, t), create_agent(client, t)
    body = {"contact_external_id": "c-1", "channel": "chatwoot", "external_id": "conv-42"}
    first = client.post(f"/v1/agents/{agent['id']}/conversations", json=body, headers=t.headers)
    again = client.post(f"/v1/agents/{agent['id']}/conversations", json=body, headers=t.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    clash = client.post(f"/v1/agents/{other['id']}/conversations", json=body, headers=t.headers)
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "conversation_exists"


def test_invalid_bodies_and_unknown_references(client, new_tenant):
    t = new_tenant()
    agent = create_agent(client, t)
    url = f"/v1/agents/{agent['id']}/conversations"
    both = {"contact_id": str(uuid.uuid4()), "contact_external_id": "x"}
    assert client.post(url, json=both, headers=t.headers).status_code == 422
    assert client.post(url, json={"contact_name": "Sem id"}, headers=t.headers).status_code == 422
    assert client.post(url, json={"channel": "Bad Channel!"}, headers=t.headers).status_code == 422
    assert client.post(url, json={"contact_id": str(uuid.uuid4())}, headers=t.headers).status_code == 404
    ghost = f"/v1/agents/{uuid.uuid4()}/conversations"
    assert client.post(ghost, json={}, headers=t.headers).status_code == 404
    assert client.get(ghost, headers=t.headers).status_code == 404
    assert client.get(f"/v1/conversations/{uuid.uuid4()}", headers=t.headers).status_code == 404
    assert client.get(f"/v1/conversations/{uuid.uuid4()}/messages", headers=t.headers).status_code == 404
    assert client.post(f"/v1/conversations/{uuid.uuid4()}/close", headers=t.headers).status_code == 404


def test_list_is_paginated_and_filtered(client, new_tenant):
    t = new_tenant()
    agent, other = create_agent(client, t), create_agent(client, t)
    opened = [open_conversation(client, t, agent["id"])["id"] for _ in range(3)]
    open_conversation(client, t, other["id"])
    client.post(f"/v1/conversations/{opened[0]}/close", headers=t.headers)
    url = f"/v1/agents/{agent['id']}/conversations"
    seen, cursor = [], None
    while True:
        page = client.get(url, params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=t.headers).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == opened[::-1]
    closed = client.get(url, params={"status": "closed"}, headers=t.headers).json()["data"]
    assert [c["id"] for c in closed] == [opened[0]]
    got = client.get(f"/v1/conversations/{opened[1]}", headers=t.headers)
    assert got.status_code == 200
    assert got.json()["agent_id"] == agent["id"]
    assert client.get(f"/v1/conversations/{opened[1]}/messages", headers=t.headers).json() == \
        {"data": [], "next_cursor": None}
