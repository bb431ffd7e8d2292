/**
 * Phase 1 of the chaos suite: backfills under provider faults while workers are killed. The
 * Nylas emulator (in this process) serves one generated mailbox per grant and injects 5xx,
 * 429 with Retry-After, truncated bodies, connection resets and hangs at the given rates; built
 * Nova processes (`node dist/cli/main.js start <roles>`, as bench/backfill.ts runs them) sync it
 * into a database of the private cluster: one `api`, one `backfill,completion`, two `threads`.
 * Every few seconds one of the last three gets SIGKILL and is started again. At the end every
 * thread and message of every mailbox must be in the database exactly once, every backfill
 * completed (not failed), and no job left active or dead-lettered.
 */
import postgres from 'postgres';
import { NylasEmulator, type FaultOptions } from '../../src/emulators/nylas/index.ts';
import { BACKFILL_QUEUE, THREAD_QUEUE, WEBHOOK_QUEUE } from '../../src/email/queues.ts';
import { migrate, openPostgres } from '../../src/storage/index.ts';
import type { PgCluster } from './cluster.ts';
import { Supervisor, type Slot } from './processes.ts';
import { reportExits, type PhaseResult } from './queue.ts';
import { describeTimes, maxMs, orphansOf, seconds, watchRecovery, type Recovered } from './recovery.ts';

export interface BackfillPhaseOptions {
  grants: number;
  threadsPerGrant: number;
  messagesPerThread: number;
  faults: FaultOptions;
  /** Kills happen during this window (or until the backfills end, if sooner). */
  killSeconds: number;
  /** Mean gap between kills; each gap is drawn from [0.5, 1.5] × this. */
  killEveryMs: number;
  /** Which processes may be killed: `backfill` (discovery + completion), `threads`. */
  killRoles: string[];
  leaseSeconds: number;
  /** Per-try timeout of Nylas calls: what a hang costs. */
  nylasTimeoutMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const DAY_MS = 86_400_000;
const API_KEY = 'chaos-key';

export async function runBackfillPhase(cluster: PgCluster, o: BackfillPhaseOptions): Promise<PhaseResult> {
  const lines: string[] = [];
  const failures: string[] = [];
  const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
  await admin.unsafe('create database chaos_backfill');
  await admin.end();
  const url = cluster.url('chaos_backfill');
  const sql = openPostgres({ url, poolSize: 4, connection: { application_name: 'nova-chaos' } });
  await migrate(sql);
  const now = Date.now() - 60_000;
  // The generated mailbox spreads over 18 months and a backfill reaches back at most a year:
  // size it so about threadsPerGrant threads fall in the window.
  const since = now - 360 * DAY_MS;
  const until = Date.now() + 60_000;
  const emulator = new NylasEmulator({
    apiKey: API_KEY, threadsPerGrant: Math.ceil((o.threadsPerGrant * 548) / 360), messagesPerThread: o.messagesPerThread, now,
  });
  await emulator.start();
  const supervisor = new Supervisor({
    DATABASE_URL: url, NYLAS_API_KEY: API_KEY, NYLAS_API_URI: emulator.url, NYLAS_WEBHOOK_SECRET: 'chaos-webhook-secret', NOVA_DEMO: 'false',
    NYLAS_RATE_LIMIT_PER_SECOND: '100000', NYLAS_RATE_LIMIT_BURST: '100000', NYLAS_TIMEOUT_MS: String(o.nylasTimeoutMs),
    VISIBILITY_TIMEOUT: String(o.leaseSeconds), NOVA_LEASE_TTL_MS: String(o.leaseSeconds * 1000), NOVA_REAP_INTERVAL_MS: '500',
    COMPLETION_CHECK_INTERVAL_MS: '500', RECOVERY_CHECK_INTERVAL_MS: '5000', POLL_INTERVAL_MS: '1000', SHUTDOWN_TIMEOUT_MS: '5000',
    NOVA_RETAIN_COMPLETED: '100000000', NOVA_RETAIN_FAILED: '100000000', NOVA_QUEUE_HEALTH_LOG_MS: '600000',
  });
  const main = ['dist/cli/main.js', 'start'];
  try {
    const api = await supervisor.add('api', [...main, 'api'], { PORT: '0', API_HOST: '127.0.0.1' });
    const workers: Slot[] = [
      await supervisor.add('backfill,completion', [...main, 'backfill,completion']),
      await supervisor.add('threads-1', [...main, 'threads'], { THREADS_CONCURRENCY: '8' }),
      await supervisor.add('threads-2', [...main, 'threads'], { THREADS_CONCURRENCY: '8' }),
    ];
    const killable = workers.filter((w) => o.killRoles.some((role) => w.name.startsWith(role)));
    const base = `http://127.0.0.1:${api.apiPort}`;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<any>;
    };

    // Faults from the first request on; every backfill covers its whole mailbox.
    emulator.setFaults(o.faults);
    const grants = Array.from({ length: o.grants }, (_, i) => `chaos-grant-${i + 1}`);
    const started = Date.now();
    const configs: string[] = [];
    for (const grantId of grants) {
      const { inbox } = await post('/api/inboxes', { grantId });
      const { configId } = await post(`/api/inboxes/${inbox.id}/backfill`, { since: new Date(since).toISOString(), until: new Date(until).toISOString() });
      configs.push(configId);
    }

    // Done: every backfill completed or failed, nothing left of it to sync, no live job.
    let done = false;
    const finished = (async () => {
      const deadline = started + o.killSeconds * 1000 + o.leaseSeconds * 4000 + 120_000;
      while (Date.now() < deadline) {
        try {
          const [s] = await sql.query<{ open: number; pending: number; live: number }>(`
            select (select count(*)::int from flux_inbox_configurations where id = any($1::uuid[]) and backfill_status not in ('completed', 'failed')) as open,
                   (select count(*)::int from queued_threads where config_id = any($1::uuid[]) and status not in ('completed', 'failed')) as pending,
                   (select count(*)::int from nova_jobs where queue = any($2)) as live`, [configs, [BACKFILL_QUEUE, THREAD_QUEUE]]);
          if (s!.open === 0 && s!.pending === 0 && s!.live === 0) return (done = true);
        } catch {
          // Keep polling.
        }
        await sleep(250);
      }
      return false;
    })();

    const recoveries: Promise<Recovered[]>[] = [];
    const killLog: string[] = [];
    const killEnd = started + o.killSeconds * 1000;
    const watchFor = o.leaseSeconds * 4000 + 60_000;
    while (killable.length && !done && Date.now() < killEnd) {
      await Promise.race([sleep(o.killEveryMs * (0.5 + Math.random())), finished]);
      if (done || Date.now() >= killEnd) break;
      const victim = killable[Math.floor(Math.random() * killable.length)]!;
      const at = Date.now();
      const { pid } = supervisor.kill9(victim, 500);
      killLog.push(victim.name);
      await sleep(50);
      const orphans = await orphansOf(sql, `kill ${victim.name}`, at, `%:${pid}:%`).catch(() => undefined);
      if (orphans) recoveries.push(watchRecovery(sql, orphans, watchFor));
    }
    const completedInTime = await finished;
    const wallMs = Date.now() - started;
    const times = (await Promise.all(recoveries)).flat();

    // The books, per grant.
    const stats = emulator.stats();
    let threadsOk = 0;
    let messagesOk = 0;
    let expectedMessages = 0;
    let expectedThreadCount = 0;
    const statuses: Record<string, number> = {};
    for (const [i, grantId] of grants.entries()) {
      // The threads whose latest message falls in [since, until), as the provider filters them.
      const inWindow = emulator.listThreads(grantId)
        .filter((t) => (t.latest_message_received_date ?? 0) * 1000 >= since && (t.latest_message_received_date ?? 0) * 1000 < until);
      const expectedThreads = new Set(inWindow.map((t) => t.id));
      const expectedMsgs = new Set(inWindow.flatMap((t) => t.message_ids));
      expectedThreadCount += expectedThreads.size;
      expectedMessages += expectedMsgs.size;
      const threads = (await sql.query<{ id: string }>(`select nylas_thread_id as id from flux_email_threads where grant_id = $1`, [grantId])).map((r) => r.id);
      const messages = (await sql.query<{ id: string }>(`select nylas_message_id as id from flux_email_messages where grant_id = $1 and deleted_at is null`, [grantId])).map((r) => r.id);
      const [config] = await sql.query<{ status: string; error: string | null }>(`select backfill_status as status, backfill_error as error from flux_inbox_configurations where id = $1`, [configs[i]]);
      const queued = await sql.query<{ status: string; n: number }>(`select status, count(*)::int as n from queued_threads where config_id = $1 group by 1`, [configs[i]]);
      statuses[config!.status] = (statuses[config!.status] ?? 0) + 1;
      const check = (what: string, got: string[], want: Set<string>) => {
        const seen = new Set(got);
        const missing = [...want].filter((id) => !seen.has(id)).length;
        const extra = [...seen].filter((id) => !want.has(id)).length;
        const doubled = got.length - seen.size;
        if (missing || extra || doubled) failures.push(`backfill ${grantId}: ${what}: ${missing} missing, ${extra} unexpected, ${doubled} stored twice (of ${want.size})`);
        return missing === 0 && extra === 0 && doubled === 0;
      };
      if (check('threads', threads, expectedThreads)) threadsOk += expectedThreads.size;
      if (check('messages', messages, expectedMsgs)) messagesOk += expectedMsgs.size;
      if (config!.status !== 'completed') failures.push(`backfill ${grantId}: ${config!.status}${config!.error ? ` (${config!.error})` : ''}`);
      const notDone = queued.filter((q) => q.status !== 'completed');
      if (notDone.length) failures.push(`backfill ${grantId}: queued_threads ${notDone.map((q) => `${q.n} ${q.status}`).join(', ')}`);
    }
    const jobs = await sql.query<{ queue: string; state: string; n: number }>(`
      select queue, state, count(*)::int as n from nova_jobs where queue = any($1) group by 1, 2
      union all select queue, state, count(*)::int from nova_job_results where queue = any($1) and state = 'dead' group by 1, 2`,
    [[BACKFILL_QUEUE, THREAD_QUEUE, WEBHOOK_QUEUE]]);
    for (const j of jobs) failures.push(`backfill: ${j.n} ${j.queue} jobs ${j.state === 'dead' ? 'dead-lettered' : `left ${j.state}`}`);
    const [attempts] = await sql.query<{ retried: number; total: number; discovery_runs: number }>(`
      select (count(*) filter (where attempts > 1))::int as retried, count(*)::int as total,
             (count(*) filter (where queue = $2))::int as discovery_runs
      from nova_job_results where queue = any($1) and state = 'completed'`, [[BACKFILL_QUEUE, THREAD_QUEUE], BACKFILL_QUEUE]);
    // How close each discovery came to its last attempt (each SIGKILL during discovery costs one).
    const discovery = await sql.query<{ attempts: number; max_attempts: number }>(`
      select attempts, max_attempts from nova_job_results where queue = $1
      union all select attempts, max_attempts from nova_jobs where queue = $1`, [BACKFILL_QUEUE]);
    const history = await sql.query<{ event: string; n: number }>(`select event, count(*)::int as n from backfill_history where config_id = any($1::uuid[]) group by 1 order by 1`, [configs]);

    const k = stats.byKind;
    lines.push(`${o.grants} backfills of ${o.threadsPerGrant} threads × ${o.messagesPerThread} messages: ${Object.entries(statuses).map(([s, n]) => `${n} ${s}`).join(', ')}${completedInTime ? '' : ' (NOT finished in time)'}, ${seconds(wallMs)}`);
    lines.push(`  threads exact: ${threadsOk} of ${expectedThreadCount}; messages exact: ${messagesOk} of ${expectedMessages} (${(messagesOk / (wallMs / 1000)).toFixed(0)} messages/s overall)`);
    lines.push(`  ${attempts!.total} jobs completed (${attempts!.discovery_runs} discovery), ${attempts!.retried} needed more than one attempt; backfill history: ${history.map((h) => `${h.n} ${h.event}`).join(', ')}`);
    lines.push(`  discovery attempts used: ${discovery.map((d) => `${d.attempts} of ${d.max_attempts}`).join(', ') || 'none'}`);
    lines.push(`faults injected over ${stats.requests} requests: ${k.errors} 5xx, ${k.throttled} 429 + Retry-After, ${k.truncated} truncated, ${k.resets} resets, ${k.hangs} hangs (rates ${JSON.stringify(o.faults)})`);
    const killed = new Map<string, number>();
    for (const t of killLog) killed.set(t, (killed.get(t) ?? 0) + 1);
    lines.push(`${supervisor.events.kills} SIGKILLs (every ~${seconds(o.killEveryMs)} for up to ${o.killSeconds} s: ${[...killed].map(([n, c]) => `${c} × ${n}`).join(', ') || 'none'}), lease ${o.leaseSeconds} s`);
    lines.push(`recovery of the killed processes' jobs: ${describeTimes(times)} (target ≤ ${seconds(2 * o.leaseSeconds * 1000)}: 2 × lease)`);
    if (maxMs(times) > 2 * o.leaseSeconds * 1000) failures.push(`backfill: orphaned jobs waited up to ${seconds(maxMs(times))} after a kill, over 2 × lease`);
    if (!completedInTime) failures.push('backfill: the backfills did not finish in time');
    failures.push(...reportExits(supervisor, lines, 'backfill'));
  } finally {
    await supervisor.stopAll();
    await emulator.stop();
    await sql.close().catch(() => {});
  }
  return { lines, failures };
}
