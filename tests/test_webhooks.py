"""Outbound webhooks: CRUD, Standard Webhooks signatures verified by a real HTTP receiver,
retries with backoff, dead-letter and redelivery, the sweep, and the outbox's atomicity.

Real Postgres, Redis and Celery worker (conftest sets 3 attempts, 0.5 s backoff); the
receiver is a plain HTTP server thread on 127.0.0.1 (tests/fakes/http_recorder.py).
"""
import asyncio
import time
import uuid

import pytest

from api.core import tasks
from api.core.tasks import enqueue
from api.core.db import async_pool, unit_of_work
from api.core.principal import org_principal
from api.webhooks import signing
from tests.support.chat import create_agent, hosted, open_conversation, send  # noqa: F401 (fixture)
from tests.conftest import WORKER_LOG, wait_for
from tests.support.documents import create_kb, upload, wait_done
from tests.support.isolation import as_user
from tests.fakes.http_recorder import HttpRecorder


@pytest.fixture(scope="module")
def receiver():
    server = HttpRecorder().start()
    yield server
    server.stop()


def make_endpoint(client, tenant, url: str, **body) -> dict:
    resp = client.post("/v1/webhooks", json={"url": url, **body}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def delete_contact(client, tenant, name: str = "Maria") -> dict:
    contact = client.post("/v1/contacts", json={"name": name, "external_id": uuid.uuid4().hex},
                          headers=tenant.headers).json()
    assert client.delete(f"/v1/contacts/{contact['id']}", headers=tenant.headers).status_code == 204
    return contact


def deliveries(client, tenant, endpoint_id: str, **params) -> list[dict]:
    resp = client.get(f"/v1/webhooks/{endpoint_id}/deliveries", params=params, headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def retry_budget_s() -> float:
    """How long a delivery may take to reach its last attempt with the test settings (conftest's
    RENUM_WEBHOOK_*): every backoff plus every attempt's timeout, and 60 s for a worker whose two
    processes are still busy with earlier tests' tasks on a loaded machine."""
    from api.core.config import get_settings
    from api.webhooks.delivery import backoff_s
    s = get_settings()
    schedule = sum(backoff_s(n) for n in range(1, s.webhook_max_attempts))
    return schedule + s.webhook_max_attempts * s.webhook_timeout_s + 60


def wait_for_delivery(client, tenant, endpoint_id: str, status: str) -> list[dict]:
    """Wait for the endpoint's deliveries in `status` through the retry schedule; on a timeout the
    error shows where each delivery stands and what the worker did last."""
    budget = retry_budget_s()
    try:
        return wait_for(lambda: deliveries(client, tenant, endpoint_id, status=status), budget, interval=0.25,
                        message=f"a {status} delivery")
    except AssertionError:
        state = [{k: d.get(k) for k in ("status", "attempts", "next_attempt_at", "last_error", "updated_at")}
                 for d in deliveries(client, tenant, endpoint_id)]
        tail = [line for line in WORKER_LOG.read_text(errors="replace").splitlines() if "webhook" in line][-12:] \
            if WORKER_LOG.exists() else []
        raise AssertionError(f"no {status} delivery after {budget:.0f} s; deliveries: {state}; "
                             "worker log (webhooks): " + "\n".join(tail)) from None


def verified(request, secret: str) -> bool:
    h = request.headers
    return signing.verify(secret, h["webhook-id"], h["webhook-timestamp"], request.body, h["webhook-signature"],
                          now=time.time())


def test_endpoint_crud_validation_and_roles(client, new_tenant, new_user):
    t = new_tenant()
    created = make_endpoint(client, t, "https://example.com/hooks", event_types=["document.ready", "document.ready"])
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["document.ready"]
    got = client.get(f"/v1/webhooks/{created['id']}", headers=t.headers)
    assert got.status_code == 200
    assert "secret" not in got.json()
    assert "secret_salt" not in got.text
    assert [e["id"] for e in client.get("/v1/webhooks", headers=t.headers).json()["data"]] == [created["id"]]
    patched = client.patch(f"/v1/webhooks/{created['id']}", json={"active": False, "event_types": []},
                           headers=t.headers)
    assert patched.status_code == 200
    assert patched.json()["active"] is False
    assert patched.json()["event_types"] == []

    for bad in ({"url": "ftp://example.com/x"}, {"url": "javascript:alert(1)"}, {"url": "/relative"},
                {"url": "https://user:pw@example.com/"}, {"url": "https://example.com", "event_types": ["nope"]},
                {"url": "https://example.com", "extra": 1}):
        resp = client.post("/v1/webhooks", json=bad, headers=t.headers)
        assert resp.status_code == 422, (bad, resp.text)
    assert client.patch(f"/v1/webhooks/{created['id']}", json={"url": "file:///etc/passwd"},
                        headers=t.headers).status_code == 422

    # Members read; only admins and owners write.
    member_id, member_token = new_user()
    assert client.post(f"/v1/organizations/{t.org_id}/members", json={"user_id": str(member_id)},
                       headers=t.headers).status_code == 201
    member = {"Authorization": f"Bearer {member_token}"}
    assert client.get(f"/v1/webhooks/{created['id']}", headers=member).status_code == 200
    assert client.post("/v1/webhooks", json={"url": "https://example.com"}, headers=member).status_code == 403
    assert client.patch(f"/v1/webhooks/{created['id']}", json={"active": True}, headers=member).status_code == 403
    assert client.delete(f"/v1/webhooks/{created['id']}", headers=member).status_code == 403

    assert client.delete(f"/v1/webhooks/{created['id']}", headers=t.headers).status_code == 204
    assert client.get(f"/v1/webhooks/{created['id']}", headers=t.headers).status_code == 404


def test_signed_event_reaches_the_receiver_and_verifies(client, new_tenant, receiver, celery_worker):
    t = new_tenant()
    path = f"/ok-{uuid.uuid4().hex[:8]}"
    endpoint = make_endpoint(client, t, receiver.url(path), event_types=["contact.deleted"])
    other = make_endpoint(client, t, receiver.url(path + "-docs"), event_types=["document.ready"])
    contact = delete_contact(client, t)
    [request] = wait_for(lambda: receiver.to(path), 30, message="webhook POST")
    assert verified(request, endpoint["secret"])
    assert not verified(request, other["secret"])  # each endpoint has its own secret
    tampered = request.body.replace(b"contact.deleted", b"contact.created")
    assert not signing.verify(endpoint["secret"], request.headers["webhook-id"], request.headers["webhook-timestamp"],
                              tampered, request.headers["webhook-signature"], now=time.time())
    body = request.json()
    assert body["type"] == "contact.deleted"
    assert body["id"] == request.headers["webhook-id"]
    assert body["data"] == {"contact_id": contact["id"], "external_id": contact["external_id"]}
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    [delivery] = wait_for(lambda: deliveries(client, t, endpoint["id"], status="delivered"), 10, message="delivered")
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200
    assert delivery["event_id"] == body["id"]
    assert receiver.to(path + "-docs") == []
    assert deliveries(client, t, other["id"]) == []


def test_failed_attempts_are_retried_with_the_same_id_then_succeed(client, new_tenant, receiver, celery_worker):
    t = new_tenant()
    path = f"/flaky-{uuid.uuid4().hex[:8]}"
    receiver.script(path, 500, 503)
    endpoint = make_endpoint(client, t, receiver.url(path))
    delete_contact(client, t)
    [delivery] = wait_for_delivery(client, t, endpoint["id"], "delivered")
    requests = receiver.to(path)
    assert len(requests) == 3
    assert delivery["attempts"] == 3
    assert delivery["last_error"] is None
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert all(verified(r, endpoint["secret"]) for r in requests)


def test_dead_letter_keeps_the_error_and_can_be_redelivered(client, new_tenant, receiver, celery_worker):
    t = new_tenant()
    path = f"/down-{uuid.uuid4().hex[:8]}"
    receiver.script(path, 500, 500, 500)
    endpoint = make_endpoint(client, t, receiver.url(path))
    delete_contact(client, t)
    [dead] = wait_for_delivery(client, t, endpoint["id"], "dead")
    assert dead["attempts"] == 3
    assert dead["last_status_code"] == 500
    assert dead["last_error"].startswith("HTTP 500")
    time.sleep(1.5)  # no fourth attempt
    assert len(receiver.to(path)) == 3

    redeliver = f"/v1/webhooks/{endpoint['id']}/deliveries/{dead['id']}/redeliver"
    resp = client.post(redeliver, headers=t.headers)
    assert resp.status_code == 202
    assert resp.json()["status"] == "pending"
    assert resp.json()["attempts"] == 0
    wait_for_delivery(client, t, endpoint["id"], "delivered")
    assert len(receiver.to(path)) == 4
    again = client.post(redeliver, headers=t.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "delivery_not_dead"
    assert client.post(f"/v1/webhooks/{endpoint['id']}/deliveries/{uuid.uuid4()}/redeliver",
                       headers=t.headers).status_code == 404


def test_unreachable_endpoint_records_a_clean_error(client, new_tenant, celery_worker):
    t = new_tenant()
    endpoint = make_endpoint(client, t, "http://127.0.0.1:9/nothing-listens-here")
    delete_contact(client, t)
    [dead] = wait_for_delivery(client, t, endpoint["id"], "dead")
    assert dead["last_status_code"] is None
    assert dead["last_error"].startswith("could not connect")


def test_document_ready_and_failed_events_from_the_ingest_worker(client, new_tenant, receiver, celery_worker):
    t = new_tenant()
    path = f"/docs-{uuid.uuid4().hex[:8]}"
    endpoint = make_endpoint(client, t, receiver.url(path), event_types=["document.ready", "document.failed"])
    kb = create_kb(client, t)
    good = upload(client, t, kb["id"], "ok.txt", b"Entregamos em 5 dias uteis.", "text/plain").json()
    bad = upload(client, t, kb["id"], "broken.pdf", b"%PDF-1.4\n" + b"\x00garbage" * 50, "application/pdf").json()
    assert wait_done(client, t, good["id"])["status"] == "ready"
    assert wait_done(client, t, bad["id"])["status"] == "failed"
    requests = wait_for(lambda: len(receiver.to(path)) >= 2 and receiver.to(path), 30, message="document events")
    by_type = {r.json()["type"]: r.json()["data"] for r in requests}
    assert len(requests) == 2
    assert all(verified(r, endpoint["secret"]) for r in requests)
    assert by_type["document.ready"]["document_id"] == good["id"]
    assert by_type["document.ready"]["chunk_count"] >= 1
    assert by_type["document.failed"]["document_id"] == bad["id"]
    assert "PDF" in by_type["document.failed"]["error"]


def test_agent_answer_emits_message_created(client, new_tenant, receiver, hosted, celery_worker):  # noqa: F811
    t = new_tenant()
    path = f"/chat-{uuid.uuid4().hex[:8]}"
    endpoint = make_endpoint(client, t, receiver.url(path), event_types=["message.created"])
    agent = create_agent(client, t, memory_enabled=False)
    conversation = open_conversation(client, t, agent["id"])
    answer = send(client, t, agent["id"], conversation["id"], "Qual o prazo de entrega?")
    assert answer.status_code == 201, answer.text
    [request] = wait_for(lambda: receiver.to(path), 30, message="message.created")
    data = request.json()["data"]
    assert request.json()["type"] == "message.created"
    assert verified(request, endpoint["secret"])
    assert data["message_id"] == answer.json()["message"]["id"]
    assert data["role"] == "assistant"
    assert data["content"] == answer.json()["message"]["content"]
    assert data["content"].startswith("echo: ")
    assert data["conversation_id"] == conversation["id"]
    # A retried message replays the stored answer: no second event.
    first = send(client, t, agent["id"], conversation["id"], "Oi", client_message_id="m-1")
    replay = send(client, t, agent["id"], conversation["id"], "Oi", client_message_id="m-1")
    assert first.status_code == 201
    assert replay.status_code == 200
    wait_for(lambda: len(receiver.to(path)) >= 2, 30, message="second event")
    time.sleep(1)
    assert len(receiver.to(path)) == 2


def _run(coro):
    return asyncio.run(coro)


def test_outbox_rows_commit_or_roll_back_with_the_change(client, new_tenant, admin_conn, stack):
    """The event is written by the change's own transaction: a rollback leaves no event."""
    from api.contacts import service as contacts_service
    t = new_tenant()
    make_endpoint(client, t, "https://example.com/never-called", event_types=["contact.deleted"])
    contact = client.post("/v1/contacts", json={"name": "Rollback"}, headers=t.headers).json()
    principal = org_principal(uuid.UUID(t.org_id), "admin", kind="api_key")

    async def erase(fail: bool) -> None:
        pool = async_pool(stack["DATABASE_URL"], min_size=1, max_size=1)
        await pool.open()
        try:
            async with unit_of_work(pool, principal) as session:
                await contacts_service.erase(session, uuid.UUID(contact["id"]))
                cur = await session.conn.execute("select count(*) as n from public.webhook_deliveries")
                assert (await cur.fetchone())["n"] == 1  # written, not yet committed
                if fail:
                    raise RuntimeError("the change fails after the event was written")
        finally:
            await pool.close()

    def events() -> int:
        return admin_conn.execute("select count(*) from public.webhook_events where organization_id = %s "
                                  "and payload ->> 'contact_id' = %s", [t.org_id, contact["id"]]).fetchone()[0]

    with pytest.raises(RuntimeError):
        _run(erase(fail=True))
    assert events() == 0
    assert client.get(f"/v1/contacts/{contact['id']}", headers=t.headers).status_code == 200
    assert admin_conn.execute("select count(*) from public.webhook_deliveries where organization_id = %s",
                              [t.org_id]).fetchone()[0] == 0
    _run(erase(fail=False))
    assert events() == 1


def test_events_cannot_be_forged_by_inserting_rows(admin_conn, new_tenant):
    """Only private.emit_webhook_event writes the outbox, and only for the caller's organizations."""
    a, b = new_tenant("A"), new_tenant("B")
    with admin_conn.transaction(force_rollback=True):
        as_user(admin_conn, a.user_id)
        with pytest.raises(Exception, match="row-level security"):
            with admin_conn.transaction():
                admin_conn.execute("insert into public.webhook_events (organization_id, type, payload) "
                                   "values (%s, 'contact.deleted', '{}')", [a.org_id])
        with pytest.raises(Exception, match="not a member"):
            with admin_conn.transaction():
                admin_conn.execute("select private.emit_webhook_event(%s, 'contact.deleted', '{}')", [b.org_id])


def test_sweep_sends_a_delivery_whose_enqueue_was_lost_and_duplicates_do_nothing(client, new_tenant, receiver,
                                                                                admin_conn, celery_worker):
    from api.core.db import job_transaction
    from api.webhooks import repository_sync
    t = new_tenant()
    path = f"/lost-{uuid.uuid4().hex[:8]}"
    endpoint = make_endpoint(client, t, receiver.url(path))
    # The event commits but its task is never enqueued (the broker was down, the API crashed).
    with job_transaction(t.org_id) as session:
        [delivery_id] = repository_sync.emit(session.conn, t.org_id, "contact.deleted", {"contact_id": "x"})
    admin_conn.execute("update public.webhook_deliveries set next_attempt_at = now() - interval '5 minutes' "
                       "where id = %s", [delivery_id])
    time.sleep(0.5)
    assert receiver.to(path) == []
    enqueue(tasks.WEBHOOKS_SWEEP, overdue_s=60)
    wait_for(lambda: deliveries(client, t, endpoint["id"], status="delivered"), 30, message="swept delivery")
    # Redelivered task messages for a delivered delivery send nothing more.
    for _ in range(3):
        enqueue(tasks.WEBHOOK_DELIVER, t.org_id, str(delivery_id))
    enqueue(tasks.WEBHOOKS_SWEEP, overdue_s=0)
    time.sleep(2)
    assert len(receiver.to(path)) == 1


def test_private_targets_are_refused_outside_dev(client, new_tenant, monkeypatch):
    """SSRF guard: in production a URL must resolve to public addresses only (checked on save
    and again before each request); dev and test allow 127.0.0.1 receivers."""
    from api.core.config import get_settings
    monkeypatch.setattr(get_settings(), "egress_allow_private", False)
    t = new_tenant()
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/hook", "http://localhost/hook"):
        resp = client.post("/v1/webhooks", json={"url": url}, headers=t.headers)
        assert resp.status_code == 422, (url, resp.text)
        assert resp.json()["error"]["code"] == "url_not_allowed"
        assert "non-public" in resp.json()["error"]["message"]
    resp = client.post("/v1/webhooks", json={"url": "https://93.184.215.14/hook"}, headers=t.headers)
    assert resp.status_code == 201, resp.text
    moved = client.patch(f"/v1/webhooks/{resp.json()['id']}", json={"url": "http://192.168.0.10/"}, headers=t.headers)
    assert moved.status_code == 422
    assert moved.json()["error"]["code"] == "url_not_allowed"
