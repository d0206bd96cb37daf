"""Tenant isolation for webhooks and channels: with org A's credentials nothing of org B's
endpoints, deliveries, events, integrations or channel events can be read, changed or used."""
import pytest

from api.webhooks import repository_sync
from tests.support.isolation import as_user, assert_org_rows_untouchable
from api.core.db import job_transaction

TABLES = ("webhook_endpoints", "webhook_events", "webhook_deliveries", "channel_integrations", "channel_events")


@pytest.fixture
def b_setup(client, new_tenant, admin_conn):
    a, b = new_tenant("A"), new_tenant("B")
    endpoint = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/b-secret-hook"}, headers=b.headers).json()
    with job_transaction(b.org_id) as session:
        [delivery_id] = repository_sync.emit(session.conn, b.org_id, "contact.deleted", {"contact_id": "b-secret"})
    admin_conn.execute("update public.webhook_deliveries set status = 'dead' where id = %s", [delivery_id])
    agent = client.post("/v1/agents", json={"name": "B bot"}, headers=b.headers).json()
    integration = client.post("/v1/channel-integrations", headers=b.headers, json={
        "agent_id": agent["id"], "base_url": "http://127.0.0.1:9", "account_id": 1,
        "api_access_token": "b-chatwoot-token"}).json()
    admin_conn.execute("insert into public.channel_events (organization_id, integration_id, external_id, content) "
                       "values (%s, %s, 'message_created:1', 'B secret message')", [b.org_id, integration["id"]])
    a_key = client.post("/v1/api-keys", json={"name": "a key", "role": "admin"}, headers=a.headers).json()["key"]
    return a, b, endpoint, str(delivery_id), integration, {"Authorization": f"Bearer {a_key}"}


def test_webhooks_and_integrations_of_another_org_are_invisible(client, b_setup):
    a, b, endpoint, delivery_id, integration, a_key_headers = b_setup
    secrets = (endpoint["id"], delivery_id, integration["id"], "b-secret", "b-chatwoot-token")
    own_agent = client.post("/v1/agents", json={"name": "A bot"}, headers=a.headers).json()
    for label, headers in {"user token": a.headers, "api key": a_key_headers}.items():
        attempts = {
            "get endpoint": client.get(f"/v1/webhooks/{endpoint['id']}", headers=headers),
            "patch endpoint": client.patch(f"/v1/webhooks/{endpoint['id']}", json={"url": "https://evil.example"},
                                           headers=headers),
            "delete endpoint": client.delete(f"/v1/webhooks/{endpoint['id']}", headers=headers),
            "deliveries": client.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=headers),
            "redeliver": client.post(f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery_id}/redeliver",
                                     headers=headers),
            "get integration": client.get(f"/v1/channel-integrations/{integration['id']}", headers=headers),
            "patch integration": client.patch(f"/v1/channel-integrations/{integration['id']}",
                                              json={"active": False}, headers=headers),
            "delete integration": client.delete(f"/v1/channel-integrations/{integration['id']}", headers=headers),
            # A's own integration cannot be pointed at B's agent.
            "integration with B's agent": client.post("/v1/channel-integrations", headers=headers, json={
                "agent_id": integration["agent_id"], "base_url": "https://x.example", "account_id": 1,
                "api_access_token": "t"}),
        }
        for what, resp in attempts.items():
            assert resp.status_code == 404, (label, what, resp.text)
            assert not any(s in resp.text for s in secrets), (label, what, resp.text)
        for path in ("/v1/webhooks", "/v1/channel-integrations"):
            listed = client.get(path, headers=headers)
            assert listed.status_code == 200, (label, path)
            assert not any(s in listed.text for s in secrets), (label, path)
        as_b = {**headers, "X-Organization-Id": b.org_id}
        assert client.get("/v1/webhooks", headers=as_b).status_code == 404
        assert client.post("/v1/webhooks", json={"url": "https://evil.example"}, headers=as_b).status_code == 404
        # A redelivery of B's delivery through A's own endpoint id is not found either.
        mine = client.post("/v1/webhooks", json={"url": "https://a.example"}, headers=headers).json()
        assert client.post(f"/v1/webhooks/{mine['id']}/deliveries/{delivery_id}/redeliver",
                           headers=headers).status_code == 404
    # B's inbound URL does not accept a token of A's integration.
    a_integration = client.post("/v1/channel-integrations", headers=a.headers, json={
        "agent_id": own_agent["id"], "base_url": "https://a.example", "account_id": 1, "api_access_token": "t"}).json()
    inbound = client.post(f"{integration['inbound_path']}?token={a_integration['token']}",
                          json={"event": "message_created"})
    assert inbound.status_code == 401

    # B's rows are intact.
    assert client.get(f"/v1/webhooks/{endpoint['id']}", headers=b.headers).json()["url"].endswith("b-secret-hook")
    [delivery] = client.get(f"/v1/webhooks/{endpoint['id']}/deliveries", headers=b.headers).json()["data"]
    assert delivery["status"] == "dead"
    assert client.get(f"/v1/channel-integrations/{integration['id']}", headers=b.headers).json()["active"] is True


def test_sql_as_another_org_sees_and_changes_nothing(admin_conn, b_setup):
    a, b, *_ = b_setup
    for table in TABLES:
        with admin_conn.transaction(force_rollback=True):
            owned = admin_conn.execute(f"select count(*) from public.{table} where organization_id = %s",
                                       [b.org_id]).fetchone()[0]
            assert owned >= 1, table
            as_user(admin_conn, a.user_id)
            assert_org_rows_untouchable(admin_conn, table, b.org_id)
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, a.user_id)
        with pytest.raises(Exception, match="only workers"):
            admin_conn.execute("select * from private.due_webhook_deliveries('0 s', '0 s')")
