-- Agents, their end customers (contacts), conversations, memory, citations and usage.

create table public.agents (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  description text not null default '',
  -- LiteLLM model name (see infra/litellm.yaml); 'renum-local' is the in-process GGUF.
  model text not null default 'renum-local',
  -- Org-edited Jinja template, rendered in a sandbox; empty = prompts/system.j2.
  system_prompt text not null default '',
  knowledge_base_ids uuid[] not null default '{}',
  temperature real not null default 0.3 check (temperature between 0 and 2),
  max_tokens integer not null default 512 check (max_tokens between 1 and 8192),
  memory_enabled boolean not null default true,
  -- Conversation turns and memories older than this are erased by the retention job.
  retention_days integer check (retention_days is null or retention_days > 0),
  settings jsonb not null default '{}'::jsonb,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, organization_id)
);
create index agents_organization_id_idx on public.agents (organization_id, created_at desc);

create table public.contacts (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  -- Identifier in the channel (phone number, Chatwoot contact id, CRM id...).
  external_id text,
  name text,
  email text,
  phone text,
  locale text,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, external_id),
  unique (id, organization_id)
);
create index contacts_organization_id_idx on public.contacts (organization_id, created_at desc);

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  agent_id uuid not null,
  contact_id uuid not null,
  -- Dashboard user who opened it, when it did not come from a channel.
  user_id uuid default auth.uid() references auth.users (id) on delete set null,
  channel text not null default 'api',
  external_id text,
  status text not null default 'open' check (status in ('open', 'closed')),
  summarized_at timestamptz,
  created_at timestamptz not null default now(),
  last_message_at timestamptz not null default now(),
  unique (id, organization_id),
  foreign key (agent_id, organization_id) references public.agents (id, organization_id) on delete cascade,
  foreign key (contact_id, organization_id) references public.contacts (id, organization_id) on delete cascade
);
create index conversations_organization_id_idx on public.conversations (organization_id, last_message_at desc);
create index conversations_contact_idx on public.conversations (contact_id, last_message_at desc);
create index conversations_agent_idx on public.conversations (agent_id);
create unique index conversations_external_idx on public.conversations (organization_id, channel, external_id)
  where external_id is not null;

create table public.conversation_history (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  conversation_id uuid not null,
  contact_id uuid not null,
  role text not null check (role in ('user', 'assistant', 'system', 'tool')),
  content text not null,
  -- Client-supplied idempotency key: a retried send never stores the message twice.
  client_message_id text,
  model text,
  tokens integer,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default clock_timestamp(),
  unique (id, organization_id),
  foreign key (conversation_id, organization_id) references public.conversations (id, organization_id) on delete cascade,
  foreign key (contact_id, organization_id) references public.contacts (id, organization_id) on delete cascade
);
create index conversation_history_organization_id_idx on public.conversation_history (organization_id);
create index conversation_history_conversation_idx on public.conversation_history (conversation_id, created_at);
create index conversation_history_contact_idx on public.conversation_history (contact_id, created_at);
create unique index conversation_history_client_message_idx
  on public.conversation_history (conversation_id, role, client_message_id) where client_message_id is not null;

-- Semantic memory about a contact: session summaries and extracted facts. A contradicted fact
-- is closed (valid_to, superseded_by) rather than deleted or duplicated.
create table public.memories (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  contact_id uuid not null,
  agent_id uuid,
  conversation_id uuid,
  kind text not null check (kind in ('fact', 'summary', 'turn')),
  -- Normalised subject of a fact ('city', 'preferred_language'): one current fact per key.
  key text,
  content text not null,
  confidence real not null default 1 check (confidence between 0 and 1),
  embedding extensions.vector not null,
  embedding_dim integer not null,
  fts_config regconfig not null default 'simple',
  fts tsvector generated always as (to_tsvector(fts_config, content)) stored,
  metadata jsonb not null default '{}'::jsonb,
  valid_from timestamptz not null default now(),
  valid_to timestamptz,
  superseded_by uuid references public.memories (id) on delete set null,
  created_at timestamptz not null default now(),
  unique (id, organization_id),
  foreign key (contact_id, organization_id) references public.contacts (id, organization_id) on delete cascade,
  foreign key (agent_id, organization_id) references public.agents (id, organization_id) on delete cascade,
  foreign key (conversation_id, organization_id) references public.conversations (id, organization_id) on delete set null (conversation_id)
);
create index memories_organization_id_idx on public.memories (organization_id);
create index memories_contact_idx on public.memories (contact_id, kind) where valid_to is null;
create unique index memories_current_fact_idx on public.memories (contact_id, key)
  where kind = 'fact' and valid_to is null and key is not null;
create index memories_fts_idx on public.memories using gin (fts);
create index memories_embedding_384_idx on public.memories
  using hnsw ((embedding::extensions.vector(384)) extensions.vector_cosine_ops) where embedding_dim = 384;

-- Which chunks and memories grounded an assistant message.
create table public.citations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  message_id uuid not null,
  chunk_id uuid references public.document_chunks (id) on delete set null,
  memory_id uuid references public.memories (id) on delete set null,
  score real not null,
  rank integer not null,
  created_at timestamptz not null default now(),
  foreign key (message_id, organization_id) references public.conversation_history (id, organization_id) on delete cascade
);
create index citations_organization_id_idx on public.citations (organization_id);
create index citations_message_idx on public.citations (message_id, rank);
create index citations_chunk_idx on public.citations (chunk_id) where chunk_id is not null;
create index citations_memory_idx on public.citations (memory_id) where memory_id is not null;

create table public.usage_events (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  kind text not null check (kind in ('chat', 'embedding', 'ingest', 'memory')),
  model text,
  prompt_tokens integer not null default 0,
  completion_tokens integer not null default 0,
  latency_ms integer,
  agent_id uuid,
  conversation_id uuid,
  message_id uuid,
  api_key_id uuid,
  user_id uuid default auth.uid(),
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
create index usage_events_organization_id_idx on public.usage_events (organization_id, created_at desc);

create trigger agents_touch before update on public.agents
  for each row execute function private.touch_updated_at();
create trigger contacts_touch before update on public.contacts
  for each row execute function private.touch_updated_at();

do $$
declare
  t text;
begin
  foreach t in array array['agents', 'contacts', 'conversations', 'conversation_history',
                           'memories', 'citations', 'usage_events']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format(
      'create policy %I on public.%I for all to authenticated '
      'using (organization_id in (select private.org_ids())) '
      'with check (organization_id in (select private.org_ids()))',
      'members can use ' || replace(t, '_', ' ') || ' of their organizations', t);
    execute format('grant select, insert, update, delete on public.%I to authenticated, service_role', t);
  end loop;
end
$$;
