-- Memory text side: the same normalized forms as the knowledge bases' text side
-- (private.search_normalize, 20261128000000_search_bm25.sql), so "e-mail" and "email", "wi-fi" and
-- "wifi", "E-104" and "E104" match in a customer's remembered turns too. Measured on
-- bench/sets/cs_memory.json: "pra qual e-mail vão as notas fiscais?" missed the turn "Troquei de
-- email: agora é ..." on the text side and ranked the stale e-mail above it (BENCHMARKS.md).
-- The query side (api/memory/repository.py) normalizes the message the same way.
drop index public.memories_fts_idx;
alter table public.memories drop column fts;
alter table public.memories
  add column fts tsvector generated always as (to_tsvector(fts_config, private.search_normalize(content))) stored;
create index memories_fts_idx on public.memories using gin (fts);
