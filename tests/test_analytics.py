"""GET /v1/analytics/usage and /performance: sums by day, agent and model; latency percentiles;
date ranges in a time zone; another organization sees nothing."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.support.chat import HOSTED, create_agent, hosted, open_conversation, send  # noqa: F401

pytestmark = pytest.mark.usefixtures("hosted")


def _usage_row(admin_conn, t, agent_id, *, model, latency, first_token, at, prompt=10, completion=5):
    admin_conn.execute(
        "insert into public.usage_events (organization_id, kind, model, prompt_tokens, completion_tokens, latency_ms,"
        " agent_id, metadata, created_at, user_id) values (%s, 'chat', %s, %s, %s, %s, %s, %s, %s, null)",
        [t.org_id, model, prompt, completion, latency, agent_id, f'{{"first_token_ms": {first_token}}}', at])


def test_usage_counts_real_turns_by_day_agent_and_model(client, new_tenant):
    t = new_tenant()
    agent = create_agent(client, t)
    conv = open_conversation(client, t, agent["id"])
    for text in ("Oi", "Qual o prazo?"):
        assert send(client, t, agent["id"], conv["id"], text).status_code == 201
    today = date.today().isoformat()
    resp = client.get("/v1/analytics/usage", params={"start": today, "end": today}, headers=t.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    totals = body["totals"]
    assert totals["messages"] == 4
    assert totals["user_messages"] == 2
    assert totals["turns"] == 2
    assert totals["total_tokens"] == totals["prompt_tokens"] + totals["completion_tokens"] > 0
    assert [d["day"] for d in body["by_day"]] == [today]
    assert body["by_day"][0]["messages"] == 4
    assert body["by_agent"][0]["agent_id"] == agent["id"]
    assert body["by_agent"][0]["agent_name"] == agent["name"]
    assert body["by_model"][0]["model"] == HOSTED
    assert body["by_model"][0]["turns"] == 2
    # Default range: the last 30 days, zero-filled for the chart.
    default = client.get("/v1/analytics/usage", headers=t.headers).json()
    assert len(default["by_day"]) == 30
    assert default["totals"]["messages"] == 4
    # Identical reports are cached for a minute; `fresh` recomputes.
    assert send(client, t, agent["id"], conv["id"], "Mais uma").status_code == 201
    assert client.get("/v1/analytics/usage", headers=t.headers).json()["totals"]["messages"] == 4
    assert client.get("/v1/analytics/usage", params={"fresh": True}, headers=t.headers).json()["totals"]["messages"] == 6


def test_cost_is_priced_from_the_model_list(client, new_tenant, admin_conn):
    t = new_tenant()
    agent = create_agent(client, t)
    at = datetime(2026, 3, 10, 15, tzinfo=timezone.utc)
    _usage_row(admin_conn, t, agent["id"], model="gpt-4o-mini", latency=100, first_token=20, at=at,
               prompt=1_000_000, completion=0)
    _usage_row(admin_conn, t, agent["id"], model="renum-local", latency=100, first_token=20, at=at)
    body = client.get("/v1/analytics/usage", params={"start": "2026-03-10", "end": "2026-03-10"},
                      headers=t.headers).json()
    by_model = {m["model"]: m for m in body["by_model"]}
    assert 0 < by_model["gpt-4o-mini"]["cost_usd"] < 10
    assert by_model["renum-local"]["cost_usd"] == 0
    assert body["totals"]["cost_usd"] == pytest.approx(by_model["gpt-4o-mini"]["cost_usd"])


def test_performance_percentiles_and_time_zone_days(client, new_tenant, admin_conn):
    t = new_tenant()
    a, b = create_agent(client, t), create_agent(client, t)
    base = datetime(2026, 5, 3, 12, tzinfo=timezone.utc)
    for i in range(1, 21):  # agent a: 100..2000 ms on May 3rd
        _usage_row(admin_conn, t, a["id"], model="m1", latency=i * 100, first_token=i * 10, at=base)
    # 02:00 UTC on May 4th is still May 3rd in São Paulo (UTC-3).
    _usage_row(admin_conn, t, b["id"], model="m2", latency=5000, first_token=50, at=datetime(2026, 5, 4, 2, tzinfo=timezone.utc))
    params = {"start": "2026-05-01", "end": "2026-05-05"}
    utc = client.get("/v1/analytics/performance", params=params, headers=t.headers).json()
    assert utc["totals"]["turns"] == 21
    assert [(d["day"], d["turns"]) for d in utc["by_day"]] == [("2026-05-03", 20), ("2026-05-04", 1)]
    agent_a = next(x for x in utc["by_agent"] if x["agent_id"] == a["id"])
    assert agent_a["latency_p50_ms"] == pytest.approx(1050)
    assert agent_a["latency_p95_ms"] == pytest.approx(1905)
    assert agent_a["first_token_p50_ms"] == pytest.approx(105)
    assert agent_a["agent_name"] == a["name"]
    assert {m["model"] for m in utc["by_model"]} == {"m1", "m2"}
    sp = client.get("/v1/analytics/performance", params={**params, "timezone": "America/Sao_Paulo"},
                    headers=t.headers).json()
    assert [(d["day"], d["turns"]) for d in sp["by_day"]] == [("2026-05-03", 21)]
    usage = client.get("/v1/analytics/usage", params={**params, "timezone": "America/Sao_Paulo"},
                       headers=t.headers).json()
    assert [d["turns"] for d in usage["by_day"]] == [0, 0, 21, 0, 0]


@pytest.mark.parametrize("params, fragment", [
    ({"start": "2026-05-05", "end": "2026-05-01"}, "start must not be after end"),
    ({"start": "2024-01-01", "end": "2026-01-01"}, "at most 366 days"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"start": "yesterday"}, "start"),
])
def test_bad_ranges_are_clear_422s(client, new_tenant, params, fragment):
    t = new_tenant()
    for path in ("/v1/analytics/usage", "/v1/analytics/performance"):
        resp = client.get(path, params=params, headers=t.headers)
        assert resp.status_code == 422, resp.text
        assert fragment in resp.json()["error"]["message"], resp.text


def test_another_organization_sees_nothing(client, new_tenant, admin_conn):
    t, other = new_tenant(), new_tenant()
    agent = create_agent(client, t)
    conv = open_conversation(client, t, agent["id"])
    assert send(client, t, agent["id"], conv["id"], "Oi").status_code == 201
    _usage_row(admin_conn, t, agent["id"], model="m1", latency=100, first_token=10, at=datetime.now(timezone.utc))
    mine = client.get("/v1/analytics/usage", headers=t.headers).json()
    assert mine["totals"]["turns"] == 2
    for path in ("/v1/analytics/usage", "/v1/analytics/performance"):
        theirs = client.get(path, headers=other.headers).json()
        assert theirs["totals"]["turns"] == 0
        assert theirs["by_agent"] == []
        assert theirs["by_model"] == []
        # Naming the first organization with the other user's token is a 404, not its numbers.
        spoofed = client.get(path, headers={**other.headers, "X-Organization-Id": t.org_id})
        assert spoofed.status_code == 404
    # A user in both organizations sees each one's numbers apart.
    admin_conn.execute("insert into public.memberships (organization_id, user_id, role) values (%s, %s, 'member')",
                       [other.org_id, t.user_id])
    both = client.get("/v1/analytics/usage", headers={**t.headers, "X-Organization-Id": other.org_id}).json()
    assert both["totals"]["turns"] == 0
    assert both["totals"]["messages"] == 0
    assert uuid.UUID(mine["by_agent"][0]["agent_id"])
