-- Nova: subscribers and their preferences are looked up by subscriber id within a tenant
-- (`enterprise_id is not distinct from $1`, which no index serves, so the unique index on
-- (enterprise_id, subscriber_id) did not help): every delivery plan read the whole table. Ids
-- are UUIDs, so an index on the id alone finds the row and the tenant filter checks it.
-- `if not exists`: on a large table an operator may build them first with `create index
-- concurrently` (same names), without holding writes (docs/MIGRATING.md).
create index if not exists ent_subscriber_by_id on notify.ent_subscriber (subscriber_id);
create index if not exists ent_subscriber_preference_by_id on notify.ent_subscriber_preference (subscriber_id);
