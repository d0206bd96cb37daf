"""Redis is a dependency that may fail: with it killed, frozen or restarted, authenticated
requests and chat keep working (rate limits fail open to a local limiter, the conversation
lock falls back to a Postgres lease, recent turns come from Postgres), every answer is JSON,
and nothing is lost or answered twice."""
from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.chat.lock import ConversationLock
from api.chat.transactions import Transactions
from api.core.config import get_settings
from api.core.db import async_pool
from api.core.errors import Locked
from api.core.principal import org_principal
from api.core.redis import async_client, reset_breakers
from tests.support.chat import HOSTED, create_agent, hosted, messages_of, open_conversation, send  # noqa: F401


def _chat(client, t, agent, conv, content, **body):
    resp = send(client, t, agent["id"], conv["id"], content, **body)
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    return resp


def test_chat_keeps_answering_with_redis_killed_and_after_it_returns(client, new_tenant, admin_conn, hosted,
                                                                      private_redis, app_on):
    app_on(private_redis.url)
    t = new_tenant()
    agent = create_agent(client, t, model=HOSTED, memory_enabled=False)
    conv = open_conversation(client, t, agent["id"])
    assert _chat(client, t, agent, conv, "antes", client_message_id="m0").status_code == 201

    private_redis.kill()
    for i in range(1, 4):
        resp = _chat(client, t, agent, conv, f"durante {i}", client_message_id=f"m{i}")
        assert resp.status_code == 201, resp.text
        assert resp.json()["message"]["content"].endswith(f"durante {i}")
    assert client.get("/v1/agents", headers=t.headers).status_code == 200  # rate limit failed open
    # A retried send during the outage is answered from the store, not a second time.
    again = _chat(client, t, agent, conv, "durante 3", client_message_id="m3")
    assert again.status_code == 200
    assert again.json()["message"]["content"] == resp.json()["message"]["content"]
    # The lease is released after each answer (the next sends did not wait for it to expire).
    assert admin_conn.execute("select answer_lock_token from public.conversations where id = %s",
                              [conv["id"]]).fetchone()[0] is None

    private_redis.start()  # same port, same append-only file: pooled connections are dead
    reset_breakers()  # as after OPEN_S: the next requests use Redis again
    statuses = [_chat(client, t, agent, conv, f"depois {i}", client_message_id=f"a{i}").status_code
                for i in range(5)]
    assert statuses == [201] * 5

    rows = messages_of(admin_conn, conv["id"])
    assert [r[1] for r in rows if r[0] == "user"] == ["antes", "durante 1", "durante 2", "durante 3",
                                                        *[f"depois {i}" for i in range(5)]]
    assert len([r for r in rows if r[0] == "assistant"]) == 9  # one answer per question, no duplicates


def test_frozen_redis_degrades_instead_of_failing(client, new_tenant, hosted, private_redis, app_on):
    app_on(private_redis.url)
    t = new_tenant()
    agent = create_agent(client, t, model=HOSTED, memory_enabled=False)
    conv = open_conversation(client, t, agent["id"])
    private_redis.freeze()
    try:
        resp = _chat(client, t, agent, conv, "congelado")
        assert resp.status_code == 201
        assert resp.json()["message"]["content"].endswith("congelado")
        assert client.get("/v1/agents", headers=t.headers).status_code == 200
    finally:
        private_redis.thaw()


def test_outage_answers_are_json(client, new_tenant, private_redis, app_on):
    """Where nothing can stand in for Redis, the answer is still JSON: here the readiness check."""
    app_on(private_redis.url)
    private_redis.kill()
    resp = client.get("/readyz")
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.status_code == 503


def test_postgres_lease_lock_excludes_a_second_sender(client, new_tenant, private_redis):
    t = new_tenant()
    agent = create_agent(client, t, model=HOSTED, memory_enabled=False)
    conv = open_conversation(client, t, agent["id"])
    other = new_tenant()
    private_redis.kill()

    async def go():
        pool = async_pool(get_settings().database_url, min_size=1, max_size=4)
        await pool.open(wait=True)
        redis = async_client(private_redis.url)
        try:
            tx = Transactions(pool, org_principal(uuid.UUID(t.org_id), "admin", kind="api_key"), uuid.UUID(t.org_id))
            first = ConversationLock(redis, t.org_id, conv["id"], tx=tx)
            await first.acquire(1)
            assert first.backend == "postgres"
            second = ConversationLock(redis, t.org_id, conv["id"], tx=tx)
            with pytest.raises(Locked):
                await second.acquire(0.3)
            await first.release()
            await second.acquire(0.3)  # free again once released
            await second.release()
            # Another organization cannot take (or learn about) this conversation's lease.
            tx_b = Transactions(pool, org_principal(uuid.UUID(other.org_id), "admin", kind="api_key"),
                                uuid.UUID(other.org_id))
            intruder = ConversationLock(redis, other.org_id, conv["id"], tx=tx_b)
            await intruder.acquire(0.3)
            assert intruder.backend == "none"
        finally:
            await redis.aclose()
            await pool.close()
    asyncio.run(go())


def test_rate_limit_falls_back_to_a_local_limiter(private_redis):
    from api.core import errors, ratelimit
    private_redis.kill()

    async def go():
        redis = async_client(private_redis.url)
        subject = f"key:{uuid.uuid4()}"
        for _ in range(3):
            await ratelimit.hit(redis, subject, 3)
        with pytest.raises(errors.RateLimited):
            await ratelimit.hit(redis, subject, 3)
        await redis.aclose()
    asyncio.run(go())


def test_concurrent_sends_during_outage_store_every_message_once(client, new_tenant, admin_conn, hosted,
                                                                  private_redis, app_on):
    app_on(private_redis.url)
    t = new_tenant()
    agent = create_agent(client, t, model=HOSTED, memory_enabled=False)
    conv = open_conversation(client, t, agent["id"])
    private_redis.kill()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: _chat(client, t, agent, conv, f"paralelo {i}",
                                                client_message_id=f"p{i}").status_code, range(6)))
    assert set(results) <= {201, 409}
    accepted = results.count(201)
    rows = messages_of(admin_conn, conv["id"])
    answered = {r[3] for r in rows if r[0] == "assistant"}
    users = [r for r in rows if r[0] == "user"]
    assert len(answered) == len([r for r in rows if r[0] == "assistant"]) == accepted
    assert len(users) >= accepted
