/**
 * Human approvals: what a decision, a timeout and a delivery do. A decision is checked and
 * counted with its approval row locked, and when it resolves the approval the run's waiting step
 * gets the outcome and the run a tick in the same transaction: a refused decision changes
 * nothing, and two approvers deciding at once cannot both be the N-th.
 */
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import type { Services } from '../runtime/domain.ts';
import type { Queryable } from '../storage/index.ts';
import type { ApprovalOutcome } from './define.ts';
import { APPROVAL_QUEUE, TICK_QUEUE, completeAndTick, type WorkflowEngine } from './engine.ts';
import { formProblems } from './approval-form.ts';
import { signLink } from './approval-links.ts';
import * as astore from './approval-store.ts';
import type { WorkflowsConfig } from './config.ts';
import * as store from './store.ts';
import { approverUsers, mayDecide, ROLE_PREFIX } from './identity.ts';

function rolesOf(engine: WorkflowEngine, user: string): string[] {
  return (engine.services.config as Partial<WorkflowsConfig>).NOVA_USERS?.byName.get(user)?.roles ?? [];
}

/** How many people could approve, the run's starter excluded (unbounded for roles without a directory). */
function reachable(engine: WorkflowEngine, a: { approvers: string[]; started_by: string }): number {
  const dir = (engine.services.config as Partial<WorkflowsConfig>).NOVA_USERS;
  if (!dir && a.approvers.some((x) => x.startsWith(ROLE_PREFIX))) return Infinity;
  return approverUsers(a.approvers, dir).filter((u) => u !== a.started_by).length;
}

/** The hitl-worker's jobs: deliver a new request to its approvers; apply the timeout policy. */
export const approvalJob = z.object({ kind: z.enum(['deliver', 'timeout']), approvalId: z.uuid() });
export type ApprovalJob = z.infer<typeof approvalJob>;

/** The topic an approver's requests are published on (`/ws`; with NOVA_USERS, theirs alone to watch). */
export const approvalsTopic = (user: string) => `approvals:${user}`;

export interface DecisionInput {
  approvalId: string;
  by: string;
  decision: 'approve' | 'reject';
  reason?: string | undefined;
  data?: unknown;
  /** api, link or cli: kept in the audit trail with the ip. */
  channel: string;
  ip: string | null;
  linkId?: string;
  /** The decider's roles, for approvers named `role:<name>`. */
  roles?: string[];
}

export interface DecisionResult {
  approval: astore.ApprovalRow;
  decision: astore.DecisionRow;
  /** The approval's status after this decision (still `pending` when more are needed). */
  status: astore.ApprovalStatus;
}

/** Records a decision; throws an HttpError (and changes nothing) when it may not be made. */
export async function decide(engine: WorkflowEngine, d: DecisionInput): Promise<DecisionResult> {
  const { sql } = engine.services;
  const result = await sql.transaction(async (tx) => {
    const a = await astore.lockApproval(tx, d.approvalId);
    if (!a) throw new HttpError(404, 'not_found', `no approval ${d.approvalId}`);
    if (d.linkId && (await astore.linkUsed(tx, d.linkId))) throw new HttpError(410, 'link_used', 'this approval link was already used');
    if (a.status !== 'pending') throw new HttpError(409, 'approval_resolved', `approval ${a.id} is already ${a.status}`);
    if (!mayDecide(a.approvers, { user: d.by, roles: d.roles ?? rolesOf(engine, d.by) })) throw new HttpError(403, 'not_an_approver', `${d.by} is not an approver of ${a.id}`);
    // The original let anyone approve anything; the one who started the run may not approve it.
    if (a.started_by === d.by) throw new HttpError(403, 'self_approval', `${d.by} started this run and may not decide its approval`);
    const reason = d.reason?.trim() || null;
    if (!reason && (d.decision === 'reject' || a.require_reason)) throw new HttpError(400, 'reason_required', `a ${d.decision === 'reject' ? 'rejection' : 'decision on this approval'} needs a reason`);
    if (d.decision === 'approve' && a.form) {
      if (d.data === undefined) throw new HttpError(400, 'form_required', `approval ${a.id} has a form: approve it with its data (POST /api/approvals/${a.id}/decision or the dashboard)`);
      const problems = formProblems(a.form, d.data ?? null);
      if (problems.length) throw new HttpError(400, 'invalid_form', `the decision's data does not fit the form: ${problems.join('; ')}`);
    }
    const { row, decisions } = await astore.recordDecision(tx, {
      approvalId: a.id, by: d.by, decision: d.decision, reason, data: d.data ?? null, channel: d.channel, ip: d.ip, linkId: d.linkId ?? null,
    });
    if (!row) throw new HttpError(409, 'already_decided', `${d.by} already decided on approval ${a.id}`);
    const approvals = decisions.filter((x) => x.decision === 'approve').length;
    const rejections = decisions.length - approvals;
    let status: astore.ApprovalStatus = 'pending';
    if (approvals >= a.required) status = 'approved';
    // N of M: once too few approvers are left to reach N, waiting longer cannot approve it (with
    // role approvers, M is the directory's members; unknown without one, so never out of reach).
    else if (reachable(engine, a) - rejections < a.required) status = 'rejected';
    if (status !== 'pending') await resolve(engine, tx, a, status, decisions);
    return { approval: a, decision: row, status };
  });
  publishDecision(engine, result);
  return result;
}

/**
 * Job `timeout` (role hitl-worker): applies the approval's timeout policy if it is still pending.
 * `escalate` adds the escalation's approvers and starts the second timeout instead of resolving.
 * Returns `applied`, `escalated`, `moot` (decided, cancelled or gone) or the ms until it is due
 * (a job that ran early by this host's clock).
 */
export async function applyTimeout(engine: WorkflowEngine, approvalId: string): Promise<'applied' | 'escalated' | 'moot' | number> {
  const result = await engine.services.sql.transaction(async (tx) => {
    const a = await astore.lockApproval(tx, approvalId);
    if (!a || a.status !== 'pending' || !a.timeout_at) return 'moot' as const;
    const early = a.timeout_at.getTime() - Date.now();
    if (early > 0) return early;
    if (a.on_timeout === 'escalate') {
      const e = (await astore.escalateApproval(tx, a.id))!;
      // Delivered again (the new approvers see it first), with the second timeout's job.
      await engine.services.queue.sendBatch(APPROVAL_QUEUE, approvalJobs({ id: e.id, timeoutAt: e.timeout_at }), tx);
      return { escalated: e };
    }
    await resolve(engine, tx, a, 'timed_out', await astore.decisionsOf(tx, a.id));
    return a;
  });
  if (typeof result !== 'object') return result;
  if ('escalated' in result) {
    const e = result.escalated;
    engine.services.events.emit({
      type: 'approval.escalated', topic: `run:${e.run_id}`, at: Date.now(),
      data: { approvalId: e.id, runId: e.run_id, stepId: e.step_id, approvers: e.approvers, escalatedTo: e.escalate_to, timeoutAt: e.timeout_at?.toISOString() ?? null },
    });
    return 'escalated';
  }
  engine.services.events.emit({
    type: 'approval.timed_out', topic: `run:${result.run_id}`, at: Date.now(),
    data: { approvalId: result.id, runId: result.run_id, stepId: result.step_id, onTimeout: result.on_timeout },
  });
  return 'applied';
}

/** Marks the approval resolved, gives its step the outcome and ticks the run (in `tx`). */
async function resolve(engine: WorkflowEngine, tx: Queryable, a: astore.ApprovalRow, status: 'approved' | 'rejected' | 'timed_out', decisions: astore.DecisionRow[]): Promise<void> {
  await astore.resolveApproval(tx, a.id, status);
  // The step's outcome and the run's tick in one statement.
  if (status === 'timed_out' && a.on_timeout === 'fail') {
    await completeAndTick(engine, tx, a.run_id, a.step_id, 'failed', null, {
      name: 'ApprovalTimedOut', message: `approval ${a.id} was not decided by ${a.timeout_at!.toISOString()}`,
    });
  } else {
    await completeAndTick(engine, tx, a.run_id, a.step_id, 'completed', outcome(a, status, decisions), null);
  }
}

/** The step's output: approved or not, why, and the approving decisions' form data. */
export function outcome(a: astore.ApprovalRow, status: 'approved' | 'rejected' | 'timed_out', decisions: astore.DecisionRow[]): ApprovalOutcome {
  const approved = status === 'approved' || (status === 'timed_out' && a.on_timeout === 'approve');
  const datas = decisions.filter((d) => d.decision === 'approve' && d.data !== null && typeof d.data === 'object');
  return {
    approvalId: a.id, approved, status,
    data: datas.length ? Object.assign({}, ...datas.map((d) => d.data)) : null,
    decisions: decisions.map((d) => ({ by: d.decided_by, decision: d.decision, reason: d.reason, at: new Date(d.decided_at).toISOString() })),
  };
}

/** One approver's own signed links to an approval, for the channel that reaches that person. */
export interface ApprovalLinkDelivery {
  approver: string;
  /** The approver's address from NOVA_USERS (`name:token:roles:email`), when it has one. */
  email?: string;
  approval: ReturnType<typeof approvalJson>;
  /** `approve` is null when the approval has a form: a click cannot carry its data. */
  links: { approve: string | null; reject: string; expiresAt: string };
}

/**
 * Hands one approver their links (a mail, a chat message): set with `workflowsDomain({ sendLinks })`.
 * Each approver's links go out apart; a throw (after every approver was tried) retries the
 * delivery job, which sends every approver fresh links again: a sender swallows what another try
 * cannot fix (an address refused for good) and throws only what it may.
 */
export type ApprovalLinkSender = (delivery: ApprovalLinkDelivery, services: Services) => Promise<void> | void;

/**
 * Job `deliver` (role hitl-worker): publishes the request on `approvals:<user>` for each approver
 * who may decide (and on `approvals:role:<role>`), and hands each of them their signed
 * approve/reject links through the engine's link sender, if one is set. At least once: a retried
 * job publishes again, which an inbox shows as the same approval id, and sends every approver
 * fresh links again (a mail twice, each link good for one decision).
 *
 * The events carry no link: a link decides as its approver without their personal token, and
 * events reach every holder of the API token (`/ws`) and the database (LISTEN/NOTIFY), so links go
 * only through the channel meant for the one person they name.
 */
export async function deliver(engine: WorkflowEngine, approvalId: string): Promise<number> {
  const { services } = engine;
  const a = await astore.getApproval(services.sql, approvalId);
  if (!a || a.status !== 'pending') return 0;
  const config = services.config as Partial<WorkflowsConfig>;
  const directory = config.NOVA_USERS;
  const recipients = approverUsers(a.approvers, directory).filter((u) => u !== a.started_by);
  const approval = approvalJson(a);
  for (const role of a.approvers.filter((x) => x.startsWith(ROLE_PREFIX))) {
    services.events.emit({ type: 'approval.requested', topic: approvalsTopic(role), at: Date.now(), data: approval });
  }
  for (const user of recipients) {
    services.events.emit({ type: 'approval.requested', topic: approvalsTopic(user), at: Date.now(), data: approval });
  }
  const send = engine.sendLinks;
  if (!send) return recipients.length;
  const ttl = config.APPROVAL_LINK_TTL_MS ?? 7 * 86_400_000;
  const exp = Math.min(Date.now() + ttl, a.timeout_at ? a.timeout_at.getTime() : Infinity);
  const base = config.APPROVAL_LINK_BASE_URL ?? (services.config as { NOVA_API_URL?: string }).NOVA_API_URL ?? '';
  // One approver after another (a role of hundreds opens no hundreds of connections at once), each
  // apart: one whose channel fails does not keep the others from their links.
  let failed: { error: unknown } | undefined;
  for (const user of recipients) {
    const link = (decision: 'approve' | 'reject') =>
      `${base}/api/approvals/${a.id}/${decision}?token=${signLink(engine.linkSecret, { approvalId: a.id, approver: user, decision, exp })}`;
    const email = directory?.byName.get(user)?.email;
    try {
      await send({ approver: user, ...(email && { email }), approval, links: { approve: a.form ? null : link('approve'), reject: link('reject'), expiresAt: new Date(exp).toISOString() } }, services);
    } catch (error) {
      failed ??= { error };
    }
  }
  if (failed) throw failed.error;
  return recipients.length;
}

/** The jobs a new approval needs: its delivery now, and its timeout when it has one. */
export function approvalJobs(a: { id: string; timeoutAt: Date | null }): { payload: ApprovalJob; runAt?: Date }[] {
  const jobs: { payload: ApprovalJob; runAt?: Date }[] = [{ payload: { kind: 'deliver', approvalId: a.id } }];
  if (a.timeoutAt) jobs.push({ payload: { kind: 'timeout', approvalId: a.id }, runAt: a.timeoutAt });
  return jobs;
}

/**
 * Creates the approvals of this tick's waits with their hitl-worker jobs (in the tick's
 * transaction). One that cannot be approved at all (the run's starter is needed to reach N) fails
 * its step at once instead of leaving the run waiting for a decision nobody may make.
 */
export async function createApprovals(engine: WorkflowEngine, tx: Queryable, items: astore.NewApproval[]): Promise<void> {
  const jobs: { payload: ApprovalJob; runAt?: Date }[] = [];
  const ticks: { payload: { runId: string } }[] = [];
  for (const item of items) {
    const { approval, created } = await astore.insertApproval(tx, item);
    if (!created) continue;
    const eligible = reachable(engine, approval);
    if (eligible < approval.required) {
      await astore.resolveApproval(tx, approval.id, 'cancelled');
      await store.completeWaitingStep(tx, approval.run_id, approval.step_id, 'failed', null, {
        name: 'ApprovalImpossible',
        message: `approval needs ${approval.required} of ${approval.approvers.join(', ')}, but ${approval.started_by} started the run and may not approve it`,
      });
      ticks.push({ payload: { runId: approval.run_id } });
      continue;
    }
    jobs.push(...approvalJobs(item));
  }
  if (jobs.length) await engine.services.queue.sendBatch(APPROVAL_QUEUE, jobs, tx);
  if (ticks.length) await engine.services.queue.sendBatch(TICK_QUEUE, ticks, tx);
}

function publishDecision(engine: WorkflowEngine, r: DecisionResult): void {
  engine.services.events.emit({
    type: r.status === 'pending' ? 'approval.decided' : `approval.${r.status}`, topic: `run:${r.approval.run_id}`, at: Date.now(),
    data: { approvalId: r.approval.id, runId: r.approval.run_id, stepId: r.approval.step_id, by: r.decision.decided_by, decision: r.decision.decision, status: r.status },
  });
}

export function approvalJson(a: astore.ApprovalRow, decisions?: astore.DecisionRow[]) {
  const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString());
  return {
    id: a.id, runId: a.run_id, stepId: a.step_id, message: a.message, approvers: a.approvers, required: a.required, form: a.form,
    requireReason: a.require_reason, onTimeout: a.on_timeout, timeoutAt: iso(a.timeout_at), status: a.status, startedBy: a.started_by,
    createdAt: iso(a.created_at), resolvedAt: iso(a.resolved_at),
    ...(a.escalate_to && {
      escalation: { to: a.escalate_to, timeoutMs: Number(a.escalation_timeout_ms), onTimeout: a.then_on_timeout, escalatedAt: iso(a.escalated_at) },
    }),
    ...(decisions && {
      decisions: decisions.map((d) => ({
        by: d.decided_by, decision: d.decision, reason: d.reason, data: d.data, channel: d.channel, ip: d.ip, at: iso(d.decided_at),
      })),
    }),
  };
}
