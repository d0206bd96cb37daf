-- One customer across channels: normalised identifiers of a contact (E.164 phone, lower-cased
-- email, channel ids such as `whatsapp:5511...` or `chatwoot:7:501`), unique per organization,
-- so a message from a known phone on another channel resolves to the same contact (and memory).
-- Merging two contacts moves everything to one and leaves an audit row (contact_merges).

create table public.contact_identifiers (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  contact_id uuid not null,
  kind text not null check (kind in ('phone', 'email', 'channel')),
  value text not null check (char_length(value) between 1 and 320),
  created_at timestamptz not null default now(),
  unique (organization_id, kind, value),
  foreign key (contact_id, organization_id) references public.contacts (id, organization_id) on delete cascade
);
create index contact_identifiers_contact_idx on public.contact_identifiers (contact_id);

create table public.contact_merges (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  -- The surviving contact (null once it is erased too); the merged one no longer exists.
  contact_id uuid,
  merged_contact_id uuid not null,
  merged_external_id text,
  -- Rows moved per table, identifiers moved, facts superseded by the survivor's.
  moved jsonb not null default '{}'::jsonb,
  merged_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  foreign key (contact_id, organization_id) references public.contacts (id, organization_id)
    on delete set null (contact_id)
);
create index contact_merges_organization_id_idx on public.contact_merges (organization_id, created_at desc);
create index contact_merges_contact_idx on public.contact_merges (contact_id);

alter table public.contact_identifiers enable row level security;
alter table public.contact_identifiers force row level security;
alter table public.contact_merges enable row level security;
alter table public.contact_merges force row level security;
grant select, insert, update, delete on public.contact_identifiers to authenticated, service_role;
-- Update and delete are granted but no policy allows them: the trail is append-only.
grant select, insert, update, delete on public.contact_merges to authenticated, service_role;

create policy "members can use contact identifiers of their organizations" on public.contact_identifiers
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));
-- The audit trail is append-only: read and written by members, never changed.
create policy "members can read contact merges of their organizations" on public.contact_merges
  for select to authenticated using (organization_id in (select private.org_ids()));
create policy "members can record contact merges of their organizations" on public.contact_merges
  for insert to authenticated with check (organization_id in (select private.org_ids()));

-- Existing contacts keep being found: their phone, email and external id become identifiers
-- (phones only when they already look like E.164; the API normalises new ones).
insert into public.contact_identifiers (organization_id, contact_id, kind, value)
select organization_id, id, 'channel', external_id from public.contacts where external_id is not null
on conflict do nothing;
insert into public.contact_identifiers (organization_id, contact_id, kind, value)
select organization_id, id, 'email', lower(btrim(email)) from public.contacts where email ~ '^[^@\s]+@[^@\s]+$'
on conflict do nothing;
insert into public.contact_identifiers (organization_id, contact_id, kind, value)
select organization_id, id, 'phone', '+' || regexp_replace(phone, '[^0-9]', '', 'g') from public.contacts
 where phone ~ '^\+[0-9 ().-]{8,30}$' and char_length(regexp_replace(phone, '[^0-9]', '', 'g')) between 8 and 15
on conflict do nothing;
