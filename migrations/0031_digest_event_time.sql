-- Nova: a digest event's time is when its notification became due (created, or scheduled_for
-- when that is later), not when a worker planned it, so a backlog does not split one window's
-- events across digests. Events already stored keep their own time.
alter table notify.ent_digest_event add column occurred_at timestamptz not null default now();
update notify.ent_digest_event set occurred_at = created_at;

-- The digest flush holds a window while notifications of its workflow due inside it are not
-- planned yet: this finds the earliest due time of those per workflow in one index probe.
create index ent_notification_unplanned_due on notify.ent_notification (notification_workflow_id, (greatest(created_at, scheduled_for)))
  where notification_status in ('PENDING', 'PROCESSING') and publish_status = 'PUBLISH' and not deactivated;
