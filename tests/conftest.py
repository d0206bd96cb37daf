"""Test stack: real embedded Postgres + pgvector, real Redis, real Celery worker.

The session gets its own data dir and ports (.renum/test, 15433/16380), a database
recreated from zero with the real migrations, and the API through Starlette's TestClient.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parents[1]
TEST_DIR = ROOT / ".renum" / "test"
PG_PORT = int(os.environ.get("RENUM_TEST_PG_PORT", "15433"))
# Several test sessions may run at once (developers, CI): they share the Postgres server but
# each gets its own database and its own Redis server (so Celery queues never cross).
SESSION = f"{os.getpid()}"
WORKER_LOG = TEST_DIR / f"worker-{SESSION}.log"  # the session's Celery worker writes here


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _drop_stale_databases(admin: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        for (name,) in conn.execute("select datname from pg_database where datname like 'renum\\_test\\_%'").fetchall():
            pid = name.rsplit("_", 1)[-1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                conn.execute(f'drop database if exists "{name}" with (force)')


def _start_stack() -> tuple[dict[str, str], callable]:
    from infra import migrate, services
    pg = services.start_postgres(TEST_DIR, PG_PORT)
    _drop_stale_databases(pg.url())
    database = f"renum_test_{SESSION}"
    admin_url = services.ensure_database(pg, database, recreate=True)
    migrate.migrate(admin_url, shim=True)
    redis_dir = TEST_DIR / f"redis-{SESSION}"
    redis_url = services.start_redis(redis_dir, _free_port())

    def cleanup():
        # By port first: the fault tests restart this Redis, and the old process removes the
        # pid file the new one wrote, so the pid file alone can miss it.
        try:
            redis.Redis.from_url(redis_url, socket_timeout=2).shutdown(nosave=True)
        except (redis.RedisError, OSError):
            pass
        services.stop_redis(redis_dir)
        shutil.rmtree(redis_dir, ignore_errors=True)
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{database}" with (force)')
    return {"MIGRATION_DATABASE_URL": admin_url, "DATABASE_URL": pg.url(database, user="renum_app"),
            "REDIS_URL": redis_url}, cleanup


# Settings that do not depend on the stack are fixed at import, before any project module reads
# settings; the stack's URLs are added by the `stack` fixture when the first test needs it, so
# collecting tests (or running the static ones) starts nothing.
# Tests chat with the small SmolLM2 (fast; answers are not judged here: bench/answers.py does
# that with the default model). RENUM_LOCAL_MODEL set by the caller still wins.
os.environ.setdefault("RENUM_LOCAL_MODEL", "smollm2")
os.environ.update(RENUM_ENV="test", LITELLM_LOCAL_MODEL_COST_MAP="True",
                  RENUM_TASK_VISIBILITY_TIMEOUT_S="300", RENUM_RATE_LIMIT_PER_MINUTE="100000",
                  RENUM_ORG_RATE_LIMIT_PER_MINUTE="100000",
                  # Webhook retries in under a few seconds, so retry and dead-letter tests run with
                  # the real worker: 3 attempts, 0.5 s then 1 s apart.
                  RENUM_WEBHOOK_MAX_ATTEMPTS="3", RENUM_WEBHOOK_BACKOFF_S="0.5", RENUM_WEBHOOK_TIMEOUT_S="3",
                  # Channel reply tasks retry after 0.5 s, 1 s, 2 s... (provider outages in tests).
                  RENUM_CHANNEL_RETRY_BASE_S="0.5")


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, str]]:
    """The session's Postgres database, Redis and their URLs (MIGRATION_DATABASE_URL for the
    superuser, DATABASE_URL for the API's login role, REDIS_URL), set in the environment before
    any project code reads its settings."""
    from api.core import tasks
    from api.core.config import get_settings
    urls, cleanup = _start_stack()
    os.environ.update(urls)
    get_settings.cache_clear()
    tasks.reset_producer()  # in case something published before the broker's URL was known
    try:
        yield urls
    finally:
        cleanup()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "no_stack: a static test that needs no Postgres, Redis or worker")


@pytest.fixture(autouse=True)
def _stack_for_every_test(request) -> None:
    """Every test gets the stack (project code never runs with unset URLs) except the static ones
    marked `no_stack`, which run without starting anything."""
    if request.node.get_closest_marker("no_stack") is None:
        request.getfixturevalue("stack")


@pytest.fixture(scope="session")
def admin_url(stack) -> str:
    return stack["MIGRATION_DATABASE_URL"]


@pytest.fixture
def admin_conn(admin_url):
    """Superuser connection for arranging data and inspecting what the API wrote."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def redis_client(stack):
    """A real Redis client on a database of its own, empty at the start of each test."""
    client = redis.Redis.from_url(stack["REDIS_URL"].rsplit("/", 1)[0] + "/2")
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(scope="session")
def client(stack):
    from fastapi.testclient import TestClient

    from api.main import create_app
    with TestClient(create_app()) as c:
        yield c


@dataclass
class Tenant:
    user_id: uuid.UUID
    token: str
    org_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Organization-Id": self.org_id}


def make_user(admin_url: str) -> tuple[uuid.UUID, str]:
    from api.core.auth import mint_dev_token
    from api.core.config import get_settings
    user_id = uuid.uuid4()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id, email) values (%s, %s)", [user_id, f"{user_id}@test.local"])
    return user_id, mint_dev_token(user_id, get_settings())


@pytest.fixture
def new_user(admin_url):
    return lambda: make_user(admin_url)


@pytest.fixture
def new_tenant(client, admin_url):
    """Factory: a fresh user who owns a fresh organization."""
    def make(name: str = "Acme") -> Tenant:
        user_id, token = make_user(admin_url)
        slug = f"t-{uuid.uuid4().hex[:12]}"
        resp = client.post("/v1/organizations", json={"name": name, "slug": slug},
                           headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 201, resp.text
        return Tenant(user_id, token, resp.json()["id"])
    return make


@pytest.fixture(scope="session")
def celery_worker(stack):
    """A real Celery worker process consuming every queue; yields its Popen."""
    from infra.local import worker_command
    log = open(WORKER_LOG, "ab")
    proc = subprocess.Popen(worker_command(concurrency=2), cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_worker()
        yield proc
    finally:
        # Also when the worker never answered: a leaked worker would outlive the session.
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_worker(timeout: float = 60) -> None:
    from api.core.tasks import producer
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if producer().control.ping(timeout=0.5):
            return
    raise RuntimeError(f"celery worker did not start; see {WORKER_LOG}")


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    """Poll until `predicate()` is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")

