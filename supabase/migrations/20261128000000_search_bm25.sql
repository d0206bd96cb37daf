-- Search, text side: BM25 with per-knowledge-base document frequencies, and normalized forms of
-- hyphenated words, compounds and codes (issue 14).
--
-- ts_rank has no IDF: a word found in every chunk ("plano", "cliente") counts as much as a rare
-- one ("300mb", "E-104"), so the text list trailed a stemmed BM25 and let near-duplicate
-- passages tie. Document frequencies per KB, kept current by triggers on document_chunks, give
-- each query word its IDF within the KB searched (never across tenants).

-- 1. Normalized text. People and documents write the same thing several ways: "e-mail" /
--    "email", "wi-fi" / "wifi", "pré-pago" / "pre pago", "E-104" / "E104", "300mb" / "300 MB".
--    Letters glued to digits (and digits to letters) also give their parts, then a hyphenated
--    word also gives its joined form and its parts. So "E-104" and "E104" both give
--    'e104', '104'; "300mb" and "300 MB" both give '300', 'mb'; "e-mail" and "email" both give
--    'email'. Numbers and codes stay whole tokens besides their parts ('300mb', 'e104').
--    Immutable (regexp_replace is) so the generated column can call it.
create function private.search_normalize(body text) returns text
language sql immutable parallel safe set search_path = ''
as $$
  select pg_catalog.regexp_replace(
           pg_catalog.regexp_replace(
             pg_catalog.regexp_replace(body,
               '\m([0-9]+)([A-Za-zÀ-ÖØ-öø-ÿ]+)\M', '\1\2 \1 \2', 'g'),
             '\m([A-Za-zÀ-ÖØ-öø-ÿ]+)([0-9]+)\M', '\1\2 \1 \2', 'g'),
           '([0-9A-Za-zÀ-ÖØ-öø-ÿ]+)-([0-9A-Za-zÀ-ÖØ-öø-ÿ]+)', '\1\2 \1 \2', 'g')
$$;
revoke all on function private.search_normalize(text) from public;
grant execute on function private.search_normalize(text) to authenticated, service_role;

drop index public.document_chunks_fts_idx;
alter table public.document_chunks drop column fts;
alter table public.document_chunks
  add column fts tsvector generated always as
    (to_tsvector(private.search_config(fts_config), private.search_normalize(content))) stored;
create index document_chunks_fts_idx on public.document_chunks using gin (fts);

-- 2. Statistics per knowledge base and text configuration: chunks holding each lexeme (df), and
--    the number of chunks and of their lexemes (average length). Written only by the triggers
--    below, as the user who changes the chunks (so under the same policies).
create table public.knowledge_base_terms (
  knowledge_base_id uuid not null references public.knowledge_bases (id) on delete cascade,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  fts_config regconfig not null,
  lexeme text not null,
  chunks integer not null,
  primary key (knowledge_base_id, fts_config, lexeme)
);
create index knowledge_base_terms_organization_id_idx on public.knowledge_base_terms (organization_id);

create table public.knowledge_base_text_stats (
  knowledge_base_id uuid not null references public.knowledge_bases (id) on delete cascade,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  fts_config regconfig not null,
  chunks bigint not null,
  lexemes bigint not null,
  primary key (knowledge_base_id, fts_config)
);
create index knowledge_base_text_stats_organization_id_idx on public.knowledge_base_text_stats (organization_id);

alter table public.knowledge_base_terms enable row level security;
alter table public.knowledge_base_terms force row level security;
alter table public.knowledge_base_text_stats enable row level security;
alter table public.knowledge_base_text_stats force row level security;
create policy "members can use term statistics of their organizations" on public.knowledge_base_terms
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));
create policy "members can use text statistics of their organizations" on public.knowledge_base_text_stats
  for all to authenticated
  using (organization_id in (select private.org_ids()))
  with check (organization_id in (select private.org_ids()));
grant select, insert, update, delete on public.knowledge_base_terms, public.knowledge_base_text_stats
  to authenticated, service_role;

-- Statement-level triggers with transition tables: one upsert per ingest statement (the ingest
-- inserts a document's chunks in one INSERT ... SELECT), not one per chunk. Lexemes are written
-- in key order, so two ingests into one KB lock shared rows in the same order (no deadlock).
-- Rows whose count falls to 0 are deleted, so a KB emptied of documents has no statistics.
create function private.chunk_stats_add() returns trigger
language plpgsql set search_path = ''
as $$
begin
  insert into public.knowledge_base_terms as t (knowledge_base_id, organization_id, fts_config, lexeme, chunks)
  select n.knowledge_base_id, n.organization_id, n.fts_config, l.lexeme, count(*)
    from new_chunks n cross join lateral unnest(pg_catalog.tsvector_to_array(n.fts)) as l(lexeme)
   group by 1, 2, 3, 4
   order by 1, 3, 4
  on conflict (knowledge_base_id, fts_config, lexeme) do update set chunks = t.chunks + excluded.chunks;
  insert into public.knowledge_base_text_stats as s (knowledge_base_id, organization_id, fts_config, chunks, lexemes)
  select n.knowledge_base_id, n.organization_id, n.fts_config, count(*), sum(pg_catalog.length(n.fts))
    from new_chunks n
   group by 1, 2, 3
   order by 1, 3
  on conflict (knowledge_base_id, fts_config) do update
    set chunks = s.chunks + excluded.chunks, lexemes = s.lexemes + excluded.lexemes;
  return null;
end
$$;

create function private.chunk_stats_remove() returns trigger
language plpgsql set search_path = ''
as $$
begin
  update public.knowledge_base_terms t set chunks = t.chunks - d.n
    from (select o.knowledge_base_id, o.fts_config, l.lexeme, count(*) as n
            from old_chunks o cross join lateral unnest(pg_catalog.tsvector_to_array(o.fts)) as l(lexeme)
           group by 1, 2, 3
           order by 1, 2, 3) d
   where t.knowledge_base_id = d.knowledge_base_id and t.fts_config = d.fts_config and t.lexeme = d.lexeme;
  delete from public.knowledge_base_terms t
   using (select distinct o.knowledge_base_id, o.fts_config, l.lexeme
            from old_chunks o cross join lateral unnest(pg_catalog.tsvector_to_array(o.fts)) as l(lexeme)) d
   where t.knowledge_base_id = d.knowledge_base_id and t.fts_config = d.fts_config and t.lexeme = d.lexeme
     and t.chunks <= 0;
  update public.knowledge_base_text_stats s set chunks = s.chunks - d.n, lexemes = s.lexemes - d.len
    from (select o.knowledge_base_id, o.fts_config, count(*) as n, sum(pg_catalog.length(o.fts)) as len
            from old_chunks o group by 1, 2) d
   where s.knowledge_base_id = d.knowledge_base_id and s.fts_config = d.fts_config;
  delete from public.knowledge_base_text_stats s
   where s.chunks <= 0 and s.knowledge_base_id in (select o.knowledge_base_id from old_chunks o);
  return null;
end
$$;
revoke all on function private.chunk_stats_add(), private.chunk_stats_remove() from public;

create trigger document_chunks_stats_insert after insert on public.document_chunks
  referencing new table as new_chunks for each statement execute function private.chunk_stats_add();
create trigger document_chunks_stats_delete after delete on public.document_chunks
  referencing old table as old_chunks for each statement execute function private.chunk_stats_remove();
-- An UPDATE counts as remove + add (triggers of one event fire in name order: a_ then b_).
create trigger document_chunks_stats_update_a_remove after update on public.document_chunks
  referencing old table as old_chunks for each statement execute function private.chunk_stats_remove();
create trigger document_chunks_stats_update_b_add after update on public.document_chunks
  referencing new table as new_chunks for each statement execute function private.chunk_stats_add();

-- Chunks already stored.
insert into public.knowledge_base_terms (knowledge_base_id, organization_id, fts_config, lexeme, chunks)
select c.knowledge_base_id, c.organization_id, c.fts_config, l.lexeme, count(*)
  from public.document_chunks c cross join lateral unnest(tsvector_to_array(c.fts)) as l(lexeme)
 group by 1, 2, 3, 4;
insert into public.knowledge_base_text_stats (knowledge_base_id, organization_id, fts_config, chunks, lexemes)
select c.knowledge_base_id, c.organization_id, c.fts_config, count(*), sum(length(c.fts))
  from public.document_chunks c group by 1, 2, 3;

-- 3. The query side. search_terms: per language, the query's lexemes (normalized like the
--    chunks) with their BM25 IDF over the searched KBs, the average chunk length, and the words
--    that select candidates: rarest first while the chunks they match (now exact, from the df
--    table) stay within match_budget, and at least until min_matches chunks are expected; every
--    word still scores. Quotes or a -exclusion mean search syntax on purpose: then the websearch
--    query selects. security definer for the same reason as the functions it replaces (see
--    20261125002000_search.sql), restricted to the caller's organizations.
create function private.search_terms(lang regconfig, query text, kb_ids uuid[], match_budget integer,
                                     min_matches integer)
returns table (match_query tsquery, lexemes text[], idf float8[], avg_length float8)
language sql stable security definer set search_path = ''
as $$
  with allowed as (
    select kb.id from public.knowledge_bases kb
     where kb.id = any(kb_ids) and kb.organization_id in (select private.org_ids())
  ),
  stats as (
    select coalesce(sum(s.chunks), 0)::float8 as n, coalesce(sum(s.lexemes), 0)::float8 as len
      from public.knowledge_base_text_stats s
     where s.knowledge_base_id in (select id from allowed) and s.fts_config = lang
  ),
  words as (
    select w.lexeme,
           coalesce((select sum(t.chunks) from public.knowledge_base_terms t
                      where t.knowledge_base_id in (select id from allowed) and t.fts_config = lang
                        and t.lexeme = w.lexeme), 0)::float8 as df
      from unnest(pg_catalog.tsvector_to_array(pg_catalog.to_tsvector(private.search_config(lang),
                                                                     private.search_normalize(query)))) as w(lexeme)
  ),
  ordered as (
    select lexeme, df, sum(df) over (order by df, lexeme) as cumulative,
           '''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''' as term
      from words
  ),
  syntax as (
    select nullif(pg_catalog.websearch_to_tsquery(private.search_config(lang),
                                                  private.search_normalize(query))::text, '')::tsquery as q
     where query ~ '"|(^|\s)-\S'
  )
  select coalesce((select q from syntax),
                  nullif(string_agg(o.term, ' | ') filter (where o.df > 0 and (o.cumulative - o.df < min_matches
                                                                  or o.cumulative <= match_budget)), '')::tsquery),
         array_agg(o.lexeme order by o.lexeme),
         array_agg(ln(1 + ((select n from stats) - o.df + 0.5) / (o.df + 0.5)) order by o.lexeme),
         (select case when n > 0 then len / n else 1 end from stats)
    from ordered o
$$;
revoke all on function private.search_terms(regconfig, text, uuid[], integer, integer) from public;
grant execute on function private.search_terms(regconfig, text, uuid[], integer, integer)
  to authenticated, service_role;

-- The text candidate list, BM25: for each query lexeme a chunk contains, idf x tf (k1 + 1) /
-- (tf + k1 (1 - b + b len / avg_length)), summed. tf is read from ts_rank on the single lexeme,
-- which for one term is 0.1 x sum(1/j^2, j = 1..tf) / 1.6449 (no other way to read a lexeme's
-- position count from SQL without unnesting every candidate's tsvector): 1 / (1.6449 - g) - 0.5
-- inverts it to within 0.05 for tf <= 50. len is the chunk's distinct lexemes (length(fts)), as
-- is avg_length. Filters, GIN use and the tenant check as in private.text_candidates.
create function private.bm25_candidates(kb_ids uuid[], lang regconfig, match_query tsquery, lexemes text[],
                                        idf float8[], avg_length float8, k1 float8, b float8, n integer,
                                        tags_any text[], tags_all text[], document_ids uuid[], sources text[],
                                        document_metadata jsonb)
returns table (id uuid, score float8)
language sql stable security definer set search_path = '' set enable_seqscan = off
  set plan_cache_mode = force_custom_plan rows 50
as $$
  with terms as materialized (
    select l.lexeme, l.idf, ('''' || replace(replace(l.lexeme, '\', '\\'), '''', '''''') || '''')::tsquery as q
      from unnest(lexemes, idf) as l(lexeme, idf)
  ),
  matched as materialized (
    select c.id, c.fts
      from public.document_chunks c
     where c.fts @@ match_query
       and c.knowledge_base_id = any(kb_ids)
       and c.fts_config = lang
       and c.organization_id in (select private.org_ids())
       and (cardinality(tags_any) = 0 or c.tags && tags_any)
       and (cardinality(tags_all) = 0 or c.tags @> tags_all)
       and (cardinality(document_ids) = 0 or c.document_id = any(document_ids))
       and (cardinality(sources) = 0 or c.source = any(sources))
       and (document_metadata = '{}'::jsonb or exists (
             select 1 from public.documents d
              where d.id = c.document_id and d.metadata @> document_metadata
                and d.organization_id in (select private.org_ids())))
  )
  select m.id,
         sum(t.idf * (tf.f * (k1 + 1)) / (tf.f + k1 * (1 - b + b * pg_catalog.length(m.fts) / avg_length))) as score
    from matched m
    join terms t on m.fts @@ t.q
   cross join lateral (select 1 / (1.6449340668 - least(pg_catalog.ts_rank(m.fts, t.q, 0) * 16.449340668, 1.6249))
                              - 0.5 as f) tf
   group by m.id
   order by score desc, m.id
   limit n
$$;
revoke all on function private.bm25_candidates(uuid[], regconfig, tsquery, text[], float8[], float8, float8, float8,
                                               integer, text[], text[], uuid[], text[], jsonb) from public;
grant execute on function private.bm25_candidates(uuid[], regconfig, tsquery, text[], float8[], float8, float8,
                                                  float8, integer, text[], text[], uuid[], text[], jsonb)
  to authenticated, service_role;
