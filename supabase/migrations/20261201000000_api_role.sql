-- Two roles, two doors.
--
-- Until now Renum's API and workers ran each transaction as Supabase's `authenticated` role,
-- the same role every signed-in end user gets through the Data API (PostgREST). So a member
-- holding a Supabase session could do with plain REST calls what the HTTP API refuses:
-- rewrite the agent's answers, delete usage and citations, change an agent's prompt, mark a
-- document ready, delete contacts past the erasure flow, and read channel tokens.
--
-- From here on:
-- * `renum_api` (NOLOGIN) is Renum's own application role. The login role (`renum_app`
--   locally; on hosted Supabase the role in DATABASE_URL) is granted it and switches to it
--   per transaction with set_config('role', 'renum_api', true) plus request.jwt.claims,
--   exactly as before. Every table policy that was written for `authenticated` now applies
--   to `renum_api`, and the private functions (sweeps, API-key and channel resolution,
--   search helpers) are executable by `renum_api` only.
-- * `authenticated` and `anon` (the Data API's roles) get the minimal, deliberate door:
--   `anon` nothing at all; `authenticated` may READ two whitelisted tables, column by
--   column — the organizations they belong to (id, name, slug, created_at, updated_at) and
--   the memberships of those organizations (id, organization_id, user_id, role, created_at)
--   — so a Supabase client app can show "your organizations" without going through Renum.
--   No writes, no secrets, no other table. Everything else goes through Renum's API, which
--   applies the role rules (admin-only settings, erasure, ingest) the database cannot.
-- * New tables created later by the migrating role get no privileges for anon/authenticated
--   by default (Supabase grants them to every new table in `public` unless told otherwise);
--   tests/test_data_api.py derives the table list from the catalog and fails on any table
--   whose Data API outcome is not decided.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'renum_api') then
    create role renum_api nologin noinherit;
  end if;
end
$$;

grant usage on schema public, private, extensions to renum_api;

-- auth.uid()/auth.jwt() in policies and column defaults run as renum_api. On hosted Supabase
-- the `auth` schema belongs to supabase_auth_admin; if the migrating role cannot grant usage
-- on it, say so (README "Security model" gives the one statement to run as supabase_admin).
do $$
begin
  grant usage on schema auth to renum_api;
exception when insufficient_privilege then
  raise warning 'could not grant usage on schema auth to renum_api: run "grant usage on schema auth to renum_api" as supabase_admin';
end
$$;

-- Every policy written for `authenticated` is the API's permission check: move it to renum_api.
do $$
declare
  p record;
begin
  for p in select schemaname, tablename, policyname from pg_policies
            where schemaname = 'public' and 'authenticated' = any (roles)
  loop
    execute format('alter policy %I on %I.%I to renum_api', p.policyname, p.schemaname, p.tablename);
  end loop;
end
$$;

-- Table privileges: the API role gets what `authenticated` had; the Data API roles get nothing.
do $$
declare
  t record;
begin
  for t in select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
  loop
    execute format('revoke all on public.%I from anon, authenticated, public', t.relname);
    execute format('grant select, insert, update, delete on public.%I to renum_api', t.relname);
  end loop;
end
$$;
revoke all on all sequences in schema public from anon, authenticated, public;
grant usage, select on all sequences in schema public to renum_api;

-- Functions: private ones are the API's (security definer sweeps and lookups), never the Data API's.
do $$
declare
  f record;
begin
  for f in select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname in ('private', 'public')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f.sig);
    execute format('grant execute on function %s to renum_api', f.sig);
  end loop;
end
$$;
revoke usage on schema private from anon;

-- What later migrations create stays closed to the Data API unless a migration decides otherwise.
alter default privileges in schema public revoke all on tables from anon, authenticated, public;
alter default privileges in schema public revoke all on sequences from anon, authenticated, public;
alter default privileges in schema public revoke all on functions from anon, authenticated, public;
alter default privileges in schema private revoke all on functions from anon, authenticated, public;
alter default privileges in schema public grant select, insert, update, delete on tables to renum_api;
alter default privileges in schema private grant execute on functions to renum_api;

-- Only owners may change or remove an owner's membership. The update policy checked the
-- caller's rank against the NEW row only, so an admin could demote a co-owner to member
-- (allowed: the new row is not an owner) and then delete the member.
drop policy "admins can change member roles below owner" on public.memberships;
create policy "admins can change member roles below owner, owners any" on public.memberships
  for update to renum_api
  using (organization_id in (select private.org_ids_with_role(case when role = 'owner' then 'owner' else 'admin' end)))
  with check (organization_id in (select private.org_ids_with_role(case when role = 'owner' then 'owner' else 'admin' end)));

-- The memory worker's retention pass: which agents have a retention period, across
-- organizations. It used to switch to service_role (which bypasses RLS) for this one read;
-- the login role no longer holds service_role, so the read is a definer function that
-- answers only the cross-tenant worker principal.
create function private.retention_targets()
returns table (organization_id uuid, agent_id uuid, retention_days integer)
language sql stable security definer set search_path = ''
as $$
  select a.organization_id, a.id, a.retention_days
    from public.agents a
   where a.retention_days is not null
     and (select auth.jwt() ->> 'renum_principal') = 'worker'
   order by a.organization_id, a.id
$$;
revoke all on function private.retention_targets() from public, anon, authenticated;
grant execute on function private.retention_targets() to renum_api;

-- The Data API's door: memberships of the signed-in user only (never the API's claims).
create function private.member_org_ids() returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select m.organization_id from public.memberships m where m.user_id = (select auth.uid())
$$;
revoke all on function private.member_org_ids() from public, anon;
grant usage on schema private to authenticated;
grant execute on function private.member_org_ids() to authenticated;

grant select (id, name, slug, created_at, updated_at) on public.organizations to authenticated;
grant select (id, organization_id, user_id, role, created_at) on public.memberships to authenticated;
create policy "signed-in users read their organizations through the Data API" on public.organizations
  for select to authenticated
  using (id in (select private.member_org_ids()));
create policy "signed-in users read memberships of their organizations through the Data API" on public.memberships
  for select to authenticated
  using (organization_id in (select private.member_org_ids()));
