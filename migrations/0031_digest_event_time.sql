-- Nova: a digest event's time is when its notification became due (created, or scheduled_for
-- when that is later), not when a worker planned it, so a backlog does not split one window's
-- events across digests.
alter table notify.ent_digest_event add column occurred_at timestamptz not null default now();

-- The digest flush holds a window while notifications of its workflow due inside it are not
-- planned yet (PENDING or PROCESSING): this finds the oldest of them per workflow.
create index ent_notification_unfinished_by_workflow on notify.ent_notification (notification_workflow_id, created_at)
  where notification_status in ('PENDING', 'PROCESSING');
