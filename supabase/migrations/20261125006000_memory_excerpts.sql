-- Turn memories know their position in the conversation, so retrieval can return a matching
-- turn together with its neighbours (an excerpt) instead of a lone line.

-- 0-based ordinal of the turn among the conversation's user/assistant messages; null for
-- facts and summaries and for turns indexed before this migration (those stay single turns).
alter table public.memories add column seq integer check (seq >= 0);
create index memories_conversation_seq_idx on public.memories (conversation_id, seq)
  where kind = 'turn' and seq is not null;
