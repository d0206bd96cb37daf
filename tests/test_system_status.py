"""GET /v1/system/status: model groups, the local model, queue depths; members only."""
from __future__ import annotations


def test_system_status_for_a_member(client, new_tenant, redis_client):
    t = new_tenant()
    body = client.get("/v1/system/status", headers=t.headers).json()
    local = next(m for m in body["models"] if m["name"] == "renum-local")
    assert local == {"name": "renum-local", "available": True, "local": True}
    # Hosted groups without their key are listed as unavailable (they fall back to the local model).
    assert all(m["available"] is False for m in body["models"] if m["name"] == "deepseek-chat")
    assert set(body["queues"]) == {"default", "ingest", "memory", "webhooks"}
    assert all(isinstance(n, int) and n >= 0 for n in body["queues"].values())
    assert isinstance(body["local_model"]["loaded"], bool)


def test_system_status_needs_credentials_and_a_membership(client, new_user):
    assert client.get("/v1/system/status").status_code == 401
    _, token = new_user()  # signed in, but a member of no organization
    assert client.get("/v1/system/status", headers={"Authorization": f"Bearer {token}"}).status_code == 404
