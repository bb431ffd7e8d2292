-- Nova: subscribers and their preferences are looked up by subscriber id within a tenant
-- (`enterprise_id is not distinct from $1`, which no index serves, so the unique index on
-- (enterprise_id, subscriber_id) did not help): every delivery plan read the whole table. Ids
-- are UUIDs, so an index on the id alone finds the row and the tenant filter checks it.
-- On a large table an operator may build them first with `create index concurrently` (same
-- names) without holding writes (docs/MIGRATING.md): a valid one is kept, and one such a build
-- left invalid (it failed or was cancelled) is built again here.
do $$
declare
  i text;
begin
  foreach i in array array['ent_subscriber_by_id', 'ent_subscriber_preference_by_id'] loop
    if exists (select 1 from pg_index x join pg_class c on c.oid = x.indexrelid join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'notify' and c.relname = i and not x.indisvalid) then
      execute format('drop index notify.%I', i);
    end if;
  end loop;
end $$;
create index if not exists ent_subscriber_by_id on notify.ent_subscriber (subscriber_id);
create index if not exists ent_subscriber_preference_by_id on notify.ent_subscriber_preference (subscriber_id);
