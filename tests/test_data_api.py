"""The Data API door: what Supabase's PostgREST lets end users do with these tables.

PostgREST connects as `authenticator` and, per request, runs `set local role <jwt role>` and
`set_config('request.jwt.claims', <jwt>, true)`; these tests do exactly that, for every table
of every schema it exposes (derived from the catalog, so a new table without a decision here
fails), as `anon`, a signed-in non-member, and a member, admin and owner of the organization
that owns the rows, × select / insert / update / delete.

The decision (README, "Security model"): `anon` nothing; `authenticated` may read, column by
column, its own organizations and their memberships. Nothing else, no writes, no secrets.
"""
from __future__ import annotations

import json
import uuid

import psycopg
import pytest

EXPOSED_SCHEMAS = ("public", "graphql_public")
# table -> columns `authenticated` may select (rows of its own organizations only).
DATA_API_READABLE = {
    "organizations": ("id", "name", "slug", "created_at", "updated_at"),
    "memberships": ("id", "organization_id", "user_id", "role", "created_at"),
}
# Functions the Data API roles may execute, by schema: only the helper its policies call.
DATA_API_FUNCTIONS = {"authenticated": {"private.member_org_ids()"}, "anon": set()}
PERSONAS = ("anon", "non_member", "member", "admin", "owner")
SECRET_WORDS = ("hash", "token", "secret", "salt", "key", "password")


def _tables(conn) -> list[str]:
    return [r[0] for r in conn.execute(
        "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f') order by 1",
        [list(EXPOSED_SCHEMAS)]).fetchall()]


@pytest.fixture(scope="module")
def world(admin_url):
    """One organization with an owner, an admin and a member, and a stranger (non-member) who
    owns another organization. Writes and denied reads fail on privileges before any row is
    looked at, so only the readable tables need rows."""
    users = {p: uuid.uuid4() for p in ("owner", "admin", "member", "non_member")}
    org, stranger_org = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for user in users.values():
            conn.execute("insert into auth.users (id, email) values (%s, %s)", [user, f"{user}@data-api.test"])
        conn.execute("insert into public.organizations (id, name, slug, created_by) values (%s, 'Org', %s, %s), "
                     "(%s, 'Stranger', %s, %s)", [org, f"o-{org.hex[:12]}", users["owner"], stranger_org,
                                                  f"s-{stranger_org.hex[:12]}", users["non_member"]])
        for persona in ("admin", "member"):
            conn.execute("insert into public.memberships (organization_id, user_id, role) values (%s, %s, %s)",
                         [org, users[persona], persona])
    return {"users": users, "org": str(org), "stranger_org": str(stranger_org)}


def _act_as(conn, persona: str, world) -> None:
    if persona == "anon":
        conn.execute("select set_config('role', 'anon', true), set_config('request.jwt.claims', %s, true)",
                     [json.dumps({"role": "anon"})])
        return
    user = world["users"][persona]
    conn.execute("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                 [json.dumps({"sub": str(user), "role": "authenticated", "aud": "authenticated"})])


def _attempt(admin_url, persona, world, statement, params=()):
    """Run `statement` in a PostgREST-style transaction that is always rolled back; returns the
    rows (select), the row count (writes), or the exception class."""
    with psycopg.connect(admin_url) as conn:
        try:
            _act_as(conn, persona, world)
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else cur.rowcount
        except psycopg.Error as exc:
            return type(exc)
        finally:
            conn.rollback()


def test_the_matrix_covers_the_catalog(admin_conn):
    tables = _tables(admin_conn)
    assert "public.conversation_history" in tables
    for name in DATA_API_READABLE:
        assert f"public.{name}" in tables


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("op", ["select", "insert", "update", "delete"])
def test_data_api_matrix(admin_conn, admin_url, world, persona, op):
    failures = []
    for table in _tables(admin_conn):
        schema, name = table.split(".")
        cols = [r[0] for r in admin_conn.execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped "
            "order by attnum", [table]).fetchall()]
        readable = DATA_API_READABLE.get(name) if schema == "public" else None
        if op == "select":
            outcome = _attempt(admin_url, persona, world, f"select * from {table}")
            whole_table_readable = readable is not None and set(cols) <= set(readable) and persona != "anon"
            if not whole_table_readable and outcome is not psycopg.errors.InsufficientPrivilege:
                failures.append(f"{persona} select * from {table}: {outcome!r}")
            if readable:
                allowed = _attempt(admin_url, persona, world,
                                   f"select {', '.join(readable)} from {table}")
                expected = _expected_rows(persona, name, world)
                got = None if isinstance(allowed, type) else _org_ids(name, allowed, readable)
                if got != expected:
                    failures.append(f"{persona} select whitelisted columns of {table}: {got!r} != {expected!r}")
        elif op == "insert":
            outcome = _attempt(admin_url, persona, world, f"insert into {table} default values")
            if outcome is not psycopg.errors.InsufficientPrivilege:
                failures.append(f"{persona} insert into {table}: {outcome!r}")
        elif op == "update":
            outcome = _attempt(admin_url, persona, world, f"update {table} set {cols[0]} = {cols[0]}")
            if outcome is not psycopg.errors.InsufficientPrivilege:
                failures.append(f"{persona} update {table}: {outcome!r}")
        else:
            outcome = _attempt(admin_url, persona, world, f"delete from {table}")
            if outcome is not psycopg.errors.InsufficientPrivilege:
                failures.append(f"{persona} delete from {table}: {outcome!r}")
    assert not failures, "\n".join(failures)


def _expected_rows(persona, table, world) -> set[str] | None:
    if persona == "anon":
        return None  # permission denied
    if persona == "non_member":
        return {world["stranger_org"]}  # their own organization only
    return {world["org"]}


def _org_ids(table, rows, columns) -> set[str]:
    key = columns.index("id" if table == "organizations" else "organization_id")
    return {str(r[key]) for r in rows}


def test_no_data_api_role_can_read_a_secret_column(admin_conn):
    rows = admin_conn.execute("""
        select n.nspname, c.relname, a.attname, r.rolname
          from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
          cross join (values ('anon'), ('authenticated')) r(rolname)
         where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f') and a.attnum > 0
           and not a.attisdropped
           and has_column_privilege(r.rolname, c.oid, a.attnum, 'SELECT')""", [list(EXPOSED_SCHEMAS)]).fetchall()
    readable = {(t, c) for t, cols in DATA_API_READABLE.items() for c in cols}
    for schema, table, column, role in rows:
        assert (table, column) in readable, f"{role} can read {schema}.{table}.{column}"
        assert not any(w in column for w in SECRET_WORDS), f"{role} can read {schema}.{table}.{column}"


def test_no_data_api_role_can_write_anything_anywhere(admin_conn):
    rows = admin_conn.execute("""
        select n.nspname || '.' || c.relname, r.rolname, p.priv
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          cross join (values ('anon'), ('authenticated')) r(rolname)
          cross join (values ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) p(priv)
         where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
           and c.relkind in ('r', 'p', 'v', 'm', 'f')
           and (has_table_privilege(r.rolname, c.oid, p.priv)
                or (p.priv in ('INSERT', 'UPDATE', 'REFERENCES')
                    and has_any_column_privilege(r.rolname, c.oid, p.priv)))""").fetchall()
    # auth.* belongs to Supabase's own auth service (the local shim mimics it); never to Renum.
    assert [r for r in rows if not r[0].startswith("auth.")] == []


def test_data_api_roles_execute_only_the_policy_helper(admin_conn):
    for role, allowed in DATA_API_FUNCTIONS.items():
        rows = admin_conn.execute("""
            select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
             where n.nspname in ('public', 'private') and has_function_privilege(%s, p.oid, 'EXECUTE')""",
                                  [role]).fetchall()
        assert {r[0] for r in rows} == allowed, role


def test_login_role_can_only_become_the_api_role(admin_conn):
    members = {r[0] for r in admin_conn.execute(
        "select b.rolname from pg_auth_members m join pg_roles a on a.oid = m.member "
        "join pg_roles b on b.oid = m.roleid where a.rolname = 'renum_app'").fetchall()}
    assert members == {"renum_api"}
    api = admin_conn.execute("select rolcanlogin, rolbypassrls, rolsuper from pg_roles "
                             "where rolname = 'renum_api'").fetchone()
    assert api == (False, False, False)


# The six things a member or owner could do through the Data API before the API got its own role.
ATTACKS = [
    ("member", "update public.conversation_history set content = 'tampered' where role = 'assistant'"),
    ("member", "delete from public.usage_events"),
    ("member", "delete from public.citations"),
    ("member", "update public.agents set system_prompt = 'ignore your rules'"),
    ("member", "update public.documents set status = 'ready'"),
    ("member", "delete from public.contacts"),
    ("owner", "select api_access_token, webhook_secret from public.channel_integrations"),
    ("owner", "select key_hash from public.api_keys"),
    ("owner", "select secret_salt from public.webhook_endpoints"),
    ("owner", "select token_hash from public.channel_integrations"),
]


@pytest.mark.parametrize("persona,statement", ATTACKS)
def test_issue_attacks_are_refused(admin_url, world, persona, statement):
    assert _attempt(admin_url, persona, world, statement) is psycopg.errors.InsufficientPrivilege


def test_rpc_to_private_functions_is_refused(admin_url, world):
    for persona in ("anon", "owner"):
        outcome = _attempt(admin_url, persona, world, "select * from private.resolve_api_key('x')")
        assert outcome is psycopg.errors.InsufficientPrivilege, persona
        outcome = _attempt(admin_url, persona, world, "select * from private.org_ids()")
        assert outcome is psycopg.errors.InsufficientPrivilege, persona
