-- Knowledge gaps: the customer questions an agent could not answer from its knowledge bases (the
-- local model judged the excerpts did not hold the answer: metadata.answer_check, written by
-- api/chat/answer.py). Few rows match, so a partial index keeps GET /v1/analytics/knowledge-gaps
-- from reading every answer of the range. The predicate is the report's filter, word for word.
create index conversation_history_knowledge_gaps_idx on public.conversation_history (organization_id, created_at)
  where role = 'assistant' and metadata @> '{"answer_check": {"answerable": false}}'::jsonb;
