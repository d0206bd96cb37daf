-- Local Supabase CLI stack only (`supabase start` / `supabase db reset` run this after the
-- migrations). Creates the login role Renum's API and workers connect as and lets it switch
-- to Renum's application role, as README "Deploying on hosted Supabase" does by hand.
-- DATABASE_URL=postgresql://renum_app:renum-local-dev@127.0.0.1:54322/postgres
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'renum_app') then
    create role renum_app login password 'renum-local-dev' noinherit nosuperuser nocreatedb nocreaterole;
  end if;
end
$$;
grant renum_api to renum_app;
