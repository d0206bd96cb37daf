"""Postgres unreachable: requests answer 503 + Retry-After as JSON (not a bare 500), after the
pool's wait, and work again once the database is back."""
from __future__ import annotations

import asyncio
import socket

from api.core.db import async_pool


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket closes


def test_database_outage_answers_503_json_then_recovers(client, new_tenant):
    t = new_tenant()
    app = client.app
    healthy = app.state.db
    down = async_pool(f"postgresql://renum_app@127.0.0.1:{_closed_port()}/renum", min_size=0, max_size=2, timeout=1)
    asyncio.run(down.open(wait=False))
    app.state.db = down
    try:
        resp = client.get("/v1/agents", headers=t.headers)
        assert resp.status_code == 503, resp.text
        assert resp.headers["content-type"].startswith("application/json")
        assert int(resp.headers["Retry-After"]) > 0
        assert resp.json()["error"]["code"] == "service_unavailable"
    finally:
        app.state.db = healthy
    assert client.get("/v1/agents", headers=t.headers).status_code == 200
