/**
 * Every statement on the approval tables (approvals, approval_decisions). Values are always
 * bound; jsonb goes in as text. A decision locks its approval row first, so two approvers
 * deciding at once are counted one after the other.
 */
import type { Queryable } from '../storage/index.ts';
import { json } from './store.ts';

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'timed_out' | 'cancelled';
export type TimeoutPolicy = 'reject' | 'approve' | 'fail' | 'escalate';

export interface ApprovalRow {
  id: string;
  run_id: string;
  step_id: string;
  message: string | null;
  approvers: string[];
  required: number;
  form: Record<string, unknown> | null;
  require_reason: boolean;
  on_timeout: TimeoutPolicy;
  timeout_at: Date | null;
  status: ApprovalStatus;
  started_by: string;
  created_at: Date;
  resolved_at: Date | null;
  escalate_to: string[] | null;
  escalation_timeout_ms: number | string | null;
  then_on_timeout: 'reject' | 'approve' | 'fail' | null;
  escalated_at: Date | null;
}

export interface DecisionRow {
  id: string;
  approval_id: string;
  decided_by: string;
  decision: 'approve' | 'reject';
  reason: string | null;
  data: unknown;
  channel: string;
  ip: string | null;
  link_id: string | null;
  decided_at: Date;
}

export interface NewApproval {
  id: string;
  runId: string;
  stepId: string;
  message: string | null;
  approvers: string[];
  required: number;
  form: unknown;
  requireReason: boolean;
  onTimeout: TimeoutPolicy;
  timeoutAt: Date | null;
  /** With onTimeout `escalate`: who joins, for how long, and what applies after that. */
  escalation?: { to: string[]; timeoutMs: number; then: 'reject' | 'approve' | 'fail' } | null;
}

/**
 * Creates an approval for a run's step, copying the run's submitter. While one is pending for
 * the same run and step, that one comes back instead, with `created` false.
 */
export async function insertApproval(db: Queryable, a: NewApproval): Promise<{ approval: ApprovalRow; created: boolean }> {
  const [row] = await db.query<ApprovalRow>(
    `insert into approvals (id, run_id, step_id, message, approvers, required, form, require_reason, on_timeout, timeout_at, started_by,
       escalate_to, escalation_timeout_ms, then_on_timeout)
     select $1, $2, $3, $4, $5::text[], $6, $7::text::jsonb, $8, $9, $10, r.submitted_by, $11::text[], $12, $13 from runs r where r.id = $2
     on conflict (run_id, step_id) where status = 'pending' do nothing
     returning *`,
    [a.id, a.runId, a.stepId, a.message, a.approvers, a.required, json(a.form ?? null), a.requireReason, a.onTimeout, a.timeoutAt,
      a.escalation?.to ?? null, a.escalation?.timeoutMs ?? null, a.escalation?.then ?? null],
  );
  if (row) return { approval: row, created: true };
  const [existing] = await db.query<ApprovalRow>(`select * from approvals where run_id = $1 and step_id = $2 and status = 'pending'`, [a.runId, a.stepId]);
  return { approval: existing!, created: false };
}

export async function getApproval(db: Queryable, id: string): Promise<ApprovalRow | undefined> {
  const [row] = await db.query<ApprovalRow>('select * from approvals where id = $1', [id]);
  return row;
}

/** The newest approval a run's step (a document's node id) asked for. */
export async function approvalOfStep(db: Queryable, runId: string, stepId: string): Promise<ApprovalRow | undefined> {
  const [row] = await db.query<ApprovalRow>('select * from approvals where run_id = $1 and step_id = $2 order by created_at desc limit 1', [runId, stepId]);
  return row;
}

/** The approval, locked until the transaction ends (a decision or a timeout applies to it). */
export async function lockApproval(db: Queryable, id: string): Promise<ApprovalRow | undefined> {
  const [row] = await db.query<ApprovalRow>('select * from approvals where id = $1 for update', [id]);
  return row;
}

export async function decisionsOf(db: Queryable, approvalId: string): Promise<DecisionRow[]> {
  return db.query<DecisionRow>('select * from approval_decisions where approval_id = $1 order by decided_at, id', [approvalId]);
}

/** Decisions of many approvals, for a list. */
export async function decisionsOfMany(db: Queryable, ids: readonly string[]): Promise<DecisionRow[]> {
  if (ids.length === 0) return [];
  return db.query<DecisionRow>('select * from approval_decisions where approval_id = any($1::uuid[]) order by decided_at, id', [ids]);
}

/**
 * Records one decision and reads the approval's decisions in the same round trip (the decision
 * path's latency is a chain of round trips): `row` undefined when the approver already decided or
 * the link was used; `decisions` all of them, this one included, oldest first.
 */
export async function recordDecision(
  db: Queryable,
  d: { approvalId: string; by: string; decision: 'approve' | 'reject'; reason: string | null; data: unknown; channel: string; ip: string | null; linkId: string | null },
): Promise<{ row: DecisionRow | undefined; decisions: DecisionRow[] }> {
  // The statement's snapshot does not see its own insert: the new row comes from `ins`.
  const rows = await db.query<DecisionRow & { inserted: boolean }>(
    `with ins as (
       insert into approval_decisions (approval_id, decided_by, decision, reason, data, channel, ip, link_id)
       values ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8)
       on conflict do nothing returning *
     )
     select d.*, false as inserted from approval_decisions d where d.approval_id = $1
     union all
     select ins.*, true from ins
     order by decided_at, id`,
    [d.approvalId, d.by, d.decision, d.reason, json(d.data ?? null), d.channel, d.ip, d.linkId],
  );
  const decisions = rows.map(({ inserted: _, ...r }) => r as DecisionRow);
  const at = rows.findIndex((r) => r.inserted);
  return { row: at < 0 ? undefined : decisions[at], decisions };
}

/** Whether a signed link's id was already used. */
export async function linkUsed(db: Queryable, linkId: string): Promise<boolean> {
  return (await db.query('select 1 from approval_decisions where link_id = $1', [linkId])).length > 0;
}

/** Resolves a pending approval; false when it was no longer pending (the first resolution wins). */
export async function resolveApproval(db: Queryable, id: string, status: Exclude<ApprovalStatus, 'pending'>): Promise<boolean> {
  return (await db.query(
    `update approvals set status = $2, resolved_at = now() where id = $1 and status = 'pending' returning id`, [id, status])).length > 0;
}

/** Pending approvals of runs that ended (cancelled, timed out) are cancelled with them. */
export async function cancelApprovalsOfEndedRuns(db: Queryable, runIds: readonly string[]): Promise<void> {
  if (runIds.length === 0) return;
  await db.query(`update approvals set status = 'cancelled', resolved_at = now() where run_id = any($1::uuid[]) and status = 'pending'`, [runIds]);
}

/** One page of approvals, newest first, by status and approver. */
export async function listApprovals(db: Queryable, filter: { status?: ApprovalStatus; approver?: string; runId?: string; limit: number }): Promise<ApprovalRow[]> {
  return db.query<ApprovalRow>(
    `select * from approvals
     where ($1::text is null or status = $1) and ($2::text is null or approvers @> array[$2::text])
       and ($3::uuid is null or run_id = $3)
     order by created_at desc, id limit $4`,
    [filter.status ?? null, filter.approver ?? null, filter.runId ?? null, filter.limit],
  );
}

/**
 * Escalates a pending approval whose first timeout passed: the escalation's approvers join, the
 * policy becomes `then_on_timeout` and the timeout starts again. Returns the updated row.
 */
export async function escalateApproval(db: Queryable, id: string): Promise<ApprovalRow | undefined> {
  const [row] = await db.query<ApprovalRow>(
    `update approvals set
       approvers = array(select distinct u from unnest(approvers || escalate_to) u order by u),
       on_timeout = then_on_timeout, timeout_at = clock_timestamp() + escalation_timeout_ms * interval '1 millisecond',
       escalated_at = clock_timestamp()
     where id = $1 and status = 'pending' and on_timeout = 'escalate' returning *`,
    [id],
  );
  return row;
}
