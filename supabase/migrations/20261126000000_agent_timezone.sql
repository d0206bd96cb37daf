-- The agent's IANA time zone: the "now" its prompt shows, the dates of remembered exchanges,
-- and which days a customer means by "ontem", "last week" or "3 de maio" in memory retrieval.
-- Validated as an IANA name by the API (zoneinfo); the check only bounds the text.
alter table public.agents
  add column timezone text not null default 'UTC' check (length(timezone) between 1 and 64);
