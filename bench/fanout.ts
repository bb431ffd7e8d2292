/**
 * WebSocket fan-out benchmark. Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:fanout
 *
 * A built Nova process runs the `api` role (which serves /ws) on a scratch database. This process
 * opens BENCH_CLIENTS WebSocket clients, each subscribed to one backfill's topic, then plays a
 * `threads` worker: it publishes BENCH_EVENTS backfill progress events at BENCH_RATE per second
 * through the database (NOTIFY), as a worker does after each commit. Each client notes when
 * each event arrives; delivery latency = arrival - the event's `at` (set when it was emitted,
 * right after the commit it reports).
 *
 * Env: BENCH_CLIENTS (1000), BENCH_EVENTS (200), BENCH_RATE (20), REDIS_URL (optional: events
 * travel over Redis instead of NOTIFY, for both sides).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { EventHub } from '../src/queue/events.ts';
import { redisTransport } from '../src/runtime/redis-events.ts';
import { envInt, cpuMs, mb, peakRss, scratchDatabase, startNova } from './support.ts';

const env = process.env;
const int = envInt;
const CLIENTS = int('BENCH_CLIENTS', 1000);
const EVENTS = int('BENCH_EVENTS', 200);
const RATE = int('BENCH_RATE', 20);
const TOPIC = 'backfill:00000000-0000-4000-8000-000000000001';

if (!env.DATABASE_URL) {
  console.error('bench:fanout needs DATABASE_URL (the publisher and the api process share the database)');
  process.exit(2);
}

const db = await scratchDatabase(env.DATABASE_URL);
const api = await startNova('api', {
  DATABASE_URL: db.url, PORT: '0', API_HOST: '127.0.0.1', ...(env.REDIS_URL && { REDIS_URL: env.REDIS_URL }),
});
const rss = peakRss(() => [api.child.pid]);
const hub = new EventHub();
const redis = env.REDIS_URL ? await redisTransport(env.REDIS_URL) : undefined;
await hub.connect(redis ?? db.sql);

try {
  const latencies: number[] = [];
  const received = new Array<number>(CLIENTS).fill(0);
  const sockets: WebSocket[] = [];
  const connectStarted = Date.now();
  for (let i = 0; i < CLIENTS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${api.apiPort}/ws`);
    sockets.push(ws);
    ws.on('message', (data) => {
      // The client side shares the cores with what it measures: read `at` without parsing the frame.
      const text = data.toString();
      if (!text.startsWith('{"type":"event"')) return;
      const at = Number(/"at":(\d+)/.exec(text)?.[1]);
      latencies.push(Date.now() - at);
      received[i]!++;
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topics: [TOPIC] })));
    // Open in waves, so the accept queue never overflows.
    if (i % 100 === 99) await sleep(20);
  }
  await Promise.all(sockets.map((ws) => (ws.readyState === WebSocket.OPEN ? undefined : new Promise((r) => ws.once('open', r)))));
  await sleep(500); // subscriptions settle
  console.log(`${CLIENTS} clients connected and subscribed in ${((Date.now() - connectStarted) / 1000).toFixed(1)} s`);

  const cpu0 = cpuMs(api.child.pid);
  const started = Date.now();
  for (let n = 1; n <= EVENTS; n++) {
    hub.emit({ type: 'backfill.progress', topic: TOPIC, data: { configId: TOPIC.slice(9), status: 'thread_sync', completed: n, queued: EVENTS }, at: Date.now() });
    const due = started + (n * 1000) / RATE;
    await sleep(Math.max(0, due - Date.now()));
  }
  const expected = CLIENTS * EVENTS;
  const deadline = Date.now() + 10_000;
  while (latencies.length < expected && Date.now() < deadline) await sleep(50);
  const cpu = cpuMs(api.child.pid) - cpu0;

  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  const complete = received.filter((r) => r === EVENTS).length;
  console.log(`${EVENTS} events at ${RATE}/s to ${CLIENTS} clients over ${redis ? 'Redis' : 'NOTIFY'}: ${latencies.length} of ${expected} deliveries; ${complete} clients got every event`);
  console.log(`  delivery after commit: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1)} ms`);
  console.log(`  api process: CPU ${(cpu / 1000).toFixed(1)} s for ${((Date.now() - started) / 1000).toFixed(1)} s, peak RSS ${mb(rss.stop())}`);
  for (const ws of sockets) ws.terminate();
} finally {
  await hub.disconnect();
  await redis?.close();
  await api.stop();
  await db.drop();
}
