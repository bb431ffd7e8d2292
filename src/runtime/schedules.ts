import { Cron } from 'croner';
import type { Logger } from '../log.ts';
import type { QueueClient } from '../queue/queue.ts';
import type { Queryable, Sql } from '../storage/index.ts';
import { Scheduler, type FireResult } from './scheduler.ts';
import * as q from './schedules-sql.ts';

/**
 * Cron schedules: the only module that touches nova_schedules (docs/ARCHITECTURE.md, Schedules).
 *
 * Glossary
 * - schedule: a named cron expression, read in an IANA time zone, that enqueues a job on a queue
 *   at each of its occurrences.
 * - occurrence: one instant the cron matches. Its id (the ISO time, or `manual:<ISO>` for a
 *   manual trigger) ends the job's dedup key `schedule:<name>:<id>`, and the job's payload is the
 *   schedule's payload with `scheduledFor` (the occurrence's ISO time) added.
 * - late: an occurrence due less than the grace period ago (a slow tick, a restart): fired.
 * - missed: an occurrence due longer ago than that (no scheduler ran): the schedule's missed
 *   policy decides, `skip` (drop it) or `run-once` (fire the latest missed one, once).
 */

export type MissedPolicy = 'skip' | 'run-once';

/** A schedule as a domain declares it (`Domain.schedules`); upserted at every start. */
export interface ScheduleDefinition {
  /** Unique across the database; letters, digits and `._:-`. */
  name: string;
  /** 5 fields (from minutes), 6 (from seconds) or 7 (with years), croner syntax: `0 8 * * 1-5`. */
  cron: string;
  /** The IANA time zone the cron is read in (DST-correct); default UTC. */
  timezone?: string;
  /** The queue each occurrence's job goes to. */
  queue: string;
  /** The job payload, with `scheduledFor` (the occurrence's ISO time) added. */
  payload?: Record<string, unknown>;
  /** Occurrences missed while no scheduler ran: `skip` them (default) or fire the latest `run-once`. */
  missed?: MissedPolicy;
  /** With `run-once`: fire the latest missed occurrence only when it is at most this old. */
  catchUpMs?: number;
}

/** A stored schedule. */
export interface Schedule {
  name: string;
  cron: string;
  timezone: string;
  queue: string;
  payload: Record<string, unknown>;
  missed: MissedPolicy;
  catchUpMs: number | null;
  enabled: boolean;
  source: 'code' | 'api';
  /** Null when the cron never fires again (or no longer parses). */
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastJobId: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** An expected refusal: a bad cron or time zone, a taken name. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** Occurrences due longer ago than this count as missed (downtime), not late. */
export const DEFAULT_GRACE_MS = 10_000;

export const NAME_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;

/** The parsed cron, or a ScheduleError saying what is wrong with it or the time zone. */
export function parseCron(cron: string, timezone = 'UTC'): Cron {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new ScheduleError(`unknown time zone "${timezone}" (expected an IANA name such as Europe/Paris)`);
  }
  try {
    return new Cron(cron, { timezone, paused: true });
  } catch (err) {
    throw new ScheduleError(`invalid cron "${cron}": ${(err as Error).message.replace(/^CronPattern: /, '')}`);
  }
}

/** The first occurrence strictly after `after`, or null when the cron never fires again. */
export function nextOccurrence(cron: string, timezone: string, after: Date): Date | null {
  return parseCron(cron, timezone).nextRun(after);
}

/** The dedup key of an occurrence's job. */
export function occurrenceKey(name: string, occurrence: string): string {
  return `schedule:${name}:${occurrence}`;
}

export interface OccurrencePlan {
  /** Occurrences to enqueue now, oldest first. */
  fire: Date[];
  /** The plan's next occurrence: the first after `now` (null: never again). */
  next: Date | null;
  /** The oldest occurrence treated as missed, when there was one. */
  missedSince: Date | null;
}

/**
 * What a due schedule fires at `now` (pure). Occurrences from `dueSince` that are at most
 * `graceMs` old are late, not missed, and each fires. Older ones were missed: `skip` drops them;
 * `run-once` fires the latest of them (if within `catchUpMs`), unless a late one fires anyway.
 */
export function planOccurrences(
  s: { cron: string; timezone: string; missed: MissedPolicy; catchUpMs: number | null },
  dueSince: Date,
  now: Date,
  graceMs = DEFAULT_GRACE_MS,
): OccurrencePlan {
  const cron = parseCron(s.cron, s.timezone);
  const cutoff = now.getTime() - graceMs;
  const fire: Date[] = [];
  // nextRun is strictly after its argument: one millisecond back includes an occurrence exactly at the start.
  let at = cron.nextRun(new Date(Math.max(dueSince.getTime(), cutoff) - 1));
  while (at && at.getTime() <= now.getTime()) {
    fire.push(at);
    at = cron.nextRun(at);
  }
  let missedSince: Date | null = null;
  if (dueSince.getTime() < cutoff) {
    const first = cron.nextRun(new Date(dueSince.getTime() - 1));
    if (first && first.getTime() < cutoff) {
      missedSince = first;
      const latest = cron.previousRuns(1, new Date(cutoff))[0];
      const fresh = latest && (s.catchUpMs === null || now.getTime() - latest.getTime() <= s.catchUpMs);
      if (s.missed === 'run-once' && fire.length === 0 && fresh) fire.push(latest);
    }
  }
  return { fire, next: cron.nextRun(now), missedSince };
}

interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  queue: string;
  payload: Record<string, unknown>;
  missed: MissedPolicy;
  catch_up_ms: number | null;
  enabled: boolean;
  source: 'code' | 'api';
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_job_id: number | null;
  created_at: Date;
  updated_at: Date;
}

type DueRow = Pick<ScheduleRow, 'name' | 'cron' | 'timezone' | 'queue' | 'payload' | 'missed' | 'catch_up_ms'> & {
  next_run_at: Date;
  db_now: Date;
};

function toSchedule(r: ScheduleRow): Schedule {
  return {
    name: r.name, cron: r.cron, timezone: r.timezone, queue: r.queue, payload: r.payload, missed: r.missed,
    catchUpMs: r.catch_up_ms === null ? null : Number(r.catch_up_ms), enabled: r.enabled, source: r.source,
    nextRunAt: r.next_run_at, lastRunAt: r.last_run_at, lastJobId: r.last_job_id === null ? null : Number(r.last_job_id),
    createdAt: r.created_at, updatedAt: r.updated_at,
  };
}

export async function listSchedules(db: Queryable): Promise<Schedule[]> {
  return (await db.query<ScheduleRow>(q.LIST)).map(toSchedule);
}

export async function getSchedule(db: Queryable, name: string): Promise<Schedule | undefined> {
  const [row] = await db.query<ScheduleRow>(q.GET, [name]);
  return row && toSchedule(row);
}

/** Checks a definition; throws a ScheduleError naming the schedule and the problem. Returns its first run. */
function validate(def: ScheduleDefinition, now: Date): Date {
  const where = `schedule "${def.name}"`;
  if (!NAME_PATTERN.test(def.name)) throw new ScheduleError(`${where}: a name is 1-200 letters, digits or ._:-`);
  let next: Date | null;
  try {
    next = nextOccurrence(def.cron, def.timezone ?? 'UTC', now);
  } catch (err) {
    throw new ScheduleError(`${where}: ${(err as Error).message}`);
  }
  if (!next) throw new ScheduleError(`${where}: cron "${def.cron}" has no occurrence after now`);
  return next;
}

/** Creates a schedule (source `api`): undefined when the name is taken, a ScheduleError when the cron is bad. */
export async function createSchedule(
  db: Queryable, def: ScheduleDefinition & { enabled?: boolean }, now = new Date(),
): Promise<Schedule | undefined> {
  const next = validate(def, now);
  const [row] = await db.query<ScheduleRow>(q.INSERT, [
    def.name, def.cron, def.timezone ?? 'UTC', def.queue, JSON.stringify(def.payload ?? {}), def.missed ?? 'skip',
    def.catchUpMs ?? null, def.enabled ?? true, next,
  ]);
  return row && toSchedule(row);
}

/**
 * Upserts the schedules the domains declare (source `code`). A stored next run survives unless
 * the cron or time zone changed; schedules no longer declared are left alone (during a rolling
 * deploy, older processes still declare them).
 */
export async function syncDeclaredSchedules(db: Queryable, defs: readonly ScheduleDefinition[], now = new Date()): Promise<void> {
  const names = new Set<string>();
  const planned = defs.map((def) => {
    if (names.has(def.name)) throw new ScheduleError(`schedule "${def.name}" is declared twice`);
    names.add(def.name);
    return { def, next: validate(def, now) };
  });
  for (const { def, next } of planned) {
    await db.query(q.UPSERT_DECLARED, [
      def.name, def.cron, def.timezone ?? 'UTC', def.queue, JSON.stringify(def.payload ?? {}), def.missed ?? 'skip',
      def.catchUpMs ?? null, next,
    ]);
  }
}

/** 'declared' when a domain declares it: it would come back at the next start, so it is not deleted. */
export async function deleteSchedule(db: Queryable, name: string): Promise<'deleted' | 'not_found' | 'declared'> {
  const found = await getSchedule(db, name);
  if (!found) return 'not_found';
  if (found.source === 'code') return 'declared';
  await db.query(q.DELETE, [name]);
  return 'deleted';
}

/** Enables (from the next occurrence after now) or disables a schedule; undefined when there is none. */
export async function setScheduleEnabled(db: Queryable, name: string, enabled: boolean, now = new Date()): Promise<Schedule | undefined> {
  const found = await getSchedule(db, name);
  if (!found) return undefined;
  let next: Date | null = null;
  if (enabled) {
    try {
      next = nextOccurrence(found.cron, found.timezone, now);
    } catch (err) {
      throw new ScheduleError(`schedule "${name}": ${(err as Error).message}`);
    }
  }
  const [row] = await db.query<ScheduleRow>(q.SET_ENABLED, [name, enabled, next]);
  return row && toSchedule(row);
}

/** The jobs of `row`'s occurrences, enqueued on `tx`; returns their ids in order. */
function enqueueOccurrences(tx: Queryable, queue: QueueClient, row: DueRow, occurrences: readonly { id: string; at: Date }[]): Promise<number[]> {
  return queue.sendBatch(row.queue, occurrences.map((o) => ({
    payload: { ...row.payload, scheduledFor: o.at.toISOString() },
    dedupKey: occurrenceKey(row.name, o.id),
  })), tx);
}

/** Fires a schedule now, outside its plan, as occurrence `manual:<ISO now>`; undefined when there is none. */
export async function triggerSchedule(sql: Sql, queue: QueueClient, name: string): Promise<{ jobId: number; occurrence: string } | undefined> {
  return sql.transaction(async (tx) => {
    const [row] = await tx.query<DueRow>(q.LOCK_ONE, [name]);
    if (!row) return undefined;
    const occurrence = `manual:${row.db_now.toISOString()}`;
    const [jobId] = await enqueueOccurrences(tx, queue, row, [{ id: occurrence, at: row.db_now }]);
    await tx.query(q.RECORD_RUN, [name, row.db_now, jobId]);
    return { jobId: jobId!, occurrence };
  });
}

/**
 * One pass: locks up to `limit` due schedules, enqueues their occurrences and advances them, in
 * one transaction, so an occurrence's job exists exactly when its schedule has moved past it.
 */
export async function fireDue(sql: Sql, queue: QueueClient, log: Logger, options: { limit: number; graceMs: number }): Promise<FireResult> {
  return sql.transaction(async (tx) => {
    const rows = await tx.query<DueRow>(q.CLAIM_DUE, [options.limit]);
    const result: FireResult = { claimed: rows.length, fired: [], skipped: [] };
    for (const row of rows) {
      let plan: OccurrencePlan;
      try {
        plan = planOccurrences({ ...row, catchUpMs: row.catch_up_ms === null ? null : Number(row.catch_up_ms) }, row.next_run_at, row.db_now, options.graceMs);
      } catch (err) {
        // A row edited by hand into a bad cron must not block the others: park it.
        log.error('schedule parked: its cron no longer parses', { schedule: row.name, error: err });
        await tx.query(q.ADVANCE, [row.name, null, null, null]);
        continue;
      }
      const occurrences = plan.fire.map((at) => ({ id: at.toISOString(), at }));
      const ids = occurrences.length ? await enqueueOccurrences(tx, queue, row, occurrences) : [];
      await tx.query(q.ADVANCE, [row.name, plan.next, plan.fire.at(-1) ?? null, ids.at(-1) ?? null]);
      occurrences.forEach((o, i) => result.fired.push({ name: row.name, occurrence: o.id, jobId: ids[i]! }));
      if (plan.missedSince) {
        result.skipped.push(row.name);
        log.warn('missed occurrences after downtime', {
          schedule: row.name, missedSince: plan.missedSince.toISOString(), policy: row.missed, fired: occurrences.map((o) => o.id),
        });
      }
    }
    return result;
  });
}

/** Milliseconds until the earliest enabled occurrence on the database's clock; null when none. */
export async function msUntilNext(db: Queryable): Promise<number | null> {
  const [row] = await db.query<{ ms: number | null }>(q.MS_UNTIL_NEXT);
  return row?.ms ?? null;
}

export type { FireResult } from './scheduler.ts';

/** The scheduler every process runs, wired to the database (see scheduler.ts for the loop). */
export function createScheduler(deps: {
  sql: Sql;
  queue: QueueClient;
  log: Logger;
  graceMs?: number;
  /** Called after each pass that fired something (benchmarks, tests). */
  onFired?: (result: FireResult) => void;
}): Scheduler {
  const { sql, queue, log } = deps;
  const graceMs = deps.graceMs ?? DEFAULT_GRACE_MS;
  return new Scheduler(
    {
      fireDue: (limit) => fireDue(sql, queue, log, { limit, graceMs }),
      msUntilNext: () => msUntilNext(sql),
      onChange: (wake) => sql.listen('nova_schedules', wake),
      list: () => listSchedules(sql),
    },
    { log, ...(deps.onFired && { onFired: deps.onFired }) },
  );
}
