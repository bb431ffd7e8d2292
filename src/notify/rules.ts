/**
 * Rules (the original's rule engine): CRON rules become engine schedules named
 * `notify.rule.<id>` (src/runtime/schedules.ts: each occurrence enqueues one job across every
 * replica, in the rule's time zone, with the rule's catch-up policy), and EVENT rules fire on
 * POST /api/notify/events. Each firing inserts a PENDING notification with a transaction id of
 * the rule and the occurrence (or event id), so a retried firing never inserts twice and the
 * original's `unique(name, enterprise_id)` collision on the second firing cannot happen.
 */
import type { Services } from '../runtime/domain.ts';
import { createSchedule, deleteSchedule, listSchedules, ScheduleError, type MissedPolicy } from '../runtime/schedules.ts';
import type { Queryable } from '../storage/index.ts';
import * as rules from './rules-store.ts';
import type { RuleRow } from './rules-store.ts';
import * as store from './store.ts';

export const RULE_QUEUE = 'notify.rule';
export type RuleJob = { ruleId: number; scheduledFor?: string };
export const RULE_SCHEDULE_PREFIX = 'notify.rule.';

/** A firing that cannot succeed (no recipients, rule gone): the job dead-letters at once. */
export class RuleError extends Error {
  override name = 'RuleError';
  constructor(message: string, readonly code: 'RULE_NOT_FOUND' | 'NO_RECIPIENTS' | 'WORKFLOW_NOT_FOUND' | 'INVALID_CRON') {
    super(message);
  }
}

/** Makes the engine's schedules match the active CRON rules; returns what changed. */
export async function syncRuleSchedules(services: Pick<Services, 'sql' | 'log'>): Promise<{ created: number; deleted: number; errors: string[] }> {
  const { sql } = services;
  const active = await rules.activeRules(sql, 'CRON');
  const schedules = (await listSchedules(sql)).filter((s) => s.name.startsWith(RULE_SCHEDULE_PREFIX));
  const result = { created: 0, deleted: 0, errors: [] as string[] };
  const wanted = new Map(active.filter((r) => r.trigger_config?.cron).map((r) => [`${RULE_SCHEDULE_PREFIX}${r.id}`, r]));
  for (const s of schedules) {
    const r = wanted.get(s.name);
    if (r && s.cron === r.trigger_config!.cron && s.timezone === (r.trigger_config!.timezone ?? 'UTC') && s.enabled) continue;
    if ((await deleteSchedule(sql, s.name)) === 'deleted') result.deleted++;
  }
  const kept = new Set((await listSchedules(sql)).map((s) => s.name));
  for (const [name, r] of wanted) {
    if (kept.has(name)) continue;
    const config = r.trigger_config as { cron: string; timezone?: string; missed?: MissedPolicy; catchUpMs?: number };
    try {
      const made = await createSchedule(sql, {
        name, cron: config.cron, timezone: config.timezone ?? 'UTC', queue: RULE_QUEUE, payload: { ruleId: r.id },
        missed: config.missed === 'run-once' ? 'run-once' : 'skip', ...(config.catchUpMs && { catchUpMs: config.catchUpMs }),
      });
      if (made) result.created++;
    } catch (err) {
      if (!(err instanceof ScheduleError)) throw err;
      result.errors.push(`rule ${r.id}: ${err.message}`);
    }
  }
  if (result.errors.length) services.log.warn('notification rules with a bad cron are not scheduled', { errors: result.errors });
  return result;
}

function recipientsOf(payload: Record<string, unknown>): string[] {
  const list = Array.isArray(payload.recipients) ? payload.recipients : payload.recipient !== undefined ? [payload.recipient] : [];
  return list.filter((r): r is string => typeof r === 'string');
}

/** Inserts the notification of one firing; returns it (an earlier firing with the same id returns that one). */
export async function fireRule(db: Queryable, rule: RuleRow, firingId: string, extra: Record<string, unknown> = {}): Promise<store.NotificationRow> {
  const wf = await store.workflowById(db, rule.notification_workflow_id);
  if (!wf || wf.publish_status !== 'PUBLISH' || wf.deactivated) throw new RuleError(`rule ${rule.id}: its workflow is missing or not published`, 'WORKFLOW_NOT_FOUND');
  const payload = { ...(rule.rule_payload ?? {}), ...extra };
  const recipients = recipientsOf(payload);
  if (recipients.length === 0) throw new RuleError(`rule ${rule.id}: no recipients in rule_payload.recipients / recipient`, 'NO_RECIPIENTS');
  const { row } = await store.insertNotification(db, {
    name: `Scheduled: ${rule.name} (${firingId})`, description: `Fired by rule ${rule.id}`, enterpriseId: rule.enterprise_id, businessId: rule.business_id,
    workflowId: wf.id, ruleId: rule.id, payload, recipients, channels: wf.default_channels ?? null, transactionId: `rule:${rule.id}:${firingId}`,
  });
  return row;
}

/** The job of a CRON rule's occurrence. An inactive rule's firing is dropped, as the original did. */
export async function runRuleJob(db: Queryable, job: RuleJob): Promise<unknown> {
  const rule = await rules.getRule(db, job.ruleId);
  if (!rule) throw new RuleError(`rule ${job.ruleId} not found`, 'RULE_NOT_FOUND');
  if (rule.deactivated || rule.publish_status !== 'PUBLISH') return { skipped: 'rule inactive' };
  const row = await fireRule(db, rule, job.scheduledFor ?? new Date().toISOString());
  return { notificationId: row.id };
}

/** Fires every active EVENT rule listening for `name`; returns the notifications made. */
export async function fireEvent(db: Queryable, e: { name: string; data: Record<string, unknown>; eventId?: string; enterpriseId?: string | null }): Promise<store.NotificationRow[]> {
  const out: store.NotificationRow[] = [];
  for (const rule of await rules.activeRules(db, 'EVENT')) {
    if (rule.trigger_config?.event !== e.name) continue;
    if (e.enterpriseId !== undefined && rule.enterprise_id !== e.enterpriseId) continue;
    out.push(await fireRule(db, rule, e.eventId ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`, e.data));
  }
  return out;
}
