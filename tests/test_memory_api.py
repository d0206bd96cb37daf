"""A contact's memory over HTTP: list, search, forget one memory; 404 across organizations."""
from __future__ import annotations

import uuid

from tests.support.memory import add_turns, create_agent, create_contact, create_conversation
from api.memory import jobs as memory_jobs


def add_fact(admin_conn, tenant, contact: dict, key: str, value: str, *, superseded: bool = False) -> str:
    row = admin_conn.execute(
        "insert into public.memories (organization_id, contact_id, kind, key, content, embedding, embedding_dim, "
        "metadata, valid_to) values (%s, %s, 'fact', %s, %s, array_fill(0.05, array[384])::extensions.vector, "
        "384, %s, case when %s then now() end) returning id",
        [tenant.org_id, contact["id"], key, f"{key}: {value}", f'{{"value": "{value}"}}', superseded]).fetchone()
    return str(row[0])


def remembered(client, tenant, contact_id: str, **params) -> list[dict]:
    resp = client.get(f"/v1/contacts/{contact_id}/memories", params=params, headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def test_list_search_and_forget_a_contacts_memories(client, new_tenant, admin_conn):
    tenant = new_tenant()
    agent, contact = create_agent(client, tenant), create_contact(client, tenant)
    conv = create_conversation(admin_conn, agent, contact)
    add_turns(admin_conn, conv, [("user", "Meu cachorro se chama Thor e adora correr"),
                                 ("assistant", "Que nome legal!"),
                                 ("user", "Prefiro ser atendido pela manhã")])
    memory_jobs.index_turns(tenant.org_id, conv)
    old_city = add_fact(admin_conn, tenant, contact, "city", "Recife", superseded=True)
    city = add_fact(admin_conn, tenant, contact, "city", "São Paulo")

    everything = remembered(client, tenant, contact["id"])
    assert sorted(m["kind"] for m in everything) == ["fact", "turn", "turn", "turn"]
    assert "embedding" not in everything[0]
    assert everything[0]["contact_id"] == contact["id"]
    assert [m["id"] for m in remembered(client, tenant, contact["id"], kind="fact")] == [city]
    with_history = remembered(client, tenant, contact["id"], kind="fact", include_superseded="true")
    assert {m["id"] for m in with_history} == {city, old_city}
    first = client.get(f"/v1/contacts/{contact['id']}/memories", params={"limit": 2}, headers=tenant.headers).json()
    second = client.get(f"/v1/contacts/{contact['id']}/memories", params={"limit": 2, "cursor": first["next_cursor"]},
                        headers=tenant.headers).json()
    assert len(first["data"]) == 2
    assert first["next_cursor"]
    assert len(second["data"]) == 2
    assert not {m["id"] for m in first["data"]} & {m["id"] for m in second["data"]}

    resp = client.post(f"/v1/contacts/{contact['id']}/memories/search",
                       json={"query": "Como se chama o meu cachorro?", "k": 3, "kinds": ["turn"]}, headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    hit = resp.json()["hits"][0]
    assert "Thor" in hit["content"]
    assert hit["rank"] == 1
    assert hit["kind"] == "turn"
    assert [t["seq"] for t in hit["excerpt"]] == [0, 1, 2]
    assert hit["excerpt"][1]["role"] == "assistant"

    thor = hit["id"]
    assert client.delete(f"/v1/contacts/{contact['id']}/memories/{thor}", headers=tenant.headers).status_code == 204
    assert thor not in {m["id"] for m in remembered(client, tenant, contact["id"])}
    again = client.post(f"/v1/contacts/{contact['id']}/memories/search",
                        json={"query": "Como se chama o meu cachorro?", "kinds": ["turn"]}, headers=tenant.headers)
    assert all("Thor" not in t["content"] for h in again.json()["hits"] for t in h["excerpt"])
    # The conversation history itself stays: forgetting a memory is not erasing the message.
    assert admin_conn.execute("select count(*) from public.conversation_history where conversation_id = %s",
                              [conv]).fetchone()[0] == 3
    missing = client.delete(f"/v1/contacts/{contact['id']}/memories/{thor}", headers=tenant.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "memory not found"


def test_memory_api_rejects_bad_input(client, new_tenant):
    tenant = new_tenant()
    contact = create_contact(client, tenant)
    url = f"/v1/contacts/{contact['id']}/memories"
    for body in ({"query": ""}, {"query": "   "}, {"query": "x", "k": 0}, {"query": "x", "k": 51},
                 {"query": "x", "kinds": []}, {"query": "x", "kinds": ["dream"]}, {"query": "x", "timezone": "Mars/Base"},
                 {"query": "x", "unknown": 1}):
        resp = client.post(f"{url}/search", json=body, headers=tenant.headers)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["error"]["message"], (body, resp.text)
    assert client.get(url, params={"kind": "dream"}, headers=tenant.headers).status_code == 422
    assert client.get(url, params={"cursor": "not-a-cursor"}, headers=tenant.headers).status_code == 400
    ghost = uuid.uuid4()
    assert client.get(f"/v1/contacts/{ghost}/memories", headers=tenant.headers).status_code == 404
    assert client.delete(f"{url}/not-a-uuid", headers=tenant.headers).status_code == 422


def test_another_organization_cannot_see_search_or_forget_memories(client, new_tenant, admin_conn):
    owner, intruder = new_tenant(), new_tenant()
    contact = create_contact(client, owner)
    fact = add_fact(admin_conn, owner, contact, "plan", "premium")
    url = f"/v1/contacts/{contact['id']}/memories"
    assert client.get(url, headers=intruder.headers).status_code == 404
    assert client.post(f"{url}/search", json={"query": "plan"}, headers=intruder.headers).status_code == 404
    assert client.delete(f"{url}/{fact}", headers=intruder.headers).status_code == 404
    # Nor through one of its own contacts: the memory id belongs to another organization's contact.
    own = create_contact(client, intruder)
    assert client.delete(f"/v1/contacts/{own['id']}/memories/{fact}", headers=intruder.headers).status_code == 404
    # Within one organization a memory is addressed through its own contact only.
    other = create_contact(client, owner, name="Outra")
    assert client.delete(f"/v1/contacts/{other['id']}/memories/{fact}", headers=owner.headers).status_code == 404
    assert [m["id"] for m in remembered(client, owner, contact["id"])] == [fact]
