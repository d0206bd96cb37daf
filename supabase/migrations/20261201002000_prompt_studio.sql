-- Prompt Studio: an organization's system prompt templates with an append-only version history.
-- A rollback adds a new version copying an old body, so the history never loses an edit.

create table public.prompt_templates (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 200),
  description text not null default '' check (char_length(description) <= 2000),
  current_version integer not null default 1 check (current_version >= 1),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (organization_id, name),
  unique (id, organization_id)
);
create index prompt_templates_organization_id_idx on public.prompt_templates (organization_id, created_at desc);

create table public.prompt_template_versions (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  template_id uuid not null,
  version integer not null check (version >= 1),
  body text not null check (char_length(body) <= 20000),
  note text not null default '' check (char_length(note) <= 500),
  created_by uuid default auth.uid() references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  unique (template_id, version),
  foreign key (template_id, organization_id) references public.prompt_templates (id, organization_id) on delete cascade
);
create index prompt_template_versions_organization_id_idx on public.prompt_template_versions (organization_id);

create trigger prompt_templates_touch before update on public.prompt_templates
  for each row execute function private.touch_updated_at();

do $$
declare
  t text;
begin
  foreach t in array array['prompt_templates', 'prompt_template_versions']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format(
      'create policy %I on public.%I for all to renum_api '
      'using (organization_id in (select private.org_ids())) '
      'with check (organization_id in (select private.org_ids()))',
      'members can use ' || replace(t, '_', ' ') || ' of their organizations', t);
    execute format('grant select, insert, update, delete on public.%I to renum_api, service_role', t);
  end loop;
end
$$;
