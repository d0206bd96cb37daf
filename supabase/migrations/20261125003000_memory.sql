-- Memory pipeline support: turn memories linked to their message, one current summary per
-- conversation, and the indexes the memory worker and the retention job query by.

-- A turn memory belongs to one stored message: deleting the message (retention) deletes its
-- vector, and the unique index makes indexing idempotent when a task is redelivered.
alter table public.memories add column message_id uuid;
alter table public.memories add constraint memories_message_fk
  foreign key (message_id, organization_id)
  references public.conversation_history (id, organization_id) on delete cascade;
create unique index memories_turn_message_idx on public.memories (message_id) where kind = 'turn';

-- Re-summarizing replaces the conversation's summary; never two current ones.
create unique index memories_conversation_summary_idx on public.memories (conversation_id)
  where kind = 'summary' and valid_to is null;

-- The conversation_id foreign key sets null on delete and the worker reads by conversation.
create index memories_conversation_idx on public.memories (conversation_id, kind);
-- Retention deletes an agent's old memories; the agent foreign key cascades through it too.
create index memories_agent_idx on public.memories (agent_id, created_at);
-- superseded_by references memories (on delete set null).
create index memories_superseded_by_idx on public.memories (superseded_by) where superseded_by is not null;
