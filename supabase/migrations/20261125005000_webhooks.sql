-- Webhooks (outbound signed events) and inbound channels (Chatwoot agent bot).
--
-- Outbound: an event is written to the outbox (webhook_events) together with one
-- webhook_deliveries row per subscribed endpoint, in the same transaction as the change that
-- causes it, through private.emit_webhook_event. Nobody inserts into these tables directly:
-- a member who could would be able to make Renum sign a forged event.
-- Endpoint signing secrets are never stored: each is HMAC(RENUM_WEBHOOK_SIGNING_SECRET,
-- id:secret_salt), computed by the API (shown once, on create) and by the delivery worker.

create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  url text not null check (url ~* '^https?://[^\s/?#]+' and char_length(url) <= 2000),
  description text not null default '' check (char_length(description) <= 500),
  -- Empty = every event type.
  event_types text[] not null default '{}',
  active boolean not null default true,
  secret_salt text not null,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, organization_id)
);
create index webhook_endpoints_organization_id_idx on public.webhook_endpoints (organization_id, created_at desc);
create trigger webhook_endpoints_touch before update on public.webhook_endpoints
  for each row execute function private.touch_updated_at();

-- The outbox: one row per event, whatever the number of endpoints.
create table public.webhook_events (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  type text not null check (type ~ '^[a-z_]+\.[a-z_]+$'),
  payload jsonb not null,
  created_at timestamptz not null default now(),
  unique (id, organization_id)
);
create index webhook_events_organization_id_idx on public.webhook_events (organization_id, created_at desc);

create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  event_id uuid not null,
  endpoint_id uuid not null,
  event_type text not null,
  -- pending -> delivered | dead (retries exhausted; POST .../redeliver makes it pending again).
  status text not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- Set while a worker is sending it; a crashed worker's claim expires and the sweep retries.
  claimed_until timestamptz,
  swept_at timestamptz,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (event_id, organization_id) references public.webhook_events (id, organization_id) on delete cascade,
  foreign key (endpoint_id, organization_id) references public.webhook_endpoints (id, organization_id) on delete cascade
);
create index webhook_deliveries_organization_id_idx on public.webhook_deliveries (organization_id, created_at desc);
create index webhook_deliveries_endpoint_idx on public.webhook_deliveries (endpoint_id, created_at desc, id desc);
create index webhook_deliveries_event_idx on public.webhook_deliveries (event_id);
create index webhook_deliveries_due_idx on public.webhook_deliveries (next_attempt_at) where status = 'pending';

-- Chatwoot (and later other) channel integrations: which agent answers which inbox.
create table public.channel_integrations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  kind text not null default 'chatwoot' check (kind in ('chatwoot')),
  name text not null default '' check (char_length(name) <= 200),
  agent_id uuid not null,
  base_url text not null check (base_url ~* '^https?://[^\s/?#]+' and char_length(base_url) <= 2000),
  account_id text not null check (account_id ~ '^[0-9]{1,20}$'),
  -- Chatwoot agent bot / user access token, sent as `api_access_token` to post replies.
  api_access_token text not null,
  -- Chatwoot's webhook secret (X-Chatwoot-Signature); when set, inbound requests must be signed.
  webhook_secret text,
  -- Peppered HMAC of the token in the inbound URL (the token itself is shown once).
  token_hash text not null,
  active boolean not null default true,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, organization_id),
  foreign key (agent_id, organization_id) references public.agents (id, organization_id) on delete cascade
);
create index channel_integrations_organization_id_idx on public.channel_integrations (organization_id, created_at desc);
create index channel_integrations_agent_idx on public.channel_integrations (agent_id);
create trigger channel_integrations_touch before update on public.channel_integrations
  for each row execute function private.touch_updated_at();

-- Inbound events, deduplicated by the channel's own id: a redelivered webhook is answered once.
create table public.channel_events (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  integration_id uuid not null,
  external_id text not null check (char_length(external_id) between 1 and 200),
  conversation_id uuid,
  external_conversation_id text,
  content text not null default '',
  status text not null default 'received' check (status in ('received', 'replied', 'failed')),
  reply_message_id uuid,
  error text,
  created_at timestamptz not null default now(),
  replied_at timestamptz,
  -- Times the sweep re-enqueued it (its task was lost or crashed) and when it last did.
  sweeps integer not null default 0,
  swept_at timestamptz,
  unique (integration_id, external_id),
  foreign key (integration_id, organization_id)
    references public.channel_integrations (id, organization_id) on delete cascade,
  foreign key (conversation_id, organization_id)
    references public.conversations (id, organization_id) on delete set null (conversation_id)
);
create index channel_events_organization_id_idx on public.channel_events (organization_id, created_at desc);
create index channel_events_received_idx on public.channel_events (created_at) where status = 'received';
create index channel_events_conversation_idx on public.channel_events (conversation_id) where conversation_id is not null;

do $$
declare
  t text;
begin
  foreach t in array array['webhook_endpoints', 'webhook_events', 'webhook_deliveries', 'channel_integrations',
                           'channel_events']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format('grant select, insert, update, delete on public.%I to authenticated, service_role', t);
  end loop;
end
$$;

create policy "members can read webhook endpoints" on public.webhook_endpoints
  for select to authenticated using (organization_id in (select private.org_ids()));
create policy "admins can create webhook endpoints" on public.webhook_endpoints
  for insert to authenticated with check (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can change webhook endpoints" on public.webhook_endpoints
  for update to authenticated
  using (organization_id in (select private.org_ids_with_role('admin')))
  with check (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can delete webhook endpoints" on public.webhook_endpoints
  for delete to authenticated using (organization_id in (select private.org_ids_with_role('admin')));

-- Events and deliveries are only ever inserted by private.emit_webhook_event.
create policy "members can read webhook events" on public.webhook_events
  for select to authenticated using (organization_id in (select private.org_ids()));
create policy "members can read webhook deliveries" on public.webhook_deliveries
  for select to authenticated using (organization_id in (select private.org_ids()));
-- Workers (admin claims) record attempts; admins redeliver dead ones.
create policy "admins can update webhook deliveries" on public.webhook_deliveries
  for update to authenticated
  using (organization_id in (select private.org_ids_with_role('admin')))
  with check (organization_id in (select private.org_ids_with_role('admin')));

-- Integrations hold a third-party access token: only admins see them at all.
create policy "admins can read channel integrations" on public.channel_integrations
  for select to authenticated using (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can create channel integrations" on public.channel_integrations
  for insert to authenticated with check (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can change channel integrations" on public.channel_integrations
  for update to authenticated
  using (organization_id in (select private.org_ids_with_role('admin')))
  with check (organization_id in (select private.org_ids_with_role('admin')));
create policy "admins can delete channel integrations" on public.channel_integrations
  for delete to authenticated using (organization_id in (select private.org_ids_with_role('admin')));

create policy "members can use channel events of their organizations" on public.channel_events
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));

-- Writes an event and its deliveries (one per active endpoint subscribed to `p_type`) in the
-- caller's transaction, for an organization the caller belongs to. Returns the delivery ids
-- (none, and no event row, when no endpoint wants the event).
create function private.emit_webhook_event(p_org uuid, p_type text, p_payload jsonb)
returns table (delivery_id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
begin
  if p_org is null or p_org not in (select private.org_ids()) then
    raise exception 'not a member of this organization' using errcode = '42501';
  end if;
  return query
    with targets as (
      select e.id from public.webhook_endpoints e
       where e.organization_id = p_org and e.active
         and (cardinality(e.event_types) = 0 or p_type = any (e.event_types))),
    event as (
      insert into public.webhook_events (organization_id, type, payload)
      select p_org, p_type, p_payload where exists (select 1 from targets)
      returning id)
    insert into public.webhook_deliveries (organization_id, event_id, endpoint_id, event_type)
    select p_org, ev.id, t.id, p_type from event ev cross join targets t
    returning id;
end
$$;
revoke all on function private.emit_webhook_event(uuid, text, jsonb) from public;
grant execute on function private.emit_webhook_event(uuid, text, jsonb) to authenticated, service_role;

-- The beat sweep's one cross-tenant door (same reasoning as private.stuck_documents): worker
-- principals only; ids only; re-stamps swept_at so a delivery is re-enqueued at most once
-- per `min_gap` even while the queue is backed up.
create function private.due_webhook_deliveries(overdue interval, min_gap interval, max_rows integer default 500)
returns table (organization_id uuid, id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
#variable_conflict use_column
begin
  if coalesce(auth.jwt() ->> 'renum_principal', '') <> 'worker' then
    raise exception 'only workers may scan for due deliveries' using errcode = '42501';
  end if;
  return query
    update public.webhook_deliveries d
       set swept_at = now()
     where d.id in (select s.id
                      from public.webhook_deliveries s
                     where s.status = 'pending'
                       and s.next_attempt_at < now() - overdue
                       and (s.claimed_until is null or s.claimed_until < now())
                       and (s.swept_at is null or s.swept_at < now() - min_gap)
                     order by s.next_attempt_at
                     limit max_rows
                       for update skip locked)
    returning d.organization_id, d.id;
end
$$;
revoke all on function private.due_webhook_deliveries(interval, interval, integer) from public;
grant execute on function private.due_webhook_deliveries(interval, interval, integer) to authenticated, service_role;

-- The public inbound endpoint knows only the integration id from its URL: this returns what
-- it needs to authenticate the request (like private.resolve_api_key, to `anon`), never the
-- Chatwoot access token.
create function private.resolve_channel_integration(p_id uuid)
returns table (id uuid, organization_id uuid, agent_id uuid, kind text, account_id text, active boolean,
               token_hash text, webhook_secret text)
language sql stable security definer set search_path = ''
as $$
  select i.id, i.organization_id, i.agent_id, i.kind, i.account_id, i.active, i.token_hash, i.webhook_secret
    from public.channel_integrations i where i.id = p_id
$$;
revoke all on function private.resolve_channel_integration(uuid) from public;
grant execute on function private.resolve_channel_integration(uuid) to anon, authenticated, service_role;

-- The channel sweep's cross-tenant door (worker principals only, ids only): messages still
-- 'received' after `stale` lost their reply task (enqueue failed, worker crashed): re-enqueue
-- them at most once per `min_gap`; after `max_sweeps` they are marked failed instead.
create function private.stalled_channel_events(stale interval, min_gap interval, max_sweeps integer,
                                               max_rows integer default 200)
returns table (organization_id uuid, id uuid, status text)
language plpgsql volatile security definer set search_path = ''
as $$
#variable_conflict use_column
begin
  if coalesce(auth.jwt() ->> 'renum_principal', '') <> 'worker' then
    raise exception 'only workers may scan for stalled channel events' using errcode = '42501';
  end if;
  return query
    update public.channel_events e
       set swept_at = now(),
           sweeps = e.sweeps + 1,
           status = case when e.sweeps >= max_sweeps then 'failed' else e.status end,
           error = case when e.sweeps >= max_sweeps
                        then format('not answered after %s re-enqueues', e.sweeps) else e.error end
     where e.id in (select s.id
                      from public.channel_events s
                     where s.status = 'received'
                       and s.created_at < now() - stale
                       and (s.swept_at is null or s.swept_at < now() - min_gap)
                     order by s.created_at
                     limit max_rows
                       for update skip locked)
    returning e.organization_id, e.id, e.status;
end
$$;
revoke all on function private.stalled_channel_events(interval, interval, integer, integer) from public;
grant execute on function private.stalled_channel_events(interval, interval, integer, integer) to authenticated, service_role;
