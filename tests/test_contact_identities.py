"""One customer across channels: a customer who writes on WhatsApp and then comes through the
API with the same phone is the same contact with the same memory; identifiers (E.164 phone,
lower-cased email, channel ids) per organization; merging two contacts with an audit entry.
"""
from __future__ import annotations

import json
import uuid

from tests.conftest import wait_for
from tests.fakes.graph_api import FakeGraphAPI
from tests.support.memory import FAKE_LLM, create_agent, facts_reply, memories
from tests.test_whatsapp import ACCESS_TOKEN, make_integration, post, text, webhook


def _prompt_text(request: dict) -> str:
    return "\n".join(str(m.get("content") or "") for m in request["body"]["messages"])


def test_whatsapp_customer_has_the_same_memory_through_the_api(client, new_tenant, admin_conn, celery_worker):
    graph = FakeGraphAPI(ACCESS_TOKEN).start()
    try:
        t = new_tenant()
        agent = create_agent(client, t, settings={"memory_idle_s": 1, "memory_every_n_turns": 50})
        integration = make_integration(client, t, graph, agent=agent)
        # An older Brazilian mobile as WhatsApp sends it: 55 + area code + 8 digits (no ninth digit).
        subscriber = "8" + str(uuid.uuid4().int % 10**7).zfill(7)
        wa_id = f"5511{subscriber}"
        FAKE_LLM.script("customer: Sou alérgica a amendoim", facts_reply(("allergy", "amendoim", 1.0)))
        assert post(client, integration, webhook(integration, text(wa_id, "Sou alérgica a amendoim"),
                                                 name="Joana")).json()["status"] == "accepted"
        wait_for(lambda: graph.to(wa_id), 60, message="WhatsApp answer")
        [(contact_id,)] = admin_conn.execute("select contact_id from public.conversations where organization_id = %s "
                                             "and channel = 'whatsapp'", [t.org_id]).fetchall()
        wait_for(lambda: memories(admin_conn, contact_id, "fact"), 60, message="fact extracted")

        # The same customer on the API, phone written the usual way (with the ninth digit).
        user = f"+55 (11) 9{subscriber[:4]}-{subscriber[4:]}"
        resp = client.post("/v1/chat/completions", headers=t.headers, json={
            "model": agent["id"], "user": user,
            "messages": [{"role": "user", "content": "Que doce vocês me recomendam hoje?"}]})
        assert resp.status_code == 200, resp.text
        asked = [r for r in FAKE_LLM.requests if "Que doce vocês me recomendam hoje?" in _prompt_text(r)]
        assert asked
        assert "amendoim" in _prompt_text(asked[-1])  # the fact learnt on WhatsApp
        contacts = admin_conn.execute("select distinct contact_id from public.conversations "
                                      "where organization_id = %s", [t.org_id]).fetchall()
        assert contacts == [(uuid.UUID(str(contact_id)),)]
        ids = client.get(f"/v1/contacts/{contact_id}/identifiers", headers=t.headers).json()
        assert {(i["kind"], i["value"]) for i in ids} >= {("channel", f"whatsapp:{wa_id}"),
                                                          ("phone", f"+55119{subscriber}"), ("channel", user)}

        # Another organization with the same customer phone gets a contact of its own.
        other = new_tenant()
        other_agent = create_agent(client, other)
        resp = client.post("/v1/chat/completions", headers=other.headers, json={
            "model": other_agent["id"], "user": user, "messages": [{"role": "user", "content": "Oi"}]})
        assert resp.status_code == 200
        [(other_contact,)] = admin_conn.execute("select distinct contact_id from public.conversations "
                                                "where organization_id = %s", [other.org_id]).fetchall()
        assert other_contact != contact_id
    finally:
        graph.stop()


def _fact(admin_conn, org_id: str, contact_id: str, key: str, content: str, age_s: int) -> str:
    vector = "[" + ",".join(["0.01"] * 384) + "]"
    return str(admin_conn.execute(
        "insert into public.memories (organization_id, contact_id, kind, key, content, embedding, embedding_dim, "
        "valid_from) values (%s, %s, 'fact', %s, %s, %s::extensions.vector, 384, now() - make_interval(secs => %s)) "
        "returning id", [org_id, contact_id, key, content, vector, age_s]).fetchone()[0])


def _contact(client, tenant, **body) -> dict:
    resp = client.post("/v1/contacts", json=body, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_merge_moves_everything_and_keeps_supersession(client, new_tenant, admin_conn):
    t = new_tenant()
    agent = create_agent(client, t)
    keep = _contact(client, t, external_id=f"crm-{uuid.uuid4().hex[:8]}", name="Joana", phone="+55 11 91234-0000")
    gone = _contact(client, t, external_id=f"chatwoot:7:{uuid.uuid4().int % 10**6}", email="Joana@Example.COM",
                    locale="pt-BR")
    for contact in (keep, gone):
        conv = client.post(f"/v1/agents/{agent['id']}/conversations", json={"contact_id": contact["id"]},
                           headers=t.headers)
        assert conv.status_code == 201
        sent = client.post(f"/v1/agents/{agent['id']}/conversations/{conv.json()['id']}/messages",
                           json={"content": f"oi de {contact['id']}"}, headers=t.headers)
        assert sent.status_code == 201, sent.text
    old_city = _fact(admin_conn, t.org_id, keep["id"], "city", "Mora em Recife", age_s=3600)
    new_city = _fact(admin_conn, t.org_id, gone["id"], "city", "Mora em Olinda", age_s=60)
    _fact(admin_conn, t.org_id, gone["id"], "diet", "É vegetariana", age_s=60)

    merged = client.post(f"/v1/contacts/{keep['id']}/merge", json={"contact_id": gone["id"]}, headers=t.headers)
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["contact"]["email"] == "Joana@Example.COM"
    assert body["contact"]["locale"] == "pt-BR"
    assert body["merge"]["merged_contact_id"] == gone["id"]
    assert body["merge"]["merged_by"] == str(t.user_id)
    assert body["merge"]["moved"]["conversations"] == 1
    assert body["merge"]["moved"]["facts_superseded"] == 1
    assert client.get(f"/v1/contacts/{gone['id']}", headers=t.headers).status_code == 404
    current = {m["key"]: m["content"] for m in memories(admin_conn, keep["id"], "fact") if m["valid_to"] is None}
    assert current == {"city": "Mora em Olinda", "diet": "É vegetariana"}  # the newer value stays current
    [old] = [m for m in memories(admin_conn, keep["id"], "fact") if str(m["id"]) == old_city]
    assert old["valid_to"] is not None
    assert str(old["superseded_by"]) == new_city
    assert admin_conn.execute("select count(distinct contact_id), count(*) from public.conversation_history "
                              "where organization_id = %s", [t.org_id]).fetchone() == (1, 4)
    audit = client.get(f"/v1/contacts/{keep['id']}/merges", headers=t.headers).json()
    assert [a["merged_external_id"] for a in audit] == [gone["external_id"]]
    # The merged contact's ids keep finding the customer: its email, and its channel id.
    values = {(i["kind"], i["value"]) for i in client.get(f"/v1/contacts/{keep['id']}/identifiers",
                                                         headers=t.headers).json()}
    assert {("email", "joana@example.com"), ("phone", "+5511912340000"), ("channel", gone["external_id"])} <= values
    conv = client.post(f"/v1/agents/{agent['id']}/conversations", json={"contact_external_id": gone["external_id"]},
                       headers=t.headers)
    assert conv.status_code == 201
    assert conv.json()["contact_id"] == keep["id"]
    conv = client.post(f"/v1/agents/{agent['id']}/conversations", json={"contact_external_id": "JOANA@example.com"},
                       headers=t.headers)
    assert conv.json()["contact_id"] == keep["id"]
    assert client.post(f"/v1/contacts/{keep['id']}/merge", json={"contact_id": keep["id"]},
                       headers=t.headers).status_code == 422


def test_identifiers_api_and_isolation(client, new_tenant):
    t, other = new_tenant(), new_tenant()
    first = _contact(client, t, name="A")
    second = _contact(client, t, name="B")
    added = client.post(f"/v1/contacts/{first['id']}/identifiers", json={"kind": "phone", "value": "0055 11 8765-4321"},
                        headers=t.headers)
    assert added.status_code == 201, added.text
    assert added.json()["value"] == "+5511987654321", added.text
    taken = client.post(f"/v1/contacts/{second['id']}/identifiers", json={"kind": "phone", "value": "+5511987654321"},
                        headers=t.headers)
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "identifier_taken"
    bad = client.post(f"/v1/contacts/{second['id']}/identifiers", json={"kind": "phone", "value": "abc"},
                      headers=t.headers)
    assert bad.status_code == 422
    assert client.post(f"/v1/contacts/{second['id']}/identifiers", json={"kind": "fax", "value": "1"},
                       headers=t.headers).status_code == 422

    # Another organization: every door answers 404, and the same phone is free there.
    for method, path, body in (("get", f"/v1/contacts/{first['id']}/identifiers", None),
                               ("post", f"/v1/contacts/{first['id']}/identifiers", {"kind": "email", "value": "x@y.z"}),
                               ("delete", f"/v1/contacts/{first['id']}/identifiers/{added.json()['id']}", None),
                               ("get", f"/v1/contacts/{first['id']}/merges", None),
                               ("post", f"/v1/contacts/{first['id']}/merge", {"contact_id": second["id"]})):
        resp = client.request(method, path, headers=other.headers, **({"json": body} if body else {}))
        assert resp.status_code == 404, (method, path, resp.text)
    mine = _contact(client, other, name="C")
    cross = client.post(f"/v1/contacts/{mine['id']}/merge", json={"contact_id": first["id"]}, headers=other.headers)
    assert cross.status_code == 404
    free = client.post(f"/v1/contacts/{mine['id']}/identifiers", json={"kind": "phone", "value": "+5511987654321"},
                       headers=other.headers)
    assert free.status_code == 201
    assert client.get(f"/v1/contacts/{first['id']}", headers=t.headers).status_code == 200  # untouched

    removed = client.delete(f"/v1/contacts/{first['id']}/identifiers/{added.json()['id']}", headers=t.headers)
    assert removed.status_code == 204
    assert json.dumps(client.get(f"/v1/contacts/{first['id']}/identifiers", headers=t.headers).json()).count("+55") == 0
