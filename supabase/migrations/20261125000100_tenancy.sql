-- Tenancy: organizations, memberships, API keys, and the RLS helper functions every
-- later policy uses.
create extension if not exists vector with schema extensions;

create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to anon, authenticated, service_role;

create table public.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 200),
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index organizations_created_by_idx on public.organizations (created_by);

create table public.memberships (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  created_at timestamptz not null default now(),
  unique (organization_id, user_id)
);
create index memberships_user_id_idx on public.memberships (user_id, organization_id);

create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  -- Only a peppered SHA-256 of the secret is stored; `prefix` lets people recognise a key.
  prefix text not null,
  key_hash text not null unique,
  role text not null default 'member' check (role in ('admin', 'member')),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  expires_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_organization_id_idx on public.api_keys (organization_id);

-- Which organizations the caller may act for: memberships of a signed-in user, or the single
-- organization of an API key / worker principal (claims the API itself sets after verifying
-- the key; user JWT claims with these names are dropped before they reach the database).
-- security definer so policies on memberships can call it without recursing into RLS.
create function private.org_ids() returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select m.organization_id from public.memberships m where m.user_id = (select auth.uid())
  union all
  select (nullif(auth.jwt() ->> 'renum_org_id', ''))::uuid
  where nullif(auth.jwt() ->> 'renum_org_id', '') is not null
$$;

-- Organizations where the caller holds at least `min_role` (member < admin < owner).
create function private.org_ids_with_role(min_role text) returns setof uuid
language sql stable security definer set search_path = ''
as $$
  with rank(role, n) as (values ('member', 1), ('admin', 2), ('owner', 3))
  select m.organization_id
    from public.memberships m
    join rank r on r.role = m.role
   where m.user_id = (select auth.uid())
     and r.n >= (select n from rank where role = min_role)
  union all
  select (nullif(auth.jwt() ->> 'renum_org_id', ''))::uuid
    from rank r
   where nullif(auth.jwt() ->> 'renum_org_id', '') is not null
     and r.role = coalesce(auth.jwt() ->> 'renum_org_role', 'member')
     and r.n >= (select n from rank where role = min_role)
$$;

revoke all on function private.org_ids(), private.org_ids_with_role(text) from public;
grant execute on function private.org_ids(), private.org_ids_with_role(text) to authenticated, service_role;

-- The creator of an organization becomes its owner, in the same transaction.
create function private.add_owner_membership() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if new.created_by is not null then
    insert into public.memberships (organization_id, user_id, role) values (new.id, new.created_by, 'owner');
  end if;
  return new;
end
$$;
create trigger organizations_add_owner after insert on public.organizations
  for each row execute function private.add_owner_membership();

-- Looks up an API key by hash without exposing the table to the anonymous caller.
create function private.resolve_api_key(p_key_hash text)
returns table (id uuid, organization_id uuid, role text)
language sql volatile security definer set search_path = ''
as $$
  update public.api_keys k set last_used_at = now()
   where k.key_hash = p_key_hash and k.revoked_at is null
     and (k.expires_at is null or k.expires_at > now())
  returning k.id, k.organization_id, k.role
$$;
revoke all on function private.resolve_api_key(text) from public;
grant execute on function private.resolve_api_key(text) to anon, authenticated, service_role;

create function private.touch_updated_at() returns trigger
language plpgsql set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;
create trigger organizations_touch before update on public.organizations
  for each row execute function private.touch_updated_at();

alter table public.organizations enable row level security;
alter table public.organizations force row level security;
alter table public.memberships enable row level security;
alter table public.memberships force row level security;
alter table public.api_keys enable row level security;
alter table public.api_keys force row level security;

create policy "members can read their organizations" on public.organizations
  for select to authenticated
  using (id in (select private.org_ids()) or created_by = (select auth.uid()));
create policy "signed-in users can create organizations they own" on public.organizations
  for insert to authenticated
  with check ((select auth.uid()) is not null and created_by = (select auth.uid()));
create policy "admins can update their organizations" on public.organizations
  for update to authenticated
  using (id in (select private.org_ids_with_role('admin')))
  with check (id in (select private.org_ids_with_role('admin')));
create policy "owners can delete their organizations" on public.organizations
  for delete to authenticated
  using (id in (select private.org_ids_with_role('owner')));

create policy "members can read memberships of their organizations" on public.memberships
  for select to authenticated
  using (organization_id in (select private.org_ids()));
create policy "admins can add members below owner" on public.memberships
  for insert to authenticated
  with check (organization_id in (select private.org_ids_with_role(case when role = 'owner' then 'owner' else 'admin' end)));
create policy "admins can change member roles below owner" on public.memberships
  for update to authenticated
  using (organization_id in (select private.org_ids_with_role('admin')))
  with check (organization_id in (select private.org_ids_with_role(case when role = 'owner' then 'owner' else 'admin' end)));
create policy "admins can remove members and users can leave" on public.memberships
  for delete to authenticated
  using (organization_id in (select private.org_ids_with_role(case when role = 'owner' then 'owner' else 'admin' end))
         or user_id = (select auth.uid()));

create policy "admins can read api keys" on public.api_keys
  for select to authenticated
  using (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can create api keys" on public.api_keys
  for insert to authenticated
  with check (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can revoke api keys" on public.api_keys
  for update to authenticated
  using (organization_id in (select private.org_ids_with_role('admin')))
  with check (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can delete api keys" on public.api_keys
  for delete to authenticated
  using (organization_id in (select private.org_ids_with_role('admin')));

grant select, insert, update, delete on public.organizations, public.memberships, public.api_keys
  to authenticated, service_role;
