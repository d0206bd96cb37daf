"""Onboarding surfaces: /docs can authorize with the printed token or an API key, the main
operations carry examples, and the console shell is served with a strict CSP."""
from __future__ import annotations


def test_openapi_has_security_schemes_and_examples(client):
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyAuth"]["in"] == "header"
    assert schemes["apiKeyAuth"]["name"] == "X-API-Key"
    paths = schema["paths"]
    assert paths["/v1/agents"]["post"]["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}]
    assert "security" not in paths["/healthz"]["get"]
    body = paths["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"]["openai"]["value"]["model"].startswith("agent:")
    send = paths["/v1/agents/{agent_id}/conversations/{conversation_id}/messages"]["post"]
    assert send["requestBody"]["content"]["application/json"]["examples"]["stream"]["value"]["stream"] is True
    assert send["responses"]["201"]["content"]["application/json"]["example"]["citations"]
    assert "/v1/analytics/usage" in paths
    assert "/v1/models/{model_id}" in paths
    assert client.get("/openapi.json").json() == schema  # enriching again changes nothing


def test_documented_examples_are_accepted(client, new_tenant):
    """The examples are real requests: the knowledge base and agent ones create resources."""
    t = new_tenant()
    paths = client.get("/openapi.json").json()["paths"]
    kb = paths["/v1/knowledge-bases"]["post"]["requestBody"]["content"]["application/json"]["examples"]["pt"]["value"]
    created = client.post("/v1/knowledge-bases", json=kb, headers=t.headers)
    assert created.status_code == 201, created.text
    agent = paths["/v1/agents"]["post"]["requestBody"]["content"]["application/json"]["examples"]["grounded"]["value"]
    resp = client.post("/v1/agents", json={**agent, "knowledge_base_ids": [created.json()["id"]]}, headers=t.headers)
    assert resp.status_code == 201, resp.text


def test_console_shell(client):
    page = client.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert 'id="renum-config"' in page.text
    assert "/console/static/app.js" in page.text
    assert client.get("/console/static/app.js").headers["content-type"].startswith(("text/javascript",
                                                                                     "application/javascript"))
    assert client.get("/console/static/../../core/config.py").status_code == 404
    assert client.get("/console/", follow_redirects=False).headers["location"] == "/console"
