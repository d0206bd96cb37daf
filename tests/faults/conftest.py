"""Fault fixtures: a Redis of the test's own that can be killed, frozen and restarted, and
the app wired to it (the session's Redis, which the worker and other tests use, stays up)."""
from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEST_DIR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrivateRedis:
    dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def pid(self) -> int:
        # A daemonized redis-server opens its port before it writes the pid file.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = (self.dir / "redis.pid").read_text().strip() if (self.dir / "redis.pid").exists() else ""
            if text:
                return int(text)
            time.sleep(0.02)
        raise RuntimeError("redis wrote no pid file")

    def start(self) -> None:
        from infra import services
        services.start_redis(self.dir.parent, self.port)
        # The product's Redis fsyncs its append-only file every second, so a SIGKILL may lose the
        # last second of writes: a released conversation lock comes back and holds its conversation
        # until the TTL (409 + Retry-After meanwhile; that is the designed bound). The tests kill
        # Redis right after a release and assert on what follows, so this one fsyncs every write.
        import redis
        with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5) as r:
            r.config_set("appendfsync", "always")

    def kill(self) -> None:
        os.kill(self.pid(), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        (self.dir / "redis.pid").unlink(missing_ok=True)

    def freeze(self) -> None:
        os.kill(self.pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        if (self.dir / "redis.pid").exists():  # killed ones have none
            os.kill(self.pid(), signal.SIGCONT)


def _open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    from infra import services
    from api.core.redis import reset_breakers
    base = TEST_DIR / f"fault-redis-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    r = PrivateRedis(base / "redis", _free_port())
    r.start()
    try:
        yield r
    finally:
        try:
            r.thaw()
        except (OSError, ValueError, RuntimeError):
            pass
        services.stop_redis(base)
        reset_breakers()  # breakers are per process: later tests start with Redis trusted


@pytest.fixture
def app_on(client):
    """Point the session app's Redis at another server for one test; restored afterwards."""
    from api.core.redis import async_client
    app = client.app
    original = app.state.redis
    swapped = []

    def use(url: str):
        app.state.redis = async_client(url)
        swapped.append(app.state.redis)
        return app
    yield use
    app.state.redis = original
