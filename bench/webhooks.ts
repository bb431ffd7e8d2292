/**
 * Webhook intake and real-time sync benchmark. Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:webhooks
 *
 * Two real Nova processes on a scratch database: one runs `api` (the intake), one `webhooks`.
 * The Nylas emulator runs here and signs the deliveries.
 *   1. intake:     autocannon posts signed `message.created` deliveries (each with a new id) for
 *                  BENCH_SECONDS; reports accepted/s and latency; the `webhooks` process works
 *                  through them at the same time, and its RSS is sampled throughout.
 *   2. end to end: BENCH_E2E deliveries at BENCH_E2E_RATE/s once the backlog is gone; for each,
 *                  message row created_at minus audit row received_at (both database clocks).
 *
 * Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (64), BENCH_E2E (500), BENCH_E2E_RATE (200),
 * BENCH_WEBHOOK_CONCURRENCY and NOVA_COMPACT_HEAP (the worker's; unset: their defaults),
 * BENCH_LOG_STATEMENTS (false: true makes the server log every statement of the scratch database),
 * BENCH_NODE_ARGS (node flags for both Nova processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`),
 * DATABASE_URL (server for a scratch database `nova_bench_<random>`, dropped at the end; unset:
 * PGlite cannot be shared by two processes, so the bench refuses).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { NylasEmulator, signWebhook } from '../src/emulators/nylas/index.ts';
import { migrate, openPostgres } from '../src/storage/index.ts';
import { envInt } from './support.ts';

const env = process.env;
const int = envInt;
const SECONDS = int('BENCH_SECONDS', 10);
const CONNECTIONS = int('BENCH_CONNECTIONS', 64);
const E2E = int('BENCH_E2E', 500);
const E2E_RATE = int('BENCH_E2E_RATE', 200);
const SECRET = 'bench-secret';
const GRANT = 'bench-grant';

if (!env.DATABASE_URL) {
  console.error('bench:webhooks needs DATABASE_URL (two processes share the database; PGlite is single-process)');
  process.exit(2);
}

const dbName = `nova_bench_${randomBytes(4).toString('hex')}`;
const admin = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
// BENCH_LOG_STATEMENTS=true: the server logs every statement of the scratch database with its duration.
if (env.BENCH_LOG_STATEMENTS === 'true') await admin.unsafe(`alter database ${dbName} set log_min_duration_statement = 0`);
const url = new URL(env.DATABASE_URL);
url.pathname = `/${dbName}`;
// Its own application_name, so the CPU of Nova's database sessions can be told from the bench's.
const sql = openPostgres({ url: url.toString(), poolSize: 4, connection: { application_name: 'nova-bench' } });
await migrate(sql);
await sql.query(`insert into flux_inboxes (grant_id, email, provider) values ($1, 'bench@example.com', 'google')`, [GRANT]);

const emulator = new NylasEmulator({ webhookSecret: SECRET, apiKey: 'bench-key' });
await emulator.start();
const { message: template } = await emulator.createMessage(GRANT, { subject: 'Benchmark ✓', body: `<p>${'Lorem ipsum dolor sit amet. '.repeat(30)}</p>` }, { deliver: false });

const procs: ChildProcess[] = [];
function nova(role: string, extra: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  // The built CLI, as production runs it (tsx would add its own memory to the RSS figure).
  const nodeArgs = env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, 'dist/cli/main.js', 'start', role], {
    env: {
      PATH: env.PATH ?? '', DATABASE_URL: url.toString(), NOVA_LOG_FORMAT: 'json', LOG_LEVEL: 'warn',
      WORKER_HEALTH_PORT: '0', NOVA_HEALTH_HOST: '127.0.0.1', NYLAS_API_KEY: 'bench-key', NYLAS_API_URI: emulator.url,
      NYLAS_WEBHOOK_SECRET: SECRET, NODE_ENV: 'production', ...extra,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  procs.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const started = out.split('\n').find((l) => l.includes('"Nova started"'));
      if (started) resolve({ child, port: JSON.parse(started).apiPort ?? 0 });
    });
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}: ${out}`)));
  });
}

// "Nova started" is logged at info; the processes run at warn otherwise.
const api = await nova('api', { PORT: '0', API_HOST: '127.0.0.1', LOG_LEVEL: 'info' });
const hook = `http://127.0.0.1:${api.port}/webhooks/nylas`;
// WEBHOOK_CONCURRENCY and NOVA_COMPACT_HEAP keep their defaults unless set for the bench.
const startWorker = () => nova('webhooks', {
  LOG_LEVEL: 'info', BATCH_SIZE: '50',
  ...(env.BENCH_WEBHOOK_CONCURRENCY && { WEBHOOK_CONCURRENCY: env.BENCH_WEBHOOK_CONCURRENCY }),
  ...(env.NOVA_COMPACT_HEAP && { NOVA_COMPACT_HEAP: env.NOVA_COMPACT_HEAP }),
});
// BENCH_WORKER_DURING_INTAKE=false measures the intake alone, the worker starting after it.
const together = env.BENCH_WORKER_DURING_INTAKE !== 'false';
let worker = together ? await startWorker() : undefined;

let peakRss = 0;
let startRss = 0;
const rssTimer = setInterval(() => {
  if (!worker) return;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${worker.child.pid}/status`, 'utf8'))?.[1]);
    startRss ||= kb * 1024;
    peakRss = Math.max(peakRss, kb * 1024);
  } catch {
    // the process is gone; the last sample stands
  }
}, 100);

/** CPU time (user + system, ms) of a process, from /proc; 0 once it is gone. */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}
/** CPU so far of the two Nova processes and of the PostgreSQL sessions they opened. */
async function cpu(): Promise<{ api: number; worker: number; db: number; bench: number }> {
  const backends = await sql.query<{ pid: number }>(`select pid from pg_stat_activity where datname = current_database() and application_name = 'nova'`);
  const self = process.cpuUsage();
  return {
    api: cpuMs(api.child.pid), worker: cpuMs(worker?.child.pid), db: backends.reduce((t, b) => t + cpuMs(b.pid), 0),
    bench: (self.user + self.system) / 1000,
  };
}
function cpuLine(label: string, a: Awaited<ReturnType<typeof cpu>>, b: typeof a, n: number): string {
  const per = (x: number, y: number) => (n ? ((y - x) * 1000) / n : 0).toFixed(0);
  return `  CPU µs per ${label}: api ${per(a.api, b.api)}, webhooks ${per(a.worker, b.worker)}, ` +
    `PostgreSQL ${per(a.db, b.db)}, bench (load generator) ${per(a.bench, b.bench)}`;
}

let sent = 0;
function delivery(): { body: string; signature: string } {
  const id = randomUUID();
  // Four messages per thread, as a real mailbox spreads over many threads.
  const message = { ...template, id: `bench-${id}`, thread_id: `bench-thread-${Math.floor(sent++ / 4)}` };
  // Built by hand (the envelope the emulator would send): the load generator shares the cores
  // with everything it measures, so it should cost as little as possible per request.
  const body = JSON.stringify({
    specversion: '1.0', type: 'message.created', source: '/google/emails/realtime', id,
    time: Math.floor(Date.now() / 1000), webhook_delivery_attempt: 1, data: { application_id: 'bench', object: message },
  });
  return { body, signature: signWebhook(body, SECRET) };
}

// 1. Intake under load.
const cpu0 = await cpu();
const result = await autocannon({
  url: hook,
  connections: CONNECTIONS,
  duration: SECONDS,
  requests: [{
    method: 'POST',
    setupRequest: (req: any) => {
      const { body, signature } = delivery();
      return { ...req, body, headers: { 'content-type': 'application/json', 'x-nylas-signature': signature } };
    },
  }],
});
const accepted = result['2xx'];
console.log(`\nintake (${CONNECTIONS} connections, ${SECONDS} s, PostgreSQL, webhooks worker ${together ? 'running' : 'stopped'})`);
console.log(`  accepted           ${Math.round(accepted / SECONDS).toLocaleString('en-US')} webhooks/s   (target >= 5,000)`);
console.log(`  latency p50 / p99  ${result.latency.p50} / ${result.latency.p99} ms   (target p99 <= 25)`);
console.log(`  non-2xx            ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`);

const cpu1 = await cpu();
worker ??= await startWorker();
// Wait for the worker to finish the backlog.
const backlogStart = Date.now();
const cpuDrain = await cpu();
const [backlog] = await sql.query<{ n: number }>(`select count(*)::int as n from flux_webhook_notifications where status in ('pending', 'processing')`);
for (;;) {
  const [r] = await sql.query<{ n: number }>(`select count(*)::int as n from flux_webhook_notifications where status in ('pending', 'processing')`);
  if (!r!.n) break;
  await sleep(200);
}
const [processed] = await sql.query<{ n: number }>(`select count(*)::int as n from flux_webhook_notifications where status = 'processed'`);
const drainSeconds = (Date.now() - backlogStart) / 1000;
const cpu2 = await cpu();
console.log(`  backlog drained    ${processed!.n.toLocaleString('en-US')} processed, ${backlog!.n.toLocaleString('en-US')} of them in the ${drainSeconds.toFixed(1)} s after the load ended (${Math.round(backlog!.n / drainSeconds)}/s)`);
console.log(cpuLine('accepted delivery (load phase)', cpu0, cpu1, accepted));
// From the worker's start on, so its start-up does not count; per notification left at that point.
console.log(cpuLine('notification (drain phase)', cpuDrain, cpu2, backlog!.n));

// 2. End to end at a steady rate.
const marker = new Date();
for (let i = 0; i < E2E; i++) {
  const { body, signature } = delivery();
  void fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-nylas-signature': signature }, body });
  await sleep(1000 / E2E_RATE);
}
for (;;) {
  const [r] = await sql.query<{ n: number }>(`select count(*)::int as n from flux_webhook_notifications where received_at >= $1 and status = 'processed'`, [marker]);
  if (r!.n >= E2E) break;
  await sleep(200);
}
const lat = await sql.query<{ ms: number }>(`
  select (extract(epoch from m.created_at - n.received_at) * 1000)::float8 as ms
  from flux_webhook_notifications n join flux_email_messages m on m.nylas_message_id = 'bench-' || n.notification_id
  where n.received_at >= $1 order by 1`, [marker]);
const pct = (q: number) => lat[Math.min(lat.length - 1, Math.ceil(q * lat.length) - 1)]!.ms.toFixed(1);
console.log(`\nend to end (${E2E} deliveries at ${E2E_RATE}/s): received -> message row committed`);
console.log(`  p50 / p99          ${pct(0.5)} / ${pct(0.99)} ms   (target p50 <= 50)`);
console.log(`\nwebhooks process peak RSS   ${(peakRss / 1024 / 1024).toFixed(0)} MB   (target <= 120; ${(startRss / 1024 / 1024).toFixed(0)} MB once started)`);
console.log(JSON.stringify({
  at: new Date().toISOString(), acceptedPerSec: Math.round(accepted / SECONDS), p50: result.latency.p50, p99: result.latency.p99,
  e2eP50Ms: Number(pct(0.5)), e2eP99Ms: Number(pct(0.99)), peakRssMb: Math.round(peakRss / 1024 / 1024),
}));

clearInterval(rssTimer);
for (const p of procs) p.kill('SIGTERM');
await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
await emulator.stop();
await sql.close();
await admin.unsafe(`drop database if exists ${dbName} with (force)`);
await admin.end();
