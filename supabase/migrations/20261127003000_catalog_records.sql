-- Catalog knowledge bases: structured records (a product: name, description, typed attributes
-- such as price, in_stock, category) upserted by the customer's own id, searched with the same
-- hybrid idea as chunks (vector list + full-text list fused by RRF) and filtered on attributes
-- inside both lists. Prices and stock change often; text rarely: a record is re-embedded only
-- when its name or description changes (content_hash vs embedded_hash), and attribute filters
-- always read the committed row, so stock is never stale in results.

create table public.catalog_records (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  knowledge_base_id uuid not null,
  external_id text not null check (char_length(external_id) between 1 and 200),
  name text not null check (char_length(name) between 1 and 500),
  description text not null default '' check (char_length(description) <= 20000),
  attributes jsonb not null default '{}'::jsonb check (jsonb_typeof(attributes) = 'object'),
  -- sha256 of name and description; the worker embeds when embedded_hash differs.
  content_hash text not null,
  embedded_hash text,
  embedding extensions.vector,
  embedding_dim integer,
  fts_config regconfig not null default 'simple',
  fts tsvector generated always as (to_tsvector(fts_config, name || ' ' || description)) stored,
  -- The bulk sync that last wrote it: a completed full snapshot deletes the others.
  snapshot_id text check (char_length(snapshot_id) <= 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (knowledge_base_id, external_id),
  unique (id, organization_id),
  foreign key (knowledge_base_id, organization_id)
    references public.knowledge_bases (id, organization_id) on delete cascade
);
create index catalog_records_organization_id_idx on public.catalog_records (organization_id);
create index catalog_records_fts_idx on public.catalog_records using gin (fts);
create index catalog_records_attributes_idx on public.catalog_records using gin (attributes jsonb_path_ops);
create index catalog_records_embedding_384_idx on public.catalog_records
  using hnsw ((embedding::extensions.vector(384)) extensions.vector_cosine_ops) where embedding_dim = 384;
create index catalog_records_unembedded_idx on public.catalog_records (knowledge_base_id)
  where embedded_hash is distinct from content_hash;
create index catalog_records_snapshot_idx on public.catalog_records (knowledge_base_id, snapshot_id);
create trigger catalog_records_touch before update on public.catalog_records
  for each row execute function private.touch_updated_at();

alter table public.catalog_records enable row level security;
alter table public.catalog_records force row level security;
grant select, insert, update, delete on public.catalog_records to authenticated, service_role;
create policy "members can use catalog records of their organizations" on public.catalog_records
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));
