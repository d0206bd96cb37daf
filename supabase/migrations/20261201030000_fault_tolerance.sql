-- Fault tolerance (issue 12): work that must survive a lost broker or a killed worker is
-- recorded in the database, and beat sweeps find it again.

-- The sweeps' functions go to the role the API and workers switch to: `renum_api` where the
-- application-role migration created it, else `authenticated` (as the older sweeps).
create function pg_temp.grant_to_app_role(sig text) returns void language plpgsql as $$
begin
  if exists (select 1 from pg_roles where rolname = 'renum_api') then
    execute format('grant execute on function %s to renum_api', sig);
  else
    execute format('grant execute on function %s to authenticated, service_role', sig);
  end if;
end
$$;

-- 1. Conversation lock fallback (api/chat/lock.py): a lease on the row while Redis is down.
alter table public.conversations
  add column answer_lock_token text,
  add column answer_lock_until timestamptz;

-- 2. Durable memory work. memory_seq counts the conversation's user/assistant turns (bumped by
-- the trigger below in the transaction that stores the turn); memory_indexed_seq is the count
-- the indexer had seen when it last indexed every turn. A conversation with
-- memory_indexed_seq < memory_seq has turns without a memory row; one with turns and
-- summarized_at older than its last message is due for a summary once idle. memory_swept_at
-- keeps the sweep from scheduling the same conversation again while its task waits in a queue.
alter table public.conversations
  add column memory_seq bigint not null default 0,
  add column memory_indexed_seq bigint not null default 0,
  add column memory_swept_at timestamptz;

-- Existing conversations: every turn counts; fully indexed ones start caught up.
update public.conversations c
   set memory_seq = t.turns,
       memory_indexed_seq = case when t.unindexed = 0 then t.turns else 0 end
  from (select h.conversation_id, count(*) as turns,
               count(*) filter (where not exists (select 1 from public.memories m
                                                   where m.message_id = h.id and m.kind = 'turn')) as unindexed
          from public.conversation_history h
         where h.role in ('user', 'assistant')
         group by h.conversation_id) t
 where t.conversation_id = c.id;

-- Only conversations with pending memory work are in this index, so the sweep's scan stays
-- small however many conversations are caught up.
create index conversations_memory_backlog_idx on public.conversations (last_message_at)
  where memory_indexed_seq < memory_seq or (memory_seq > 0 and (summarized_at is null or summarized_at < last_message_at));

-- Security definer: the inserting role (a member, an API key, a channel task) need not be
-- allowed to update the conversation row for the counter to stay exact.
create function private.count_memory_turn() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if new.role in ('user', 'assistant') then
    update public.conversations set memory_seq = memory_seq + 1 where id = new.conversation_id;
  end if;
  return new;
end
$$;
revoke all on function private.count_memory_turn() from public;
create trigger conversation_history_count_memory_turn after insert on public.conversation_history
  for each row execute function private.count_memory_turn();

-- The memory sweep's cross-tenant door (same reasoning as private.stuck_documents): worker
-- principals only, ids and flags only, each returned conversation re-stamped so it is
-- scheduled at most once per `min_gap`. Summaries are due once the conversation has been idle
-- for its agent's memory_idle_s (default 300 s, as api/memory/scheduling.DEFAULT_IDLE_S).
create function private.memory_backlog(min_gap interval, max_rows integer default 200)
returns table (organization_id uuid, conversation_id uuid, needs_index boolean, needs_summary boolean)
language plpgsql volatile security definer set search_path = ''
as $$
#variable_conflict use_column
begin
  if coalesce(auth.jwt() ->> 'renum_principal', '') <> 'worker' then
    raise exception 'only workers may scan for memory work' using errcode = '42501';
  end if;
  return query
    with due as (
      select c.id,
             c.memory_indexed_seq < c.memory_seq as needs_index,
             c.memory_seq > 0 and (c.summarized_at is null or c.summarized_at < c.last_message_at)
               and c.last_message_at < now() - make_interval(secs => case
                 when a.settings ->> 'memory_idle_s' ~ '^\d{1,7}$' then (a.settings ->> 'memory_idle_s')::int
                 else 300 end) as needs_summary
        from public.conversations c
        join public.agents a on a.id = c.agent_id
       where (c.memory_indexed_seq < c.memory_seq
              or (c.memory_seq > 0 and (c.summarized_at is null or c.summarized_at < c.last_message_at)))
         and a.memory_enabled
         and (c.memory_swept_at is null or c.memory_swept_at < now() - min_gap)
       order by c.last_message_at
       limit max_rows * 4
         for update of c skip locked),
    picked as (
      select * from due where needs_index or needs_summary limit max_rows)
    update public.conversations c
       set memory_swept_at = now()
      from picked p
     where c.id = p.id
    returning c.organization_id, c.id, p.needs_index, p.needs_summary;
end
$$;
revoke all on function private.memory_backlog(interval, integer) from public;
select pg_temp.grant_to_app_role('private.memory_backlog(interval, integer)');

-- 3. Leases for ingest: a document in `processing` carries lease_until, pushed forward by the
-- worker's heartbeat (api/documents/lease.py). A killed worker stops the heartbeat, and the
-- reconciler takes the document back once the lease has expired, instead of waiting for the
-- broker's visibility timeout.
alter table public.documents add column lease_until timestamptz;
create index documents_lease_idx on public.documents (lease_until) where status = 'processing';

-- Same door as before, new rule: processing documents are stale when their lease expired (or,
-- leased by an older release without leases, untouched for `older_than`); queued ones when
-- untouched for `older_than`. A reclaimed document gets a fresh lease so the next sweep leaves
-- it to the task it was just handed to.
create or replace function private.stuck_documents(older_than interval, max_rows integer default 500)
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
       set updated_at = now(),
           lease_until = case when d.status = 'processing' then now() + interval '60 seconds' else null end
     where d.id in (select s.id
                      from public.documents s
                     where (s.status = 'processing' and coalesce(s.lease_until, s.updated_at + older_than) < now())
                        or (s.status = 'queued' and s.updated_at < now() - older_than)
                     order by s.updated_at
                     limit max_rows
                       for update skip locked)
    returning d.organization_id, d.id, d.version;
end
$$;

-- 4. Answers survive outages: a customer message stored before an outage (database, model,
-- a process killed mid-answer) and still without an answer is answered by a beat sweep
-- (workers.chat.sweep), through the same chat path as a retried client_message_id (the unique
-- reply_to index keeps it to one answer). answer_sweeps / answer_swept_at bound the attempts.
alter table public.conversation_history
  add column answer_sweeps integer not null default 0,
  add column answer_swept_at timestamptz;
create index conversation_history_unanswered_idx on public.conversation_history (created_at) where role = 'user';

-- Only the latest message of an open conversation qualifies (answering an older one would put
-- an answer after a newer exchange), and not channel conversations (their own sweep answers
-- and posts back to the channel).
create function private.unanswered_questions(stale interval, max_age interval, max_sweeps integer,
                                             max_rows integer default 100)
returns table (organization_id uuid, conversation_id uuid, agent_id uuid, message_id uuid)
language plpgsql volatile security definer set search_path = ''
as $$
#variable_conflict use_column
begin
  if coalesce(auth.jwt() ->> 'renum_principal', '') <> 'worker' then
    raise exception 'only workers may scan for unanswered questions' using errcode = '42501';
  end if;
  return query
    update public.conversation_history h
       set answer_sweeps = h.answer_sweeps + 1, answer_swept_at = now()
      from public.conversations c
     where c.id = h.conversation_id
       and h.id in (select q.id
                      from public.conversation_history q
                      join public.conversations qc on qc.id = q.conversation_id
                     where q.role = 'user'
                       and q.created_at < now() - stale and q.created_at > now() - max_age
                       and q.answer_sweeps < max_sweeps
                       and (q.answer_swept_at is null or q.answer_swept_at < now() - stale)
                       and qc.status = 'open'
                       and not exists (select 1 from public.conversation_history r where r.reply_to = q.id)
                       and not exists (select 1 from public.conversation_history l
                                        where l.conversation_id = q.conversation_id
                                          and (l.created_at, l.id) > (q.created_at, q.id))
                       and not exists (select 1 from public.channel_events e where e.conversation_id = q.conversation_id)
                     order by q.created_at
                     limit max_rows
                       for update of q skip locked)
    returning h.organization_id, h.conversation_id, c.agent_id, h.id;
end
$$;
revoke all on function private.unanswered_questions(interval, interval, integer, integer) from public;
select pg_temp.grant_to_app_role('private.unanswered_questions(interval, interval, integer, integer)');
