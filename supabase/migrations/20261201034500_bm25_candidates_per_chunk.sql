-- BM25 text candidates: score each matched chunk in place instead of joining, sorting and
-- grouping (chat context assembly +60-70 ms at 2,000 chunks, BENCHMARKS.md "Chat overhead across
-- this stop's merges").
--
-- private.bm25_candidates (20261128000000_search_bm25.sql) joined the matched chunks to the query
-- terms and grouped by chunk. The planner estimates ~60 join rows, so it sorts the pairs by chunk
-- id (GroupAggregate) instead of hashing, and every pair carries its chunk's tsvector into that
-- sort: in a KB where the query's words are common (every chunk matches), 2,000 chunks x 12
-- words = 21,465 rows of ~600 bytes, an external merge through 13 MB of temp files, with
-- ts_rank evaluated after it. Measured on the bench database of bench/chat_overhead.py (2,000
-- chunks, 12-word questions): 40-80 ms per call.
--
-- Same candidates, same scores: each chunk sums, in a LATERAL aggregate over the query terms it
-- contains, exactly the per-term expression it summed before, now in term order (scores may
-- differ from the old arbitrary order in the last bit only). The chunk's length part is the same
-- float8, computed once per chunk; `offset 0` keeps the term subquery from being flattened, so
-- ts_rank runs once per (chunk, term) instead of once for each use of f. A chunk containing none
-- of the terms (possible only with search syntax, e.g. a lone -exclusion) yields no row, as the
-- inner join gave. No sort or group by over pairs; the tsvector is read where it lies in the
-- materialized list. Measured as above: 40-80 ms -> 10-12 ms of backend CPU per call.
create or replace function private.bm25_candidates(kb_ids uuid[], lang regconfig, match_query tsquery,
                                                   lexemes text[], idf float8[], avg_length float8, k1 float8,
                                                   b float8, n integer, tags_any text[], tags_all text[],
                                                   document_ids uuid[], sources text[], document_metadata jsonb)
returns table (id uuid, score float8)
language sql stable security definer set search_path = '' set enable_seqscan = off
  set plan_cache_mode = force_custom_plan rows 50
as $$
  with terms as materialized (
    select l.lexeme, l.idf, ('''' || replace(replace(l.lexeme, '\', '\\'), '''', '''''') || '''')::tsquery as q
      from unnest(lexemes, idf) as l(lexeme, idf)
  ),
  matched as materialized (
    select c.id, c.fts, k1 * (1 - b + b * pg_catalog.length(c.fts) / avg_length) as norm
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
  select m.id, s.score
    from matched m
   cross join lateral (
     select count(*) as matched_terms, sum(x.idf * (x.f * (k1 + 1)) / (x.f + m.norm)) as score
       from (select t.idf,
                    1 / (1.6449340668 - least(pg_catalog.ts_rank(m.fts, t.q, 0) * 16.449340668, 1.6249)) - 0.5 as f
               from terms t
              where m.fts @@ t.q
             offset 0) x) s
   where s.matched_terms > 0
   order by s.score desc, m.id
   limit n
$$;
