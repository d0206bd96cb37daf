"""Schema checks: migrations apply from zero, every table is under forced RLS, policy columns indexed."""
import psycopg

from infra import migrate, services
from tests.conftest import PG_PORT, SESSION, TEST_DIR


def test_migrations_apply_from_zero_and_are_recorded():
    pg = services.start_postgres(TEST_DIR, PG_PORT)
    url = services.ensure_database(pg, f"renum_test_migrate_{SESSION}", recreate=True)
    applied = migrate.migrate(url)
    assert applied == [v for v, _, _ in migrate.migration_files()]
    assert migrate.migrate(url) == []  # idempotent
    # `migrate` also says whether the chunk table and its indexes fit Postgres's page cache.
    cache = migrate.search_cache(url)
    assert cache["shared_buffers_bytes"] >= 128 * 1024 * 1024 and cache["chunks_bytes"] > 0
    assert cache["fits"] is True and cache["message"].startswith("search cache: shared_buffers ")
    with psycopg.connect(url) as conn:
        rows = conn.execute("select version, name from supabase_migrations.schema_migrations order by version").fetchall()
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f'drop database "renum_test_migrate_{SESSION}"')
    assert [r[0] for r in rows] == applied


def test_every_public_table_has_rls_enabled_and_forced(admin_conn):
    rows = admin_conn.execute("""
        select c.relname, c.relrowsecurity, c.relforcerowsecurity
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p')""").fetchall()
    assert len(rows) >= 14
    missing = [name for name, enabled, forced in rows if not (enabled and forced)]
    assert missing == []


def test_every_table_has_policies_and_indexed_org_column(admin_conn):
    tables = [r[0] for r in admin_conn.execute("""
        select table_name from information_schema.columns
         where table_schema = 'public' and column_name = 'organization_id'""")]
    assert len(tables) >= 13
    for table in tables:
        n_policies = admin_conn.execute("select count(*) from pg_policies where schemaname = 'public' "
                                        "and tablename = %s", [table]).fetchone()[0]
        assert n_policies >= 1, table
        leading = admin_conn.execute("""
            select count(*) from pg_index i
              join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
             where i.indrelid = ('public.' || %s)::regclass and a.attname = 'organization_id'""", [table]).fetchone()[0]
        assert leading >= 1, f"{table}: no index leads with organization_id"


def test_app_login_role_is_not_superuser_and_owns_nothing(admin_conn):
    role = admin_conn.execute("select rolsuper, rolbypassrls, rolcreaterole from pg_roles "
                              "where rolname = 'renum_app'").fetchone()
    assert role == (False, False, False)
    owned = admin_conn.execute("select count(*) from pg_class c join pg_roles r on r.oid = c.relowner "
                               "where r.rolname in ('renum_app', 'renum_api', 'authenticated', 'anon')").fetchone()[0]
    assert owned == 0


def test_policies_wrap_auth_calls_in_select(admin_conn):
    # Bare auth.uid() in a policy is re-evaluated per row; (select auth.uid()) once per statement.
    rows = admin_conn.execute("select tablename, coalesce(qual, '') || coalesce(with_check, '') from pg_policies "
                              "where schemaname = 'public'").fetchall()
    for table, text in rows:
        assert "auth.uid()" not in text.replace("( SELECT auth.uid() AS uid)", ""), table
