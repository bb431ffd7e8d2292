/**
 * Recovery times: for a set of jobs that were leased when their holder died (a SIGKILL, or the
 * database crashing under every holder), the time until each one was taken up again, that is
 * until its row carries another lease token or left the active state (acked, handed back,
 * dead-lettered). Polled on the suite's own connection every 100 ms.
 */
import type { Sql } from '../../src/storage/index.ts';

export interface Orphans {
  what: string;
  /** When the holder died (ms, Date.now()). */
  at: number;
  /** Job id → its lease token when the holder died. */
  jobs: Map<number, string>;
  /** Job id → its queue and holder (locked_by: host:pid:suffix). */
  queues: Map<number, { queue: string; holder: string }>;
}

/** The active jobs held by the processes whose locked_by matches `pattern` (`%` for all). */
export async function orphansOf(sql: Sql, what: string, at: number, pattern: string): Promise<Orphans> {
  const rows = await sql.query<{ id: number; lease_token: string; queue: string; locked_by: string }>(
    `select id, lease_token::text, queue, locked_by from nova_jobs where state = 'active' and locked_by like $1`, [pattern]);
  return {
    what, at, jobs: new Map(rows.map((r) => [Number(r.id), r.lease_token])),
    queues: new Map(rows.map((r) => [Number(r.id), { queue: r.queue, holder: r.locked_by }])),
  };
}

/**
 * Resolves with each orphan's recovery time in ms (from `orphans.at`), once all are taken up or
 * `timeoutMs` passed (those left are reported as Infinity). Database errors (an outage) are
 * waited out.
 */
export interface Recovered {
  queue: string;
  /** The pid in the holder's locked_by. */
  pid: number;
  ms: number;
}

const who = (o: Orphans, id: number) => {
  const held = o.queues.get(id);
  return { queue: held?.queue ?? '?', pid: Number(held?.holder.split(':')[1] ?? 0) };
};

export async function watchRecovery(sql: Sql, orphans: Orphans, timeoutMs: number): Promise<Recovered[]> {
  const times: Recovered[] = [];
  const open = new Map(orphans.jobs);
  const deadline = Date.now() + timeoutMs;
  while (open.size && Date.now() < deadline) {
    try {
      const rows = await sql.query<{ id: number; lease_token: string | null; state: string }>(
        `select id, lease_token::text, state from nova_jobs where id = any($1::bigint[])`, [[...open.keys()]]);
      const now = Date.now();
      const still = new Map(rows.map((r) => [Number(r.id), r]));
      for (const [id, token] of open) {
        const row = still.get(id);
        if (!row || row.state !== 'active' || row.lease_token !== token) {
          times.push({ ...who(orphans, id), ms: now - orphans.at });
          open.delete(id);
        }
      }
    } catch {
      // The database is down: keep watching.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const id of open.keys()) times.push({ ...who(orphans, id), ms: Infinity });
  return times;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const seconds = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : 'never');

/** "n jobs, p50 x s, max y s", then the same per queue when there are several. */
export function describeTimes(recovered: readonly Recovered[]): string {
  if (recovered.length === 0) return 'no jobs in flight';
  const one = (rs: readonly Recovered[]) => {
    const ms = rs.map((r) => r.ms);
    return `${rs.length} jobs, p50 ${seconds(percentile(ms, 50))}, max ${seconds(Math.max(...ms))}`;
  };
  const queues = [...new Set(recovered.map((r) => r.queue))].sort();
  if (queues.length < 2) return `${one(recovered)}${queues[0] ? ` (${queues[0]})` : ''}`;
  return `${one(recovered)} (${queues.map((q) => `${q}: ${one(recovered.filter((r) => r.queue === q))}`).join('; ')})`;
}

export const maxMs = (recovered: readonly Recovered[]) => Math.max(0, ...recovered.map((r) => r.ms));
