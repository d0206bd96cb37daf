"""Local runner behind `./renum run` and `./renum test`.

`run` starts (or reuses) the embedded Postgres 18 + pgvector and Redis, applies migrations,
starts a Celery worker and the API, and prints the URL with a dev token. With DATABASE_URL
and REDIS_URL set (e.g. hosted Supabase) it uses those and starts no database or Redis.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from infra.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[1]
DEV_USER_ID = uuid.UUID("00000000-0000-4000-8000-00000000d3e5")
WORKER_QUEUES = "default,ingest,memory,webhooks,channels"
# `run` starts one pool per workload (name, queues, processes, CPU niceness), so replies and
# webhook deliveries never wait behind a memory or ingest backlog in a queue; the background pools
# also run at a lower CPU priority, so on a busy machine the cores go to the API and the fast pool
# first and the backlog is worked off with what is left (it is durable: api/memory/jobs.sweep).
WORKER_POOLS = (("fast", "default,webhooks,channels", 2, 0), ("ingest", "ingest", 1, 10), ("memory", "memory", 1, 10))


def embedded_urls(data_dir: Path, pg_port: int, redis_port: int, database: str = "renum") -> dict[str, str]:
    """Start embedded services; returns the environment the API and workers need."""
    from infra import migrate, services
    pg = services.start_postgres(data_dir, pg_port)
    admin_url = services.ensure_database(pg, database)
    migrate.migrate(admin_url, shim=True)
    return {"MIGRATION_DATABASE_URL": admin_url, "DATABASE_URL": pg.url(database, user="renum_app"),
            "REDIS_URL": services.start_redis(data_dir, redis_port)}


def seed_dev(admin_url: str) -> tuple[str, str]:
    """A dev user with an organization; returns (org id, token)."""
    import psycopg

    from api.core.auth import mint_dev_token
    from api.core.config import get_settings
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id, email) values (%s, 'dev@renum.local') on conflict do nothing",
                     [DEV_USER_ID])
        conn.execute("insert into public.organizations (name, slug, created_by) values ('Dev', 'dev', %s) "
                     "on conflict (slug) do nothing", [DEV_USER_ID])
        org_id = conn.execute("select id from public.organizations where slug = 'dev'").fetchone()[0]
    return str(org_id), mint_dev_token(DEV_USER_ID, get_settings(), email="dev@renum.local")


def worker_command(concurrency: int = 2, queues: str = WORKER_QUEUES, name: str = "renum",
                   nice: int = 0) -> list[str]:
    prefix = ["nice", "-n", str(nice)] if nice and shutil.which("nice") else []
    if queues == "memory":  # summaries and facts: the model server's background lane
        prefix = ["env", "RENUM_LOCAL_MODEL_LANE=background", *prefix]
    return prefix + [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", queues,
            "-c", str(concurrency), "--loglevel", "INFO", "-n", f"{name}-{os.getpid()}@%h"]


def api_command(settings, workers: int | None = None) -> list[str]:
    # More than one API process where cores allow: the query embedding and JSON work are CPU
    # bound and one process saturates one core.
    workers = workers or settings.api_workers or max(1, min(4, (os.cpu_count() or 1)))
    return [sys.executable, "-m", "uvicorn", "api.main:app", "--host", settings.api_host,
            "--port", str(settings.api_port), "--workers", str(workers), "--timeout-graceful-shutdown", "10"]


def model_server(settings, env: dict[str, str]) -> dict[str, list[str]]:
    """The local model's own process (api/llm/server.py), unless RENUM_LOCAL_MODEL_URL names one
    already: the API workers and the Celery pools then share one loaded model (one copy in memory,
    one prefix cache, one queue on the cores) instead of each loading it. `env` gets its address and
    a fresh key for this run, so nothing else on the machine can use it."""
    if settings.local_model_url:
        return {}
    env.update(RENUM_LOCAL_MODEL_URL=f"http://127.0.0.1:{settings.local_model_port}",
               RENUM_LOCAL_MODEL_KEY=settings.local_model_key or secrets.token_urlsafe(24))
    return {"model": [sys.executable, "-m", "api.llm.server", "--host", "127.0.0.1",
                      "--port", str(settings.local_model_port)]}


def prepare_local_model() -> str:
    """Assemble and verify the packaged local model now (once, before the API and the worker
    start and would race to do it); returns a line saying which model the processes will load."""
    from api.llm.llama_engine import resolve_model
    model = resolve_model()
    size = model.path.stat().st_size / 1e6
    return f"local model: {model.name} = {model.description} ({model.path}, {size:.0f} MB, verified)" \
        if model.name != "path" else f"local model: {model.path} ({size:.0f} MB)"


def run(args: argparse.Namespace) -> int:
    from api.core.config import get_settings
    started = time.monotonic()
    settings = get_settings()
    model_line = prepare_local_model()
    print(f"renum: {model_line}", flush=True)
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(ROOT))
    if settings.embedded_database:
        env.update(embedded_urls(settings.data_dir, settings.pg_port, settings.redis_port))
        os.environ.update(env)
        get_settings.cache_clear()
        org_id, token = seed_dev(env["MIGRATION_DATABASE_URL"])
    else:
        org_id, token = "(hosted)", "(use a Supabase user token or an API key)"
    commands = model_server(settings, env)
    commands |= {f"worker-{name}": worker_command(concurrency, queues, name, nice)
                 for name, queues, concurrency, nice in WORKER_POOLS}
    commands["beat"] = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat", "--loglevel", "WARNING",
                        "-s", str(settings.data_dir / "celerybeat-schedule")]
    commands["api"] = api_command(settings)
    supervisor = Supervisor(commands, env=env, cwd=ROOT)
    url = f"http://{settings.api_host}:{settings.api_port}"
    try:
        _wait_http(url + "/healthz", 60)
    except RuntimeError:
        supervisor.stop()
        raise
    print(f"\nRenum is up in {time.monotonic() - started:.1f}s: {url}  (docs: {url}/docs)\n"
          f"{model_line}\ndev organization: {org_id}\ndev token: {token}\n"
          f"try: curl -H 'Authorization: Bearer {token[:16]}...' {url}/v1/organizations\n", flush=True)
    try:
        return supervisor.run()
    finally:
        if settings.embedded_database:
            # Ctrl+C stops everything `run` started; data stays in RENUM_DATA_DIR.
            from infra import services
            services.stop_redis(settings.data_dir)
            services.stop_postgres(settings.data_dir)


def _wait_http(url: str, timeout: float) -> None:
    import httpx
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def test(extra: list[str]) -> int:
    # pytest exits 5 when nothing was collected; CI must treat that as a failure too.
    return subprocess.call([sys.executable, "-m", "pytest", *extra], cwd=ROOT,
                           env=dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="renum", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="start the service with embedded defaults")
    sub.add_parser("test", help="run the test suite (extra args go to pytest)")
    sub.add_parser("migrate", help="apply migrations to MIGRATION_DATABASE_URL")
    sub.add_parser("rotate-secrets", help="re-encrypt stored credentials under the first RENUM_SECRET_KEYS key")
    sub.add_parser("new-secret-key", help="print a fresh key for RENUM_SECRET_KEYS")
    sub.add_parser("model-server", help="serve the local model alone (set RENUM_LOCAL_MODEL_URL elsewhere to use it)")
    from infra import operator_commands as operator
    operator.add_commands(sub)
    args, extra = parser.parse_known_args(argv)
    if args.cmd in operator.COMMANDS:
        return operator.COMMANDS[args.cmd](args)
    if args.cmd == "rotate-secrets":
        from infra.secrets import main as rotate_main
        return rotate_main(extra)
    if args.cmd == "new-secret-key":
        from api.core.secretbox import new_key
        print(new_key())
        return 0
    if args.cmd == "run":
        return run(args)
    if args.cmd == "model-server":
        print(f"renum: {prepare_local_model()}", flush=True)
        from api.llm.server import main as serve
        return serve(extra)
    if args.cmd == "test":
        return test(extra)
    from infra.migrate import main as migrate_main
    return migrate_main(extra)


if __name__ == "__main__":
    raise SystemExit(main())
