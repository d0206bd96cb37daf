"""Applies supabase/migrations in order and records them where the Supabase CLI does.

    python -m infra.migrate [--url postgresql://...] [--no-shim]

Each migration runs in its own transaction together with its row in
supabase_migrations.schema_migrations, so a failed file leaves nothing half-applied.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "supabase" / "migrations"
SHIM = ROOT / "supabase" / "local"
_NAME = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")


def migration_files() -> list[tuple[str, str, Path]]:
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise ValueError(f"migration file name must be <14-digit timestamp>_<name>.sql: {path.name}")
        found.append((m.group(1), m.group(2), path))
    return found


def apply_shim(conn: psycopg.Connection) -> None:
    for path in sorted(SHIM.glob("*.sql")):
        conn.execute(path.read_text())
    # Hosted Supabase puts `extensions` on the database search_path; mirror that.
    dbname = conn.execute("select current_database()").fetchone()[0]
    conn.execute(f'alter database "{dbname}" set search_path = "$user", public, extensions')
    conn.execute(f'grant connect, temporary on database "{dbname}" to renum_app')


def migrate(url: str, *, shim: bool = True) -> list[str]:
    """Apply pending migrations; returns the versions applied now."""
    applied_now = []
    with psycopg.connect(url, autocommit=True) as conn:
        if shim:
            with conn.transaction():
                apply_shim(conn)
        conn.execute("create schema if not exists supabase_migrations")
        conn.execute("create table if not exists supabase_migrations.schema_migrations "
                     "(version text primary key, statements text[], name text)")
        done = {r[0] for r in conn.execute("select version from supabase_migrations.schema_migrations")}
        for version, name, path in migration_files():
            if version in done:
                continue
            sql = path.read_text()
            with conn.transaction():
                conn.execute("set local search_path = public, extensions")
                conn.execute(sql)
                conn.execute("insert into supabase_migrations.schema_migrations (version, statements, name) "
                             "values (%s, %s, %s)", [version, [sql], name])
            applied_now.append(version)
    return applied_now


def search_cache(url: str) -> dict:
    """Whether Postgres's page cache (shared_buffers) holds the chunk table and its indexes: what every
    search reads. At 100k chunks (~530 MB) hybrid search p95 was 21-22 ms with 256 MB and 15-19 ms with
    1-2 GB (BENCHMARKS.md, "Search at 100k chunks"). On hosted Supabase shared_buffers comes with the
    compute size, so `migrate` says when the chunks have outgrown it."""
    with psycopg.connect(url) as conn:
        shared, chunks = conn.execute(
            "select pg_catalog.pg_size_bytes(pg_catalog.current_setting('shared_buffers')), "
            "pg_catalog.pg_total_relation_size('public.document_chunks')").fetchone()
    fits = chunks <= shared
    mb = 1024 * 1024
    message = (f"search cache: shared_buffers {shared // mb} MB, chunks and their indexes {chunks // mb} MB: "
               + ("fits" if fits else "does not fit; searches read pages from outside Postgres's cache and "
                  "slow down: give the database more memory (hosted Supabase: a larger compute size)"))
    return {"shared_buffers_bytes": shared, "chunks_bytes": chunks, "fits": fits, "message": message}


def main(argv: list[str] | None = None) -> int:
    from api.core.config import get_settings
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="owner connection (default: MIGRATION_DATABASE_URL)")
    parser.add_argument("--no-shim", action="store_true", help="hosted Supabase: skip supabase/local")
    args = parser.parse_args(argv)
    settings = get_settings()
    url = args.url or settings.migration_database_url
    if not url:
        print("set MIGRATION_DATABASE_URL or pass --url", file=sys.stderr)
        return 2
    applied = migrate(url, shim=settings.local_supabase_shim and not args.no_shim)
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    print(search_cache(url)["message"])
    from infra import secrets  # credentials stored before encryption at rest, or under an old key
    counts = secrets.rotate(url)
    print("secrets re-encrypted: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
