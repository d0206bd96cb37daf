-- Analytics (GET /v1/analytics/usage) counts an organization's messages by day over a date
-- range: without this index that is a scan of the organization's whole history.
create index conversation_history_organization_created_idx
  on public.conversation_history (organization_id, created_at);
