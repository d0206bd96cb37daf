-- Local-only shim: what hosted Supabase already provides, so the same migrations run on the
-- embedded Postgres. Never applied to a hosted project (RENUM_LOCAL_SUPABASE_SHIM=false).
-- Idempotent: the migrator runs it before every migration pass.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- Renum's application role (migration 20261201000000 creates it on hosted projects too).
  if not exists (select 1 from pg_roles where rolname = 'renum_api') then
    create role renum_api nologin noinherit;
  end if;
  -- The login role in DATABASE_URL: logs in, owns nothing, may only switch to renum_api —
  -- not to the Data API's roles, and never to service_role (which bypasses RLS).
  if not exists (select 1 from pg_roles where rolname = 'renum_app') then
    create role renum_app login noinherit nosuperuser nocreatedb nocreaterole;
  end if;
end
$$;

revoke anon, authenticated, service_role from renum_app;
grant renum_api to renum_app;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create table if not exists auth.users (
  id uuid primary key default gen_random_uuid(),
  email text unique,
  created_at timestamptz not null default now()
);
grant select on auth.users to service_role;

-- Same definitions as Supabase's: claims come from the per-transaction GUC set by the API.
create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

grant execute on function auth.jwt(), auth.uid(), auth.role() to anon, authenticated, service_role;

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role, renum_app;
