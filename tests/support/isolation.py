"""SQL-level tenant isolation helpers: act as a user the way the API does, and check that
another organization's rows are invisible and unchangeable."""
from __future__ import annotations

import json


def as_user(conn, user_id) -> None:
    """The rest of this transaction runs as the API's role (`renum_api`) with the user's JWT
    claims, exactly what the API sets per request."""
    conn.execute("select set_config('role', 'renum_api', true), set_config('request.jwt.claims', %s, true)",
                 [json.dumps({"sub": str(user_id), "role": "authenticated"})])


def assert_org_rows_untouchable(conn, table: str, org_id) -> None:
    """As the current (other organization's) user: `org_id`'s rows of `table` are not seen, and
    updating or deleting them changes nothing."""
    assert conn.execute(f"select count(*) from public.{table} where organization_id = %s",
                        [org_id]).fetchone()[0] == 0, table
    assert conn.execute(f"update public.{table} set organization_id = organization_id "
                        f"where organization_id = %s", [org_id]).rowcount == 0, table
    assert conn.execute(f"delete from public.{table} where organization_id = %s", [org_id]).rowcount == 0, table
