-- WhatsApp Cloud API integrations and human handoff for channel conversations.
--
-- A WhatsApp integration reuses channel_integrations: base_url is the Graph API base
-- (https://graph.facebook.com, or a proxy), phone_number_id names the sending number, and its
-- three credentials are stored only as secretbox ciphertext (`enc:v1:...`, api/core/secretbox.py,
-- context "channel_integrations.<column>:<organization id>"): the Graph access token, the app
-- secret (X-Hub-Signature-256) and the verify token (the GET handshake). None is ever returned.

alter table public.channel_integrations
  drop constraint channel_integrations_kind_check,
  add constraint channel_integrations_kind_check check (kind in ('chatwoot', 'whatsapp')),
  alter column account_id drop not null,
  alter column api_access_token drop not null,
  add column phone_number_id text check (phone_number_id ~ '^[0-9]{1,30}$'),
  add column access_token text check (access_token like 'enc:v1:%'),
  add column app_secret text check (app_secret like 'enc:v1:%'),
  add column verify_token text check (verify_token like 'enc:v1:%'),
  -- Handoff rules and fallbacks (api/channels/schemas.py ChannelSettings).
  add column settings jsonb not null default '{}'::jsonb check (jsonb_typeof(settings) = 'object'),
  add constraint channel_integrations_kind_fields check (
    (kind = 'chatwoot' and account_id is not null and api_access_token is not null)
    or (kind = 'whatsapp' and phone_number_id is not null and access_token is not null
        and app_secret is not null and verify_token is not null));

-- A conversation handed to a human is not answered by the agent until it is released.
alter table public.conversations
  add column handoff_at timestamptz,
  add column handoff_reason text check (char_length(handoff_reason) <= 500);
create index conversations_handoff_idx on public.conversations (organization_id, handoff_at desc)
  where handoff_at is not null;

-- Inbound events: 'handoff' (stored, left to a human) and 'ignored' (media answered with the
-- fallback text); the customer's own message time (the WhatsApp 24-hour window runs from it);
-- the message type.
alter table public.channel_events
  drop constraint channel_events_status_check,
  add constraint channel_events_status_check check (status in ('received', 'replied', 'failed', 'handoff')),
  add column message_type text not null default 'text' check (char_length(message_type) <= 40),
  add column customer_at timestamptz;

-- What the public WhatsApp endpoint needs to authenticate a request, as `anon` (ciphertexts:
-- only the API, holding the key ring, can read them). Never the access token.
create function private.resolve_whatsapp_integration(p_id uuid)
returns table (id uuid, organization_id uuid, agent_id uuid, kind text, active boolean, phone_number_id text,
               app_secret text, verify_token text)
language sql stable security definer set search_path = ''
as $$
  select i.id, i.organization_id, i.agent_id, i.kind, i.active, i.phone_number_id, i.app_secret, i.verify_token
    from public.channel_integrations i where i.id = p_id and i.kind = 'whatsapp'
$$;
revoke all on function private.resolve_whatsapp_integration(uuid) from public;
grant execute on function private.resolve_whatsapp_integration(uuid) to anon, authenticated, service_role;
