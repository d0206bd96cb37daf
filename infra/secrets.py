"""`./renum rotate-secrets`: re-encrypt every stored third-party credential under the active
key of RENUM_SECRET_KEYS (and encrypt values stored before encryption at rest existed).

Runs over the owner connection (MIGRATION_DATABASE_URL) with row security off, so it fails
loudly rather than skipping rows if that role does not bypass RLS. Idempotent; `./renum migrate`
runs it after applying migrations. Every encrypted column follows one context convention,
"<table>.<column>:<organization_id>" (api/core/secretbox.py).
"""
from __future__ import annotations

import sys

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from api.core import secretbox

# table -> columns holding a third-party credential, encrypted at rest.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "channel_integrations": ("api_access_token", "webhook_secret", "access_token", "app_secret", "verify_token"),
    "webhook_endpoints": ("secret", "previous_secret"),
}


def _current(stored: str, table: str, column: str, org_id) -> str:
    if not stored.startswith(secretbox.PREFIX):  # plaintext from before encryption at rest
        return secretbox.encrypt(stored, context=secretbox.context(table, column, org_id))
    return secretbox.reencrypt(stored, context=secretbox.context(table, column, org_id))


def rotate(url: str) -> dict[str, int]:
    """Returns how many values were rewritten per table."""
    counts: dict[str, int] = {}
    with psycopg.connect(url, row_factory=dict_row) as conn:
        conn.execute("set row_security = off")
        for table, columns in ENCRYPTED_COLUMNS.items():
            exists = conn.execute("select to_regclass(%s) as t", [f"public.{table}"]).fetchone()["t"]
            if exists is None:
                continue
            rows = conn.execute(sql.SQL("select id, organization_id, {} from public.{} for update").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table))).fetchall()
            changed = 0
            for row in rows:
                new = {c: _current(row[c], table, c, row["organization_id"]) for c in columns if row[c]}
                new = {c: v for c, v in new.items() if v != row[c]}
                if new:
                    conn.execute(sql.SQL("update public.{} set {} where id = %s").format(
                        sql.Identifier(table),
                        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in new)),
                        [*new.values(), row["id"]])
                    changed += len(new)
            counts[table] = changed
        conn.commit()
    return counts


def main(argv: list[str] | None = None) -> int:
    from api.core.config import get_settings
    url = get_settings().migration_database_url
    if not url:
        print("set MIGRATION_DATABASE_URL (the owner connection)", file=sys.stderr)
        return 2
    counts = rotate(url)
    print("re-encrypted: " + (", ".join(f"{t} {n}" for t, n in counts.items()) or "nothing stored"))
    return 0
