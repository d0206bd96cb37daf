-- Search: accent-insensitive full-text search for chunks.
--
-- People type "devolucao" for "devolução" (WhatsApp, phone keyboards), so both the stored
-- tsvector and the query go through `unaccent`. Each KB language keeps its stemmer; only
-- words with non-ASCII letters are routed through unaccent before it.
create extension if not exists unaccent with schema extensions;

-- Portuguese stopwords carry accents ("não", "até", "são"): drop them *before* unaccent
-- strips the accents, or they would survive as "nao", "ate", "sao". A `simple` dictionary
-- with accept = false discards stopwords and passes every other word on unchanged.
create text search dictionary private.portuguese_stop (template = pg_catalog.simple,
  stopwords = portuguese, accept = false);

create text search configuration private.portuguese_unaccent (copy = pg_catalog.portuguese);
alter text search configuration private.portuguese_unaccent
  alter mapping for hword, hword_part, word
  with private.portuguese_stop, extensions.unaccent, pg_catalog.portuguese_stem;

create text search configuration private.english_unaccent (copy = pg_catalog.english);
alter text search configuration private.english_unaccent
  alter mapping for hword, hword_part, word with extensions.unaccent, pg_catalog.english_stem;

create text search configuration private.simple_unaccent (copy = pg_catalog.simple);
alter text search configuration private.simple_unaccent
  alter mapping for hword, hword_part, word with extensions.unaccent, pg_catalog.simple;

-- The configuration actually used for a KB language (knowledge_bases.language and
-- document_chunks.fts_config keep the plain names the API exposes). Immutable so a
-- generated column may call it; the mapping only changes through a migration.
create function private.search_config(lang regconfig) returns regconfig
language sql immutable parallel safe set search_path = ''
as $$
  select case lang
    when 'pg_catalog.portuguese'::regconfig then 'private.portuguese_unaccent'::regconfig
    when 'pg_catalog.english'::regconfig then 'private.english_unaccent'::regconfig
    when 'pg_catalog.simple'::regconfig then 'private.simple_unaccent'::regconfig
    else lang
  end
$$;
revoke all on function private.search_config(regconfig) from public;
grant execute on function private.search_config(regconfig) to authenticated, service_role;

-- Recompute the stored tsvector through the accent-folding configuration. Drop and re-add
-- (rather than ALTER COLUMN ... SET EXPRESSION) so this also runs on Postgres 15.
drop index public.document_chunks_fts_idx;
alter table public.document_chunks drop column fts;
alter table public.document_chunks
  add column fts tsvector generated always as (to_tsvector(private.search_config(fts_config), content)) stored;
create index document_chunks_fts_idx on public.document_chunks using gin (fts);

-- The full-text side of a search, as two queries:
--   rank_query:  any query word may match (OR); ts_rank rewards chunks matching more of them.
--     websearch_to_tsquery alone ANDs every word, so a natural-language question ("what is
--     the refund deadline for damaged items?") rarely matches anything.
--   match_query: the words that select candidates. Ranking every chunk that contains a very
--     common word ("show", "cliente") costs a heap visit and a ts_rank call per chunk (tens of
--     milliseconds in a big knowledge base), and such words barely move the ranking anyway
--     (ts_rank has no IDF). So words are added rarest first while the estimated number of
--     matching chunks stays within match_budget, and until at least min_matches chunks are
--     expected (a rare word that matches nothing does not leave the list empty); common words
--     still count in rank_query. Word frequencies are estimated from up to 300 of the searched
--     KBs' own chunks (not from pg_stats' most common elements, which mix in other tenants'
--     words). KBs with at most match_budget chunks are never pruned.
-- Quotes or a -exclusion mean the caller wrote search syntax on purpose: then websearch
-- semantics apply as written, to both. Both are null when no word survives stopwords.
-- security definer: reads chunks and documents past RLS, restricted to the caller's
-- organizations exactly as the policies are (private.org_ids()).
-- enable_seqscan = off (here and in text_candidates): every lookup has an index on
-- knowledge_base_id, and a sequential scan is the one plan that goes badly wrong. Under a bare
-- LIMIT the planner assumes a KB's rows are spread evenly and scans from the first page, which for
-- a KB stored late in the table reads most of it; when a KB is most of the table it prefers a
-- sequential scan to the GIN index. Measured: 17-30 ms instead of 2-5 ms (bench/scale.py).
create function private.search_tsqueries(lang regconfig, query text, kb_ids uuid[], match_budget integer,
                                         min_matches integer)
returns table (match_query tsquery, rank_query tsquery)
language sql stable security definer set search_path = '' set enable_seqscan = off
as $$
  with words as materialized (
    -- Lexemes are already normalized; quote them (doubling ' and \) so URLs, e-mails and
    -- other punctuation-bearing tokens cannot be read as tsquery operators.
    select lexeme, term, term::tsquery as single
      from (select w.lexeme, '''' || replace(replace(w.lexeme, '\', '\\'), '''', '''''') || '''' as term
              from unnest(pg_catalog.tsvector_to_array(
                     pg_catalog.to_tsvector(private.search_config(lang), query))) as w(lexeme)) w
  ),
  allowed as (
    select kb.id from public.knowledge_bases kb
     where kb.id = any(kb_ids) and kb.organization_id in (select private.org_ids())
  ),
  kb_chunks as (
    -- Size of the searched KBs: their share of the table among ANALYZE's most common values of
    -- knowledge_base_id (big KBs always are; only the caller's own KBs are looked up), or, for
    -- small or not yet analyzed KBs, the chunk counts their documents keep (first 1000 documents).
    select greatest(
      (select coalesce(sum(v.freq), 0) * max(greatest(c.reltuples, 0))
         from pg_catalog.pg_stats s
        cross join unnest(s.most_common_vals::text::uuid[], s.most_common_freqs) as v(kb, freq)
         join pg_catalog.pg_class c on c.oid = 'public.document_chunks'::pg_catalog.regclass
        where s.schemaname = 'public' and s.tablename = 'document_chunks' and s.attname = 'knowledge_base_id'
          and v.kb in (select id from allowed)),
      (select coalesce(sum(d.chunk_count), 0)
         from (select d.chunk_count from public.documents d
                where d.knowledge_base_id = any(kb_ids) and d.organization_id in (select private.org_ids())
                limit 1000) d)) as n
  ),
  sample as materialized (
    select c.fts from public.document_chunks c
     where (select n from kb_chunks) > match_budget
       and c.knowledge_base_id = any(kb_ids) and c.organization_id in (select private.org_ids())
     limit 300
  ),
  sample_size as (select greatest(count(*), 1)::float8 as n from sample),
  estimated as (
    select w.lexeme, w.term,
           (select count(*) from sample s where s.fts @@ w.single)
             / (select n from sample_size) * (select n from kb_chunks) as chunks
      from words w
  ),
  ordered as (
    select term, chunks, sum(chunks) over (order by chunks, lexeme) as cumulative
      from estimated
  ),
  free_text as (
    select nullif(string_agg(term, ' | ') filter (where cumulative - chunks < min_matches
                                                       or cumulative <= match_budget), '')::tsquery as match_query,
           nullif(string_agg(term, ' | '), '')::tsquery as rank_query
      from ordered
  ),
  syntax as (
    select nullif(pg_catalog.websearch_to_tsquery(private.search_config(lang), query)::text, '')::tsquery as q
     where query ~ '"|(^|\s)-\S'
  )
  select coalesce((select q from syntax), match_query), coalesce((select q from syntax), rank_query)
    from free_text
$$;
revoke all on function private.search_tsqueries(regconfig, text, uuid[], integer, integer) from public;
grant execute on function private.search_tsqueries(regconfig, text, uuid[], integer, integer)
  to authenticated, service_role;

-- The full-text candidate list: the top n chunks of the given KBs by ts_rank(rank_query) among
-- those matching match_query, with the search filters applied inside (so they never starve it).
-- (Parameter names must not be column names: in SQL functions columns win.)
-- `@@` is not leakproof, so under a row-level security policy Postgres will not use the GIN
-- index for it and filters every chunk of the KB instead (~100 ms at 50k chunks). This function
-- is security definer so the GIN index serves `@@`, and applies the table's policy itself
-- (organization_id in private.org_ids()); the statement that calls it joins the ids back to
-- document_chunks under RLS anyway.
create function private.text_candidates(kb_ids uuid[], lang regconfig, match_query tsquery, rank_query tsquery,
                                        n integer, tags_any text[], tags_all text[], document_ids uuid[],
                                        sources text[], document_metadata jsonb)
returns table (id uuid, score real)
language sql stable security definer set search_path = '' set enable_seqscan = off
  set plan_cache_mode = force_custom_plan rows 50
as $$
  select c.id, pg_catalog.ts_rank(c.fts, rank_query, 1) as score
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
   order by score desc, c.id
   limit n
$$;
revoke all on function private.text_candidates(uuid[], regconfig, tsquery, tsquery, integer, text[], text[], uuid[],
                                               text[], jsonb) from public;
grant execute on function private.text_candidates(uuid[], regconfig, tsquery, tsquery, integer, text[], text[], uuid[],
                                                  text[], jsonb) to authenticated, service_role;
