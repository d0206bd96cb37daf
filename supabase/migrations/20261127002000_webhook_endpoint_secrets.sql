-- Per-endpoint webhook secrets with rotation, test events and delivery attempt logs.
--
-- New endpoints get a random secret stored as secretbox ciphertext (`secret`, context
-- "webhook_endpoints.secret:<organization id>"). Endpoints created before this migration have
-- none: they keep signing with the secret derived from RENUM_WEBHOOK_SIGNING_SECRET and their
-- secret_salt, so their receivers keep verifying; rotating one moves it to a stored secret.
-- During a rotation's grace period the previous secret also signs (Standard Webhooks sends
-- every valid signature, space-separated, in `webhook-signature`).

alter table public.webhook_endpoints
  add column secret text check (secret like 'enc:v1:%'),
  add column previous_secret text check (previous_secret like 'enc:v1:%'),
  add column previous_secret_expires_at timestamptz,
  add column secret_rotated_at timestamptz;

-- One row per HTTP attempt of a delivery: what the receiver answered (body truncated).
create table public.webhook_delivery_attempts (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  delivery_id uuid not null references public.webhook_deliveries (id) on delete cascade,
  endpoint_id uuid not null,
  attempt integer not null,
  status_code integer,
  response_body text check (char_length(response_body) <= 2048),
  error text check (char_length(error) <= 1000),
  duration_ms integer not null default 0,
  created_at timestamptz not null default now(),
  foreign key (endpoint_id, organization_id) references public.webhook_endpoints (id, organization_id) on delete cascade
);
create index webhook_delivery_attempts_organization_id_idx on public.webhook_delivery_attempts (organization_id);
create index webhook_delivery_attempts_delivery_idx on public.webhook_delivery_attempts (delivery_id, attempt);
create index webhook_delivery_attempts_endpoint_idx on public.webhook_delivery_attempts (endpoint_id);

alter table public.webhook_delivery_attempts enable row level security;
alter table public.webhook_delivery_attempts force row level security;
-- Update and delete are granted but no policy allows them: the log is append-only.
grant select, insert, update, delete on public.webhook_delivery_attempts to authenticated, service_role;
create policy "members can read webhook delivery attempts" on public.webhook_delivery_attempts
  for select to authenticated using (organization_id in (select private.org_ids()));
-- Workers (admin claims) record attempts.
create policy "admins can record webhook delivery attempts" on public.webhook_delivery_attempts
  for insert to authenticated with check (organization_id in (select private.org_ids_with_role('admin')));

-- "Send test event": one `webhook.test` event delivered to this endpoint only, whatever its
-- event types. Admins only, like every other change to an endpoint; returns the delivery id
-- (none when the endpoint is not the caller's).
create function private.emit_webhook_test(p_org uuid, p_endpoint uuid, p_payload jsonb)
returns table (delivery_id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
begin
  if p_org is null or p_org not in (select private.org_ids_with_role('admin')) then
    raise exception 'only admins can send test events' using errcode = '42501';
  end if;
  return query
    with target as (
      select e.id from public.webhook_endpoints e where e.id = p_endpoint and e.organization_id = p_org),
    event as (
      insert into public.webhook_events (organization_id, type, payload)
      select p_org, 'webhook.test', p_payload where exists (select 1 from target)
      returning id)
    insert into public.webhook_deliveries (organization_id, event_id, endpoint_id, event_type)
    select p_org, ev.id, t.id, 'webhook.test' from event ev cross join target t
    returning id;
end
$$;
revoke all on function private.emit_webhook_test(uuid, uuid, jsonb) from public;
grant execute on function private.emit_webhook_test(uuid, uuid, jsonb) to authenticated, service_role;
