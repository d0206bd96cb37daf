-- The catalog's full-text candidate list as a security-definer function, for the reason
-- private.text_candidates exists: `@@` (and jsonb `@>`) are not leakproof, so under the RLS
-- policy Postgres will not use the GIN indexes for them and filters a whole tenant's rows
-- instead. The function applies the policy's predicate itself. Attribute filters arrive as data
-- (never SQL): `contains` (an object the attributes must contain: booleans and numbers, GIN),
-- `eq` ([[name, string]]: the value, or a list holding it), `in_sets` ([[name, [values]]]) and
-- `ranges` ([[name, 'gte'|'gt'|'lte'|'lt', number]]): the same conditions the vector list applies.
create function private.catalog_text_candidates(kb uuid, lang regconfig, query text, n integer,
                                                contains jsonb, eq jsonb, in_sets jsonb, ranges jsonb)
returns table (id uuid, score real)
language sql stable security definer set search_path = '' set plan_cache_mode = force_custom_plan rows 50
as $$
  with q as (
    -- The query's words ORed: a product search rarely contains every word of a product.
    select nullif(replace(pg_catalog.plainto_tsquery(lang, query)::text, '&', '|'), '')::tsquery as tq)
  select r.id, pg_catalog.ts_rank_cd(r.fts, q.tq) as score
    from public.catalog_records r, q
   where q.tq is not null
     and r.fts @@ q.tq
     and r.knowledge_base_id = kb
     and r.organization_id in (select private.org_ids())
     and r.attributes @> contains
     and not exists (
       select 1 from pg_catalog.jsonb_array_elements(eq) f
        where not (r.attributes -> (f ->> 0) = f -> 1
                   or (pg_catalog.jsonb_typeof(r.attributes -> (f ->> 0)) = 'array'
                       and r.attributes -> (f ->> 0) @> pg_catalog.jsonb_build_array(f -> 1))))
     and not exists (
       select 1 from pg_catalog.jsonb_array_elements(in_sets) f
        where not coalesce((f -> 1) @> pg_catalog.jsonb_build_array(r.attributes -> (f ->> 0)), false))
     and not exists (
       select 1 from pg_catalog.jsonb_array_elements(ranges) f
        where not coalesce(case when pg_catalog.jsonb_typeof(r.attributes -> (f ->> 0)) = 'number' then
                             case f ->> 1
                               when 'gte' then (r.attributes ->> (f ->> 0))::numeric >= (f ->> 2)::numeric
                               when 'gt' then (r.attributes ->> (f ->> 0))::numeric > (f ->> 2)::numeric
                               when 'lte' then (r.attributes ->> (f ->> 0))::numeric <= (f ->> 2)::numeric
                               when 'lt' then (r.attributes ->> (f ->> 0))::numeric < (f ->> 2)::numeric
                             end
                           end, false))
   order by score desc, r.id
   limit n
$$;
revoke all on function private.catalog_text_candidates(uuid, regconfig, text, integer, jsonb, jsonb, jsonb, jsonb)
  from public;
grant execute on function private.catalog_text_candidates(uuid, regconfig, text, integer, jsonb, jsonb, jsonb, jsonb)
  to authenticated, service_role;
