-- Document ingest: dedupe lookups and the reconciler's cross-tenant scan for stuck documents.

-- Uploads look for an existing document with the same bytes in the knowledge base.
create index documents_kb_sha256_idx on public.documents (knowledge_base_id, sha256);

-- Why a security definer function: workers connect as renum_app and act as `authenticated`
-- under forced RLS with one organization's claims, so no worker transaction can see another
-- tenant's documents. The reconciler must find stuck documents of every tenant; giving workers
-- a BYPASSRLS or service-role connection for that would widen what every task can touch.
-- This function is the one narrow door: it answers only worker principals (a claim the API
-- sets itself and strips from user tokens), returns ids and versions but never content, and
-- re-stamps updated_at so a stuck document is re-enqueued at most once per `older_than`
-- window even while the queue is backed up. `skip locked` leaves alone documents whose
-- chunks a worker is writing right now.
create function private.stuck_documents(older_than interval, max_rows integer default 500)
returns table (organization_id uuid, id uuid, version integer)
language plpgsql volatile security definer set search_path = ''
as $$
#variable_conflict use_column
begin
  if coalesce(auth.jwt() ->> 'renum_principal', '') <> 'worker' then
    raise exception 'only workers may scan for stuck documents' using errcode = '42501';
  end if;
  return query
    update public.documents d
       set updated_at = now()
     where d.id in (select s.id
                      from public.documents s
                     where s.status in ('queued', 'processing')
                       and s.updated_at < now() - older_than
                     order by s.updated_at
                     limit max_rows
                       for update skip locked)
    returning d.organization_id, d.id, d.version;
end
$$;
revoke all on function private.stuck_documents(interval, integer) from public;
grant execute on function private.stuck_documents(interval, integer) to authenticated, service_role;
