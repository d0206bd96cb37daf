-- Chat: conversation metadata and closing, one stored answer per user message, and the
-- indexes the chat endpoints page and join by.

alter table public.conversations
  add column metadata jsonb not null default '{}'::jsonb,
  add column closed_at timestamptz;
-- GET /v1/agents/{id}/conversations pages an agent's conversations newest first.
create index conversations_agent_created_idx on public.conversations (agent_id, created_at desc, id desc);

-- An assistant message points at the user message it answers. The unique index makes the
-- answer exactly-once: a retried send, or a second generation after a lost lock, cannot
-- store a second answer to the same message.
alter table public.conversation_history add column reply_to uuid;
alter table public.conversation_history add constraint conversation_history_reply_to_fk
  foreign key (reply_to, organization_id)
  references public.conversation_history (id, organization_id) on delete set null (reply_to);
create unique index conversation_history_reply_to_idx on public.conversation_history (reply_to)
  where reply_to is not null;

-- Usage per conversation (billing drill-down) and the message a usage row belongs to.
create index usage_events_conversation_idx on public.usage_events (conversation_id, created_at)
  where conversation_id is not null;
create index usage_events_message_idx on public.usage_events (message_id) where message_id is not null;
