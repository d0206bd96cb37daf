"""Prompt Studio: versioned templates, diff, rollback, sandboxed validation, test runs, isolation."""
from __future__ import annotations

import uuid

import pytest

from tests.support.chat import HOSTED, create_agent, hosted  # noqa: F401

V1 = "Você é {{ agent_name }}, da {{ business_name }}.\nSeja breve."
V2 = "Você é {{ agent_name }}, da {{ business_name }}.\nSeja breve e cordial.\nCliente: {{ customer_name or 'cliente' }}."


def _create(client, t, name="Vendas", body=V1):
    resp = client.post("/v1/prompt-templates", json={"name": name, "body": body, "note": "first"}, headers=t.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_versions_diff_and_rollback(client, new_tenant):
    t = new_tenant()
    tpl = _create(client, t)
    assert tpl["current_version"] == 1
    assert tpl["body"] == V1
    base = f"/v1/prompt-templates/{tpl['id']}"
    v2 = client.post(f"{base}/versions", json={"body": V2, "note": "cordial"}, headers=t.headers).json()
    assert v2["current_version"] == 2
    assert v2["body"] == V2
    assert v2["note"] == "cordial"
    diff = client.get(f"{base}/diff", params={"from": 1, "to": 2}, headers=t.headers).json()["diff"]
    assert "-Seja breve.\n" in diff
    assert "+Seja breve e cordial.\n" in diff
    assert diff.startswith("--- v1")
    back = client.post(f"{base}/rollback", json={"version": 1}, headers=t.headers).json()
    assert back["current_version"] == 3
    assert back["body"] == V1
    assert back["note"] == "rollback to v1"
    versions = client.get(f"{base}/versions", headers=t.headers).json()["data"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert client.get(f"{base}/versions/2", headers=t.headers).json()["body"] == V2
    listed = client.get("/v1/prompt-templates", headers=t.headers).json()["data"]
    assert [(x["name"], x["current_version"]) for x in listed] == [("Vendas", 3)]
    assert client.post("/v1/prompt-templates", json={"name": "Vendas", "body": V1}, headers=t.headers).status_code == 409
    assert client.get(f"{base}/versions/9", headers=t.headers).status_code == 404


@pytest.mark.parametrize("body", ["{% include 'system.j2' %}", "{{ secret_token }}",
                                  "{% for x in range(10**9) %}x{% endfor %}{{ agent_name"])
def test_unsafe_or_broken_templates_are_refused_and_not_stored(client, new_tenant, body):
    t = new_tenant()
    assert client.post("/v1/prompt-templates", json={"name": "x", "body": body}, headers=t.headers).status_code == 422
    tpl = _create(client, t)
    resp = client.post(f"/v1/prompt-templates/{tpl['id']}/versions", json={"body": body}, headers=t.headers)
    assert resp.status_code == 422, resp.text
    assert client.get(f"/v1/prompt-templates/{tpl['id']}", headers=t.headers).json()["current_version"] == 1


def test_test_run_renders_for_the_agent_and_stores_nothing(client, new_tenant, admin_conn, hosted):
    t = new_tenant("Loja Sol")
    agent = create_agent(client, t, name="Sol", model=HOSTED)
    tpl = _create(client, t)
    client.post(f"/v1/prompt-templates/{tpl['id']}/versions", json={"body": V2}, headers=t.headers)
    run = client.post(f"/v1/prompt-templates/{tpl['id']}/test-run", headers=t.headers, json={
        "agent_id": agent["id"], "message": "Vocês abrem no domingo?", "version": 1, "customer_name": "Joana"})
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["version"] == 1
    assert body["system_prompt"].strip() == "Você é Sol, da Loja Sol.\nSeja breve."
    assert body["answer"] == "echo: Vocês abrem no domingo?"
    assert body["model"] == HOSTED
    sent = hosted.requests[-1]["body"]["messages"]
    assert sent[0] == {"role": "system", "content": body["system_prompt"]}
    assert admin_conn.execute("select count(*) from public.conversations where organization_id = %s",
                              [t.org_id]).fetchone()[0] == 0
    assert admin_conn.execute("select count(*) from public.usage_events where organization_id = %s "
                              "and metadata ->> 'prompt_test' = 'true'", [t.org_id]).fetchone()[0] == 1
    # What compiles but the sandbox refuses at render time is refused when saved (a trial render).
    unsafe = client.post(f"/v1/prompt-templates/{tpl['id']}/versions", json={"body": "{{ ''.__class__.__mro__ }}"},
                         headers=t.headers)
    assert unsafe.status_code == 422, unsafe.text
    assert unsafe.json()["error"]["code"].startswith("prompt_")
    client.post(f"/v1/prompt-templates/{tpl['id']}/rollback", json={"version": 2}, headers=t.headers)
    # Applying the current version to the agent is a PATCH of its system prompt.
    current = client.get(f"/v1/prompt-templates/{tpl['id']}", headers=t.headers).json()["body"]
    assert client.patch(f"/v1/agents/{agent['id']}", json={"system_prompt": current},
                        headers=t.headers).json()["system_prompt"] == V2


def test_another_organization_sees_nothing(client, new_tenant, hosted):
    t, other = new_tenant(), new_tenant()
    tpl = _create(client, t)
    their_agent = create_agent(client, other, model=HOSTED)
    base = f"/v1/prompt-templates/{tpl['id']}"
    for method, path, body in [("get", base, None), ("get", f"{base}/versions", None),
                               ("get", f"{base}/versions/1", None), ("get", f"{base}/diff?from=1&to=1", None),
                               ("post", f"{base}/versions", {"body": V2}), ("post", f"{base}/rollback", {"version": 1}),
                               ("post", f"{base}/test-run", {"agent_id": their_agent["id"], "message": "oi"}),
                               ("delete", base, None)]:
        resp = client.request(method, path, json=body, headers=other.headers)
        assert resp.status_code == 404, (method, path, resp.text)
    assert client.get("/v1/prompt-templates", headers=other.headers).json()["data"] == []
    # My template with their agent: the agent is not found.
    mine = client.post(f"{base}/test-run", json={"agent_id": their_agent["id"], "message": "oi"}, headers=t.headers)
    assert mine.status_code == 404
    assert client.get(base, headers=t.headers).json()["current_version"] == 1
    assert client.delete(base, headers=t.headers).status_code == 204
    assert client.get(f"/v1/prompt-templates/{uuid.uuid4()}", headers=t.headers).status_code == 404
