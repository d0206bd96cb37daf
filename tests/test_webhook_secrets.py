"""Per-endpoint webhook secrets: stored encrypted, rotated with a grace period (both signatures
sent, each verifying on its own), endpoints from before per-endpoint secrets keep their derived
secret, "send test event", and the delivery log with truncated response bodies.

Real worker and a real HTTP receiver on 127.0.0.1 (tests/fakes/http_recorder.py).
"""
from __future__ import annotations

import time
import uuid

import pytest

from api.core import secretbox
from api.core.config import get_settings
from api.webhooks import signing
from tests.conftest import wait_for

# A liveness bound, not a speed check: deliveries go through the webhooks worker, which on a loaded
# 2-core machine (the suite beside a benchmark) took over 30 s twice; passing runs return at once.
DELIVERY_WAIT_S = 120
from tests.fakes.http_recorder import HttpRecorder


@pytest.fixture(scope="module")
def receiver():
    server = HttpRecorder().start()
    yield server
    server.stop()


def _endpoint(client, tenant, receiver, path: str, **body) -> dict:
    resp = client.post("/v1/webhooks", json={"url": receiver.url(path), **body}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _verifies(request, secret: str) -> bool:
    h = request.headers
    return signing.verify(secret, h["webhook-id"], h["webhook-timestamp"], request.body, h["webhook-signature"],
                          now=time.time())


def _test_event(client, tenant, endpoint: dict) -> dict:
    resp = client.post(f"/v1/webhooks/{endpoint['id']}/test", headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    return resp.json()


def test_secret_is_stored_encrypted_and_rotation_keeps_both_valid(client, new_tenant, receiver, admin_conn,
                                                                   celery_worker):
    t = new_tenant()
    path = f"/rotate/{uuid.uuid4().hex}"
    # Subscribed to documents only: a test event still reaches it.
    endpoint = _endpoint(client, t, receiver, path, event_types=["document.ready"])
    old = endpoint["secret"]
    [stored] = admin_conn.execute("select secret from public.webhook_endpoints where id = %s",
                                  [endpoint["id"]]).fetchone()
    assert stored.startswith("enc:v1:")
    assert old not in stored
    assert secretbox.decrypt(stored, context=f"webhook_endpoints.secret:{t.org_id}") == old

    delivery = _test_event(client, t, endpoint)
    assert delivery["event_type"] == "webhook.test"
    [first] = wait_for(lambda: receiver.to(path), DELIVERY_WAIT_S, message="test event")
    assert first.json()["type"] == "webhook.test"
    assert _verifies(first, old)
    assert len(first.headers["webhook-signature"].split()) == 1

    rotated = client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret", json={"grace_period_s": 3600},
                          headers=t.headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    assert new.startswith("whsec_")
    assert rotated.json()["previous_secret_expires_at"]
    shown = client.get(f"/v1/webhooks/{endpoint['id']}", headers=t.headers)
    assert old not in shown.text
    assert new not in shown.text
    assert shown.json()["secret_rotated_at"]
    _test_event(client, t, endpoint)
    second = wait_for(lambda: len(receiver.to(path)) == 2 and receiver.to(path)[1], DELIVERY_WAIT_S,
                      message="during grace")
    assert len(second.headers["webhook-signature"].split()) == 2
    assert _verifies(second, old)
    assert _verifies(second, new)  # receivers on either secret accept it

    # Without a grace period the old secret stops at once.
    newest = client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret", json={"grace_period_s": 0},
                         headers=t.headers).json()["secret"]
    _test_event(client, t, endpoint)
    third = wait_for(lambda: len(receiver.to(path)) == 3 and receiver.to(path)[2], DELIVERY_WAIT_S,
                     message="after rotation")
    assert _verifies(third, newest)
    assert not _verifies(third, new)
    assert not _verifies(third, old)


def test_endpoints_from_before_keep_their_derived_secret(client, new_tenant, receiver, admin_conn, celery_worker):
    t = new_tenant()
    path = f"/legacy/{uuid.uuid4().hex}"
    salt = signing.new_salt()
    [endpoint_id] = admin_conn.execute(
        "insert into public.webhook_endpoints (organization_id, url, secret_salt) values (%s, %s, %s) returning id",
        [t.org_id, receiver.url(path), salt]).fetchone()  # as the migration leaves them: no stored secret
    derived = signing.endpoint_secret(get_settings().webhook_signing_secret, endpoint_id, salt)
    endpoint = {"id": str(endpoint_id)}
    _test_event(client, t, endpoint)
    [first] = wait_for(lambda: receiver.to(path), DELIVERY_WAIT_S, message="legacy endpoint event")
    assert _verifies(first, derived)
    new = client.post(f"/v1/webhooks/{endpoint_id}/rotate-secret", headers=t.headers).json()["secret"]  # 24 h grace
    _test_event(client, t, endpoint)
    second = wait_for(lambda: len(receiver.to(path)) == 2 and receiver.to(path)[1], DELIVERY_WAIT_S,
                      message="after rotation")
    assert _verifies(second, derived)
    assert _verifies(second, new)


def test_delivery_log_keeps_truncated_response_bodies(client, new_tenant, receiver, celery_worker):
    t = new_tenant()
    path = f"/log/{uuid.uuid4().hex}"
    receiver.bodies[path] = b"x" * 5000
    receiver.script(path, 500)
    endpoint = _endpoint(client, t, receiver, path)
    delivery = _test_event(client, t, endpoint)
    url = f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/attempts"
    attempts = wait_for(lambda: len(client.get(url, headers=t.headers).json()) == 2
                        and client.get(url, headers=t.headers).json(), DELIVERY_WAIT_S, message="two attempts logged")
    assert [a["status_code"] for a in attempts] == [500, 200]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert attempts[0]["response_body"] == "x" * 1024
    assert attempts[0]["error"].startswith("HTTP 500")
    assert attempts[1]["error"] is None
    assert isinstance(attempts[1]["duration_ms"], int)
    assert endpoint["secret"] not in str(attempts)


def test_roles_and_isolation(client, new_tenant, new_user, receiver):
    t, other = new_tenant(), new_tenant()
    endpoint = _endpoint(client, t, receiver, "/iso")
    delivery = _test_event(client, t, endpoint)
    for method, path in (("post", f"/v1/webhooks/{endpoint['id']}/rotate-secret"),
                         ("post", f"/v1/webhooks/{endpoint['id']}/test"),
                         ("get", f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/attempts")):
        assert client.request(method, path, headers=other.headers).status_code == 404, path
    member_id, member_token = new_user()
    client.post(f"/v1/organizations/{t.org_id}/members", json={"user_id": str(member_id)}, headers=t.headers)
    member = {"Authorization": f"Bearer {member_token}", "X-Organization-Id": t.org_id}
    assert client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret", headers=member).status_code == 403
    assert client.post(f"/v1/webhooks/{endpoint['id']}/test", headers=member).status_code == 403
    assert client.get(f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/attempts",
                      headers=member).status_code == 200  # members read the log
    assert client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret", json={"grace_period_s": -1},
                       headers=t.headers).status_code == 422
