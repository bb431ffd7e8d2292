/**
 * Backfill benchmark against the Nylas emulator. Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:backfill
 *
 * Built Nova processes on a scratch database: one runs `api,backfill,completion`, two run
 * `threads` (THREADS_CONCURRENCY 8 each). The emulator runs here.
 *   1. unthrottled: a mailbox with BENCH_THREADS threads of BENCH_MESSAGES messages inside the
 *      one-year window; reports messages synced per second, from the backfill's start to its
 *      last thread committed, and to the completion monitor marking it completed;
 *   2. rate limited: the emulator allows BENCH_RATE requests/s per grant and Nova is configured
 *      with the same rate; a BENCH_RATE_DAYS-day window; reports the time against the bound
 *      (requests needed / rate).
 * The peak RSS of the `threads` processes is sampled throughout, and the unthrottled phase prints
 * the CPU time per synced message of the Nova processes and their PostgreSQL sessions (target
 * ≤ 1 ms: unlike messages/s, it carries between machines).
 *
 * Env: BENCH_THREADS (5000), BENCH_MESSAGES (4), BENCH_RATE (50), BENCH_RATE_DAYS (30),
 * BENCH_SKIP_UNTHROTTLED / BENCH_SKIP_THROTTLED (true to skip a phase), BENCH_NODE_ARGS.
 */
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { envInt, cpuMs, mb, peakRss, scratchDatabase, startNova, type NovaChild } from './support.ts';

const env = process.env;
const int = envInt;
const THREADS = int('BENCH_THREADS', 5000);
const MESSAGES = int('BENCH_MESSAGES', 4);
const RATE = int('BENCH_RATE', 50);
const RATE_DAYS = int('BENCH_RATE_DAYS', 30);
const DAY_MS = 86_400_000;

if (!env.DATABASE_URL) {
  console.error('bench:backfill needs DATABASE_URL (several processes share the database; PGlite is single-process)');
  process.exit(2);
}

const db = await scratchDatabase(env.DATABASE_URL);
// The generated mailbox spreads over 18 months; size it so THREADS fall in the last year.
const now = Date.now() - 60_000;
const emulator = new NylasEmulator({ apiKey: 'bench-key', threadsPerGrant: Math.ceil((THREADS * 548) / 365), messagesPerThread: MESSAGES, now });
await emulator.start();

const procs: NovaChild[] = [];
async function cluster(extra: Record<string, string>): Promise<{ api: string; threads: NovaChild[] }> {
  const base = {
    DATABASE_URL: db.url, NYLAS_API_KEY: 'bench-key', NYLAS_API_URI: emulator.url, COMPLETION_CHECK_INTERVAL_MS: '250',
    POLL_INTERVAL_MS: '1000', ...(env.BENCH_NOVA_ENV ? JSON.parse(env.BENCH_NOVA_ENV) : {}), ...extra,
  };
  const front = await startNova('api,backfill,completion', { ...base, PORT: '0', API_HOST: '127.0.0.1' });
  const threads = [await startNova('threads', { ...base, THREADS_CONCURRENCY: '8' }), await startNova('threads', { ...base, THREADS_CONCURRENCY: '8' })];
  procs.push(front, ...threads);
  return { api: `http://127.0.0.1:${front.apiPort}`, threads };
}
/** CPU so far (ms) of the Nova processes, their PostgreSQL sessions, and this process (the emulator). */
async function cpu(): Promise<{ front: number; threads: number; postgres: number; emulator: number }> {
  const sessions = await db.sql.query<{ pid: number }>(`select pid from pg_stat_activity where datname = current_database() and application_name = 'nova'`);
  const usage = process.cpuUsage();
  return {
    front: cpuMs(procs[0]?.child.pid),
    threads: procs.slice(1).reduce((t, p) => t + cpuMs(p.child.pid), 0),
    postgres: sessions.reduce((t, s) => t + cpuMs(s.pid), 0),
    emulator: (usage.user + usage.system) / 1000,
  };
}

async function stopAll(): Promise<void> {
  await Promise.all(procs.splice(0).map((p) => p.stop()));
}

async function post(api: string, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Runs one backfill to completion; returns its timings (ms) and counts. */
async function backfill(api: string, grant: string, since: number, until: number) {
  const { inbox } = await post(api, '/api/inboxes', { grantId: grant });
  const started = Date.now();
  const { configId } = await post(api, `/api/inboxes/${inbox.id}/backfill`, { since: new Date(since).toISOString(), until: new Date(until).toISOString() });
  for (;;) {
    const p: any = await (await fetch(`${api}/api/backfills/${configId}`)).json();
    if (p.backfillStatus === 'completed' || p.backfillStatus === 'failed') break;
    await sleep(50);
  }
  const seen = Date.now();
  const [t] = await db.sql.query<{ threads: number; failed: number; messages: number; sync_ms: number; complete_ms: number }>(`
    select count(*)::int as threads, (count(*) filter (where q.status = 'failed'))::int as failed,
           sum(q.messages_synced)::int as messages,
           extract(epoch from max(q.processed_at) - h.at) * 1000 as sync_ms,
           extract(epoch from c.backfill_completed_at - h.at) * 1000 as complete_ms
    from queued_threads q
    join flux_inbox_configurations c on c.id = q.config_id
    join backfill_history h on h.config_id = c.id and h.event = 'started'
    where q.config_id = $1 group by h.at, c.backfill_completed_at`, [configId]);
  return { ...t!, wallMs: seen - started };
}

try {
  if (env.BENCH_SKIP_UNTHROTTLED !== 'true') {
    const { api, threads } = await cluster({ NYLAS_RATE_LIMIT_PER_SECOND: '100000', NYLAS_RATE_LIMIT_BURST: '100000' });
    const rss = peakRss(() => threads.map((t) => t.child.pid));
    const before = emulator.stats().requests;
    const cpu0 = await cpu();
    const r = await backfill(api, 'bench-unthrottled', now - 365 * DAY_MS, now);
    const cpu1 = await cpu();
    const peak = rss.stop();
    console.log(`unthrottled: ${r.threads} threads, ${r.messages} messages (${r.failed} failed), ${emulator.stats().requests - before} requests`);
    console.log(`  synced ${(r.messages / (r.sync_ms / 1000)).toFixed(0)} messages/s (last thread committed after ${(r.sync_ms / 1000).toFixed(2)} s)`);
    console.log(`  completed ${(r.messages / (r.complete_ms / 1000)).toFixed(0)} messages/s (marked completed after ${(r.complete_ms / 1000).toFixed(2)} s; seen by the client after ${(r.wallMs / 1000).toFixed(2)} s)`);
    console.log(`  threads processes: peak RSS ${mb(peak)}`);
    const share = (k: keyof typeof cpu0) => `${k} ${((cpu1[k] - cpu0[k]) / 1000).toFixed(1)} s`;
    console.log(`  CPU: ${share('front')}, ${share('threads')}, ${share('postgres')}, ${share('emulator')} (of ${(r.wallMs / 1000).toFixed(1)} s on ${availableParallelism()} cores)`);
    // The figure that carries between machines: CPU of every Nova process and its PostgreSQL
    // sessions per message synced (the emulator stands in for Nylas and is left out).
    const per = (k: keyof typeof cpu0) => (cpu1[k] - cpu0[k]) / r.messages;
    const nova = per('front') + per('threads') + per('postgres');
    console.log(`  CPU per synced message: ${nova.toFixed(2)} ms (Nova processes ${(per('front') + per('threads')).toFixed(2)} ms, PostgreSQL ${per('postgres').toFixed(2)} ms; emulator ${per('emulator').toFixed(2)} ms not counted)`);
    await stopAll();
  }

  if (env.BENCH_SKIP_THROTTLED !== 'true') {
    emulator.setRateLimit(RATE);
    // Nova's bucket refills at the provider's rate but bursts less than the provider's bucket
    // holds, so arrival jitter does not push requests over the provider's limit.
    const { api, threads } = await cluster({ NYLAS_RATE_LIMIT_PER_SECOND: String(RATE), NYLAS_RATE_LIMIT_BURST: String(Math.max(1, Math.floor(RATE / 5))) });
    const rss = peakRss(() => threads.map((t) => t.child.pid));
    const grant = 'bench-throttled';
    const stats0 = emulator.stats();
    const r = await backfill(api, grant, now - RATE_DAYS * DAY_MS, now);
    const peak = rss.stop();
    const stats1 = emulator.stats();
    const requests = (stats1.byGrant[grant] ?? 0) - (stats0.byGrant[grant] ?? 0);
    const limited = stats1.rateLimited - stats0.rateLimited;
    const needed = requests - limited;
    const boundMs = (needed / RATE) * 1000;
    console.log(`rate limited to ${RATE} requests/s per grant: ${r.threads} threads, ${r.messages} messages, ${needed} requests needed, ${limited} answered 429`);
    console.log(`  bound ${(boundMs / 1000).toFixed(2)} s; last thread committed after ${(r.sync_ms / 1000).toFixed(2)} s (${((r.sync_ms / boundMs - 1) * 100).toFixed(1)} % over), completed after ${(r.complete_ms / 1000).toFixed(2)} s (${((r.complete_ms / boundMs - 1) * 100).toFixed(1)} % over)`);
    console.log(`  seed 001's fixed delays (3 s per thread, 1 s per message) would take ${((r.threads * 3 + r.messages) / 3600).toFixed(1)} h`);
    console.log(`  threads processes: peak RSS ${mb(peak)}`);
    await stopAll();
  }
} finally {
  await stopAll();
  await emulator.stop();
  await db.drop();
}
