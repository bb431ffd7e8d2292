-- AI agents in workflows (issue 15): step.agent and document node `agent`. Owned by
-- src/workflows. An agent is a run_steps row of kind `agent` (its result), with sub-steps
-- `<id>/turn-<n>/model` (kind `model`, a model call executed by role agent-runner) and
-- `<id>/turn-<n>/tool-<k>` (kinds http, invoke or run). Also: approvals that escalate on timeout
-- and approvers named by role.

alter table run_steps drop constraint run_steps_kind_check;
alter table run_steps add constraint run_steps_kind_check
  check (kind in ('run', 'sleep', 'waitForEvent', 'invoke', 'http', 'map', 'approval', 'agent', 'model'));

-- Timeout policy `escalate`: when the first timeout passes undecided, the approvers of
-- escalate_to join (the approval is delivered to them), the timeout starts again with
-- escalation_timeout_ms, and then_on_timeout applies at that second timeout.
alter table approvals drop constraint approvals_on_timeout_check;
alter table approvals add constraint approvals_on_timeout_check check (on_timeout in ('reject', 'approve', 'fail', 'escalate'));
alter table approvals add column escalate_to text[];
alter table approvals add column escalation_timeout_ms bigint check (escalation_timeout_ms > 0);
alter table approvals add column then_on_timeout text check (then_on_timeout in ('reject', 'approve', 'fail'));
alter table approvals add column escalated_at timestamptz;
alter table approvals add constraint approvals_escalation check (
  on_timeout <> 'escalate' or (timeout_at is not null and cardinality(escalate_to) > 0 and escalation_timeout_ms is not null and then_on_timeout is not null));
