-- AI agents in workflows (issue 15): step.agent and document node `agent`. Owned by
-- src/workflows. An agent is a run_steps row of kind `agent` (its result), with sub-steps
-- `<id>/turn-<n>/model` (kind `model`, a model call executed by role agent-runner) and
-- `<id>/turn-<n>/tool-<k>` (kinds http, invoke or run). Also: approvals that escalate on timeout
-- and approvers named by role.

alter table run_steps drop constraint run_steps_kind_check;
alter table run_steps add constraint run_steps_kind_check
  check (kind in ('run', 'sleep', 'waitForEvent', 'invoke', 'http', 'map', 'approval', 'agent', 'model'));
