-- Catalog feeds: a URL (JSON or CSV) the worker pulls periodically into a catalog knowledge
-- base as a full snapshot (records absent from the feed are deleted), with conditional requests
-- (ETag / Last-Modified) so an unchanged feed costs one 304. One feed per knowledge base: two
-- snapshots of different feeds would delete each other's records.

create table public.catalog_feeds (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  knowledge_base_id uuid not null,
  url text not null check (url ~* '^https?://[^\s/?#]+' and char_length(url) <= 2000),
  format text not null check (format in ('json', 'csv')),
  interval_s integer not null default 3600 check (interval_s between 60 and 86400),
  -- Which feed fields hold the record's external id, name and description; every other field
  -- becomes an attribute.
  mapping jsonb not null default '{}'::jsonb check (jsonb_typeof(mapping) = 'object'),
  active boolean not null default true,
  etag text check (char_length(etag) <= 500),
  last_modified text check (char_length(last_modified) <= 100),
  next_run_at timestamptz not null default now(),
  claimed_until timestamptz,
  last_run_at timestamptz,
  last_status text check (last_status in ('synced', 'not_modified', 'failed')),
  last_error text check (char_length(last_error) <= 1000),
  last_counts jsonb,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (knowledge_base_id),
  unique (id, organization_id),
  foreign key (knowledge_base_id, organization_id)
    references public.knowledge_bases (id, organization_id) on delete cascade
);
create index catalog_feeds_organization_id_idx on public.catalog_feeds (organization_id);
create index catalog_feeds_due_idx on public.catalog_feeds (next_run_at) where active;
create trigger catalog_feeds_touch before update on public.catalog_feeds
  for each row execute function private.touch_updated_at();

alter table public.catalog_feeds enable row level security;
alter table public.catalog_feeds force row level security;
grant select, insert, update, delete on public.catalog_feeds to authenticated, service_role;
-- The worker fetches the URL: like webhook endpoints, only admins configure it.
create policy "members can read catalog feeds" on public.catalog_feeds
  for select to authenticated using (organization_id in (select private.org_ids()));
create policy "admins can create catalog feeds" on public.catalog_feeds
  for insert to authenticated with check (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can change catalog feeds" on public.catalog_feeds
  for update to authenticated
  using (organization_id in (select private.org_ids_with_role('admin')))
  with check (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can delete catalog feeds" on public.catalog_feeds
  for delete to authenticated using (organization_id in (select private.org_ids_with_role('admin')));

-- The beat's cross-tenant door (worker principals only, ids only): feeds due for a pull,
-- claimed for 10 minutes so a slow pull is not started twice.
create function private.due_catalog_feeds(max_rows integer default 100)
returns table (organization_id uuid, id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
#variable_conflict use_column
begin
  if coalesce(auth.jwt() ->> 'renum_principal', '') <> 'worker' then
    raise exception 'only workers may scan for due catalog feeds' using errcode = '42501';
  end if;
  return query
    update public.catalog_feeds f
       set claimed_until = now() + interval '10 minutes'
     where f.id in (select s.id from public.catalog_feeds s
                     where s.active and s.next_run_at <= now()
                       and (s.claimed_until is null or s.claimed_until < now())
                     order by s.next_run_at limit max_rows
                       for update skip locked)
    returning f.organization_id, f.id;
end
$$;
revoke all on function private.due_catalog_feeds(integer) from public;
grant execute on function private.due_catalog_feeds(integer) to authenticated, service_role;
