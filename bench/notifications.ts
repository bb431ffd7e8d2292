/**
 * Notifications benchmark (issue 16). Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:notifications
 *
 * One built Nova process runs `api,notifications,workflow-runner` on a scratch database, with
 * email going to an SMTP sink in this process (real SMTP over loopback). Phases:
 *  0. cold start: BENCH_COLD rows inserted at once, right after the process started: the SMTP
 *     pool opens its connections on these sends, and the sink (like many relays) greets a new
 *     connection only after a pause; their insert → accepted times are printed apart;
 *  1. latency, on the warm process: BENCH_LATENCY rows inserted PENDING one by one (raw SQL, as
 *     any producer), BENCH_LATENCY_GAP_MS (5) apart; insert commit → the sink accepted the message
 *     (p50 / p99), with the insert rate that gap gave;
 *  2. throughput: BENCH_BURST rows (email + in-app each) inserted in one statement; deliveries/s
 *     until every delivery is SENT;
 *  3. in-app over /ws, once the burst's runs have all finished: BENCH_WS in-app notifications;
 *     insert commit → the `inbox:<id>` event at a WebSocket client (p50 / p99);
 *  4. digest: BENCH_DIGEST_EVENTS events for BENCH_DIGEST_SUBS subscribers on a digest workflow
 *     (window BENCH_DIGEST_WINDOW_MS), in two inserts; the process is killed with SIGKILL while it
 *     works through the first, the second is made while it is down, then it starts again; counts
 *     the digests and the events they hold. Issue 16's run: BENCH_DIGEST_EVENTS=100000
 *     BENCH_DIGEST_SUBS=1000 BENCH_DIGEST_WINDOW_MS=10000 (exactly one digest per subscriber);
 *  5. peak RSS of the Nova process.
 * Knobs: BENCH_COLD (20), BENCH_LATENCY (300), BENCH_LATENCY_GAP_MS (5), BENCH_BURST (5000), BENCH_WS (200),
 * BENCH_DIGEST_EVENTS (20000; 0 skips phase 4), BENCH_DIGEST_SUBS (200), BENCH_DIGEST_WINDOW_MS
 * (2000), NOTIFY_CONCURRENCY and WORKFLOW_RUNNER_CONCURRENCY (the roles' defaults unless set),
 * BENCH_NODE_ARGS (node flags for the Nova process), BENCH_KEEP_DB, BENCH_LOG_STATEMENTS,
 * BENCH_PG_PID_FILE (a local server's postmaster.pid: its CPU per notification is printed too).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { SmtpSink } from '../src/emulators/smtp/index.ts';
import * as store from '../src/notify/store.ts';
import { upsertSubscriber } from '../src/notify/subscribers-store.ts';
import { cpuMs, envInt, mb, rssBytes, scratchDatabase, serverCpuMs, startNova, type NovaChild } from './support.ts';

const env = process.env;
const int = envInt;
const LATENCY = int('BENCH_LATENCY', 300);
/** The pause after each insert of the latency phase (the rate is printed with the figures). */
const LATENCY_GAP_MS = int('BENCH_LATENCY_GAP_MS', 5);
/** Sends made right after the start, at once: they open the SMTP pool's connections. */
const COLD = int('BENCH_COLD', 20);
const BURST = int('BENCH_BURST', 5000);
const WS = int('BENCH_WS', 200);
// 0 skips the digest phase.
const DIGEST_EVENTS = env.BENCH_DIGEST_EVENTS === '0' ? 0 : int('BENCH_DIGEST_EVENTS', 20_000);
const DIGEST_SUBS = int('BENCH_DIGEST_SUBS', 200);
const DIGEST_WINDOW_MS = int('BENCH_DIGEST_WINDOW_MS', 2000);

if (!env.DATABASE_URL) {
  console.error('bench:notifications needs DATABASE_URL (a PostgreSQL server; a scratch database is made on it)');
  process.exit(2);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

const db = await scratchDatabase(env.DATABASE_URL);
const sink = new SmtpSink({ capacity: 100 });
await sink.start();
const novaEnv = {
  DATABASE_URL: db.url, PORT: '0', API_HOST: '127.0.0.1', NOTIFY_SMTP_URL: sink.url, NOTIFY_DIGEST_INTERVAL_MS: '200',
  // The roles' own concurrency defaults (32 and 64) unless set: what a deployment runs.
  ...(env.NOTIFY_CONCURRENCY && { NOTIFY_CONCURRENCY: env.NOTIFY_CONCURRENCY }),
  ...(env.WORKFLOW_RUNNER_CONCURRENCY && { WORKFLOW_RUNNER_CONCURRENCY: env.WORKFLOW_RUNNER_CONCURRENCY }), NOVA_DEMO: 'false',
};
const roles = 'api,notifications,workflow-runner';
let nova: NovaChild = await startNova(roles, novaEnv);
// Peak RSS of whichever Nova process runs (the digest phase replaces it); a reading of a process
// that just exited is skipped.
let peak = 0;
const sampler = setInterval(() => {
  const v = rssBytes(nova.child.pid);
  if (Number.isFinite(v)) peak = Math.max(peak, v);
}, 100);

// Delivery times by notification id, from the X-Nova-Notification header.
const accepted = new Map<number, number>();
sink.onMail((m) => {
  const id = /X-Nova-Notification: (\d+)/.exec(m.raw)?.[1];
  if (id) accepted.set(Number(id), m.receivedAt);
});

try {
  await store.upsertTemplate(db.sql, { key: 'b-email', channel: 'EMAIL', subject: 'Order {{ n }}', body: '<p>Order {{ n }} shipped</p>' });
  await store.upsertTemplate(db.sql, { key: 'b-inapp', channel: 'IN_APP', body: 'Order {{ n }} shipped' });
  await store.upsertTemplate(db.sql, { key: 'b-digest', channel: 'IN_APP', subject: '{{ digest.count }} updates', body: '{{ events.size }} events' });
  const email = await store.upsertWorkflow(db.sql, { key: 'bench-email', defaultChannels: ['EMAIL'], templates: { EMAIL: 'b-email' } });
  const both = await store.upsertWorkflow(db.sql, { key: 'bench-both', defaultChannels: ['EMAIL', 'IN_APP'], templates: { EMAIL: 'b-email', IN_APP: 'b-inapp' } });
  const inapp = await store.upsertWorkflow(db.sql, { key: 'bench-inapp', defaultChannels: ['IN_APP'], templates: { IN_APP: 'b-inapp' } });
  const digest = await store.upsertWorkflow(db.sql, { key: 'bench-digest', defaultChannels: ['IN_APP'], templates: { IN_APP: 'b-digest' }, digest: { windowMs: DIGEST_WINDOW_MS, maxEvents: 100_000 } });
  const subs: string[] = [];
  for (let i = 0; i < 100; i++) {
    const id = randomUUID();
    subs.push(id);
    await upsertSubscriber(db.sql, { subscriberId: id, email: `bench-${i}@example.com` });
  }
  const insertOne = (workflowId: number, recipient: string, n: number) => db.sql.query<{ id: number }>(
    `insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id, publish_status)
     select 'bench ' || $3 || ' ' || gen_random_uuid(), jsonb_build_object('n', $3::int), array[$1::uuid], w.default_channels, w.id, 'PUBLISH'
     from notify.ent_notification_workflow w where w.id = $2 returning id`,
    [recipient, workflowId, n],
  );

  // 0. cold start: the pool opens its connections (reported apart; phase 1 measures the warm process)
  if (COLD > 0) {
    const cold = new Map<number, number>();
    const rows = await Promise.all(Array.from({ length: COLD }, (_, i) => insertOne(email.id, subs[i % subs.length]!, i).then(([row]) => cold.set(row!.id, Date.now()))));
    const until = Date.now() + 60_000;
    while ([...cold.keys()].some((id) => !accepted.has(id)) && Date.now() < until) await sleep(20);
    const coldLat = [...cold].filter(([id]) => accepted.has(id)).map(([id, t]) => accepted.get(id)! - t);
    console.log(`cold start, ${rows.length} sends at once as the SMTP pool opens its connections (${coldLat.length}/${COLD}): p50 ${pct(coldLat, 50)} ms, max ${pct(coldLat, 100)} ms`);
  }

  // 1. latency: insert → SMTP accepted, on the warm process
  const inserted = new Map<number, number>();
  const cpu = () => [cpuMs(nova.child.pid), serverCpuMs(), (process.cpuUsage().user + process.cpuUsage().system) / 1000];
  const cpuPer = (before: (number | null)[], after: (number | null)[], n: number) => {
    const per = (i: number) => (before[i] === null ? '? (set BENCH_PG_PID_FILE)' : ((after[i]! - before[i]!) / n).toFixed(2));
    return `Nova ${per(0)}, PostgreSQL ${per(1)}, this process (SMTP sink, polling) ${per(2)}`;
  };
  const latencyCpu = cpu();
  const latencyFrom = performance.now();
  for (let i = 0; i < LATENCY; i++) {
    const [row] = await insertOne(email.id, subs[i % subs.length]!, i);
    inserted.set(row!.id, Date.now());
    await sleep(LATENCY_GAP_MS);
  }
  const insertRate = LATENCY / ((performance.now() - latencyFrom) / 1000);
  const deadline = Date.now() + 60_000;
  while ([...inserted.keys()].some((id) => !accepted.has(id)) && Date.now() < deadline) await sleep(20);
  const lat = [...inserted].filter(([id]) => accepted.has(id)).map(([id, t]) => accepted.get(id)! - t);
  console.log(`insert PENDING → SMTP accepted (${lat.length}/${LATENCY}, ${insertRate.toFixed(0)} inserts/s): p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms (targets 50 / 200)`);
  // One at a time, each notification pays for its statements alone (no batch shares them).
  console.log(`  CPU per notification (ms), one at a time: ${cpuPer(latencyCpu, cpu(), LATENCY)}`);

  // 2. throughput: one statement inserts BURST notifications of two channels each
  const cpuBefore = cpu();
  const t0 = Date.now();
  const burst = await db.sql.query<{ id: number }>(
    `insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id, publish_status)
     select 'burst ' || g, jsonb_build_object('n', g), array[($1::text[])[1 + g % 100]::uuid],
            array['EMAIL', 'IN_APP']::notify.notification_channel_type[], $2, 'PUBLISH'
     from generate_series(1, $3::int) g returning id`,
    [subs, both.id, BURST],
  );
  const first = burst[0]!.id;
  for (;;) {
    const [r] = await db.sql.query<{ n: number }>(
      `select count(*)::int as n from notify.ent_notification_delivery where notification_id >= $1 and status = 'SENT'`, [first]);
    if (r!.n >= BURST * 2 || Date.now() - t0 > 300_000) {
      const s = (Date.now() - t0) / 1000;
      console.log(`throughput: ${r!.n} deliveries (email + in-app) of ${BURST} notifications in ${s.toFixed(1)} s = ${Math.round(r!.n / s)} deliveries/s (target ≥ 1,000)`);
      console.log(`  CPU per notification (ms): ${cpuPer(cpuBefore, cpu(), BURST)}`);
      break;
    }
    await sleep(200);
  }

  // The burst's runs still finish (their last step, the notifications' status) after the last
  // delivery is SENT: phase 3 waits for that, so it measures an idle process, not the burst's tail.
  for (;;) {
    const [r] = await db.sql.query<{ n: number }>(
      `select count(*)::int as n from notify.ent_notification where id >= $1 and notification_status in ('PENDING', 'PROCESSING')`, [first]);
    if (r!.n === 0 || Date.now() - t0 > 300_000) {
      console.log(`  every notification of the burst SENT (its run finished) after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      break;
    }
    await sleep(50);
  }

  // 3. in-app over /ws
  const sub = subs[0]!;
  const ws = new WebSocket(`ws://127.0.0.1:${nova.apiPort}/ws`);
  const arrivals = new Map<number, number>();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as { type: string; event?: { type: string; data?: { notification_id?: number } } };
    const id = msg.event?.data?.notification_id;
    if (msg.event?.type === 'inbox.message' && id) arrivals.set(id, Date.now());
  });
  await new Promise<void>((resolve) => ws.on('open', () => resolve()));
  ws.send(JSON.stringify({ type: 'subscribe', topics: [`inbox:${sub}`] }));
  await sleep(300);
  const wsSent = new Map<number, number>();
  for (let i = 0; i < WS; i++) {
    const [row] = await insertOne(inapp.id, sub, i);
    wsSent.set(row!.id, Date.now());
    await sleep(10);
  }
  const wsDeadline = Date.now() + 30_000;
  while ([...wsSent.keys()].some((id) => !arrivals.has(id)) && Date.now() < wsDeadline) await sleep(20);
  const wsLat = [...wsSent].filter(([id]) => arrivals.has(id)).map(([id, t]) => arrivals.get(id)! - t);
  console.log(`in-app: insert → /ws inbox event (${wsLat.length}/${WS}): p50 ${pct(wsLat, 50)} ms, p99 ${pct(wsLat, 99)} ms`);
  ws.close();

  // 4. digest with a SIGKILL half-way (BENCH_DIGEST_EVENTS=0 skips it, e.g. to take a --cpu-prof
  // of the first process through BENCH_NODE_ARGS: a killed process writes no profile)
  if (DIGEST_EVENTS > 0) await digestPhase(digest.id);
  clearInterval(sampler);
  console.log(`peak RSS of the Nova process: ${mb(peak)} (target ≤ 150 MB)`);
} finally {
  await nova.stop().catch(() => {});
  await sink.stop();
  await db.drop();
}

async function digestPhase(digestId: number): Promise<void> {
  const dsubs = Array.from({ length: DIGEST_SUBS }, () => randomUUID());
  const half = Math.floor(DIGEST_EVENTS / 2);
  const insertDigest = (from: number, to: number) => db.sql.query(
    `insert into notify.ent_notification (name, payload, recipients, channels, notification_workflow_id, publish_status)
     select 'digest ' || g, jsonb_build_object('n', g), array[($1::text[])[1 + g % $4::int]::uuid], array['IN_APP']::notify.notification_channel_type[], $2, 'PUBLISH'
     from generate_series($3::int, $5::int) g`,
    [dsubs, digestId, from, DIGEST_SUBS, to],
  );
  const d0 = Date.now();
  await insertDigest(1, half);
  await sleep(1500);
  nova.child.kill('SIGKILL');
  await new Promise((r) => nova.child.once('exit', r));
  // The second half arrives while the process is down, so all events are made within a few
  // seconds (one window, when BENCH_DIGEST_WINDOW_MS is 10 s or more).
  await insertDigest(half + 1, DIGEST_EVENTS);
  console.log(`digest: notifications process killed (SIGKILL) half-way, events made in ${((Date.now() - d0) / 1000).toFixed(1)} s; starting it again`);
  nova = await startNova(roles, novaEnv);
  for (;;) {
    const [r] = await db.sql.query<{ events: number; open: number; pending: number; notified: number }>(
      `select (select count(*)::int from notify.ent_digest_event) as events,
              (select count(*)::int from notify.ent_digest_event where digest_id is null) as open,
              (select count(*)::int from notify.ent_digest where status = 'PENDING') as pending,
              (select count(*)::int from notify.ent_notification where notification_workflow_id = $1 and notification_status in ('PENDING', 'PROCESSING')) as notified`,
      [digestId],
    );
    if ((r!.events >= DIGEST_EVENTS && r!.open === 0 && r!.pending === 0 && r!.notified === 0) || Date.now() - d0 > 600_000) break;
    await sleep(500);
  }
  const [d] = await db.sql.query<{ digests: number; held: number; distinct_events: number; sent: number; per_sub_max: number }>(
    `select count(*)::int as digests, coalesce(sum(event_count), 0)::int as held,
            (select count(distinct id)::int from notify.ent_digest_event where digest_id is not null) as distinct_events,
            count(*) filter (where status = 'SENT')::int as sent,
            (select max(c)::int from (select count(*) as c from notify.ent_digest group by subscriber_id) x) as per_sub_max
     from notify.ent_digest`,
  );
  console.log(`digest: ${DIGEST_EVENTS} events for ${DIGEST_SUBS} subscribers → ${d!.digests} digests (${d!.sent} sent) holding ${d!.held} events ` +
    `(${d!.distinct_events} distinct; expected ${DIGEST_EVENTS}), at most ${d!.per_sub_max} digests per subscriber, in ${((Date.now() - d0) / 1000).toFixed(1)} s` +
    ` (window ${DIGEST_WINDOW_MS} ms)`);
}
