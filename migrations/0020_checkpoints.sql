-- Checkpoints: an attempt that saved a resume point and was then cut short by a crash is not charged.
--
-- A long job that resumes from saved state (email discovery pages through a mailbox) marks each
-- saved step with QueueClient.checkpoint. When its lease expires (its process died), the reaper
-- gives the attempt back if a checkpoint was taken during it: the next attempt starts past that
-- point, so a mailbox large enough to outlive three crashes still finishes. An attempt that made no
-- checkpoint is charged as before, so a job that crashes its process before moving on still ends
-- in the dead letters. Refunds are bounded (the history records them as 'interrupted').

alter table nova_jobs add column checkpoint_at timestamptz;

alter table nova_job_attempts drop constraint nova_job_attempts_outcome_check;
alter table nova_job_attempts add constraint nova_job_attempts_outcome_check
  check (outcome in ('retry', 'dead', 'lease-expired', 'interrupted'));
