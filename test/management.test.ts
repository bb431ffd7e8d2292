import { randomBytes } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { domains } from '../src/domains.ts';
import { PermanentFailure } from '../src/queue/errors.ts';
import type { NovaEvent } from '../src/queue/events.ts';
import { defineQueue, type Domain } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';
import { FIXTURE_TABLE } from './fixtures/worker.ts';

const TOKEN = 'test-token-0123456789';

/** A queue whose jobs fail for good while `failing` is on, and one whose jobs wait to be released. */
const control = { failing: true, release: () => {} };
const opsDomain: Domain = {
  name: 'ops-test',
  roles: ['ops-test'],
  queues: [
    defineQueue({
      name: 'ops.flaky',
      role: 'ops-test',
      concurrency: 4,
      async handler() {
        if (control.failing) throw new PermanentFailure('flaky says no');
      },
    }),
    defineQueue({
      name: 'ops.slow',
      role: 'ops-test',
      async handler() {
        await new Promise<void>((resolve) => (control.release = resolve));
      },
    }),
  ],
};

describe.each(backends)('management API and fan-out on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let base: string;
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    db = await backend.create();
    const port = await freePort();
    base = `127.0.0.1:${port}`;
    runtime = await startRuntime(db, [...domains, opsDomain], {
      WORKER_TYPE: 'api,ops-test', PORT: String(port), API_HOST: '127.0.0.1', NOVA_API_TOKEN: TOKEN, POLL_INTERVAL_MS: '100',
    }, { health: true });
  });
  afterAll(async () => {
    control.release();
    await runtime?.stop();
    await db?.drop();
  });

  const api = async (method: string, path: string, headers: Record<string, string> = auth) => {
    const res = await fetch(`http://${base}${path}`, { method, headers });
    return { status: res.status, body: (await res.json()) as any };
  };
  const socket = (query = `?token=${TOKEN}`) => {
    const ws = new WebSocket(`ws://${base}/ws${query}`);
    const frames: any[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    const open = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    const subscribe = async (...topics: string[]) => {
      ws.send(JSON.stringify({ type: 'subscribe', topics }));
      await until(() => frames.some((f) => f.type === 'subscribed' && topics.every((t) => f.topics.includes(t))), 5000, 'subscribed');
    };
    return { ws, frames, open, subscribe, events: () => frames.filter((f) => f.type === 'event').map((f) => f.event as NovaEvent) };
  };

  it('requires the token on /api routes and /ws when it is set, not on webhooks', async () => {
    expect((await api('GET', '/api/queues', {})).status).toBe(401);
    expect((await api('GET', '/api/queues', { authorization: 'Bearer wrong-token-0000000000' })).status).toBe(401);
    expect((await api('GET', '/api/queues')).status).toBe(200);
    // The router decodes percent-escapes: an encoded path must not slip past the check.
    expect((await api('GET', '/%61pi/queues', {})).status).toBe(401);
    expect((await api('POST', '/%61pi/queues/ops.flaky/redrive', {})).status).toBe(401);
    const challenge = await fetch(`http://${base}/webhooks/nylas?challenge=abc`);
    expect(await challenge.text()).toBe('abc');
    await expect(socket('').open).rejects.toThrow(/401/);
    const ok = socket();
    await ok.open;
    ok.ws.close();
  });

  it('lists queues and jobs, retries and deletes jobs, redrives dead letters', async () => {
    control.failing = true;
    const queue = runtime.service.queue;
    const [a, b] = [await queue.send('ops.flaky', { n: 1 }), await queue.send('ops.flaky', { n: 2 })];
    await until(async () => (await api('GET', '/api/queues/ops.flaky')).body.dead === 2, 10_000, 'two dead letters');

    const dead = await api('GET', '/api/queues/ops.flaky/jobs?state=dead');
    expect(dead.body.jobs.map((j: any) => j.id)).toEqual([b, a]);
    expect(dead.body.jobs[0]).toMatchObject({ state: 'dead', payload: { n: 2 }, lastError: { message: 'flaky says no' } });
    const page = await api('GET', '/api/queues/ops.flaky/jobs?state=dead&limit=1');
    expect(page.body).toMatchObject({ jobs: [{ id: b }], next: b });
    expect((await api('GET', `/api/queues/ops.flaky/jobs?state=dead&limit=1&before=${b}`)).body.jobs[0].id).toBe(a);
    expect((await api('GET', '/api/queues/ops.flaky/jobs?state=sideways')).status).toBe(400);
    expect((await api('GET', '/api/queues/nope/jobs')).status).toBe(404);

    control.failing = false;
    const retried = await api('POST', `/api/jobs/${a}/retry`);
    expect(retried.status).toBe(200);
    await until(async () => (await api('GET', `/api/jobs/${a}`)).body.state === 'completed', 10_000, 'retried job completed');
    expect((await api('POST', `/api/jobs/${a}/retry`)).status).toBe(409);

    control.failing = true;
    const c = await queue.send('ops.flaky', { n: 3 });
    await until(async () => (await api('GET', '/api/queues/ops.flaky')).body.dead === 2, 10_000, 'third dead letter');
    control.failing = false;
    const redriven = await api('POST', '/api/queues/ops.flaky/redrive');
    expect(redriven.body).toMatchObject({ redriven: 2 });
    expect(redriven.body.ids.sort()).toEqual([b, c].sort());
    await until(async () => (await api('GET', '/api/queues/ops.flaky')).body.completed === 3, 10_000, 'redriven jobs completed');
    const stats = (await api('GET', '/api/queues/ops.flaky')).body;
    expect(stats).toMatchObject({ name: 'ops.flaky', dead: 0, completed: 3, waiting: 0, active: 0 });
    expect(stats.throughputPerMinute).toBeGreaterThanOrEqual(5);

    const later = await queue.send('ops.flaky', { n: 4 }, { delayMs: 60_000 });
    const scheduled = await api('GET', '/api/queues/ops.flaky/jobs?state=scheduled');
    expect(scheduled.body.jobs).toMatchObject([{ id: later, state: 'scheduled', scheduledReason: 'delayed', retryable: true }]);
    // The old name still answers, as the scheduled jobs it meant.
    expect((await api('GET', '/api/queues/ops.flaky/jobs?state=delayed')).body.jobs.map((j: any) => j.id)).toEqual([later]);
    expect((await api('GET', '/api/queues/ops.flaky/jobs?state=scheduled&reason=retry')).body.jobs).toEqual([]);
    expect((await api('GET', '/api/queues/ops.flaky')).body).toMatchObject({ scheduled: 1, scheduledReasons: { delayed: 1, retry: 0 } });
    expect((await api('DELETE', `/api/jobs/${later}`)).body).toEqual({ deleted: true });
    expect((await api('GET', `/api/jobs/${later}`)).status).toBe(404);

    const running = await queue.send('ops.slow', {});
    await until(async () => (await api('GET', `/api/jobs/${running}`)).body.state === 'active', 10_000, 'slow job running');
    expect((await api('DELETE', `/api/jobs/${running}`)).status).toBe(409);
    control.release();

    const seed = (await api('GET', '/api/queue/stats')).body;
    expect(seed.success).toBe(true);
    expect(seed.stats['ops.flaky']).toEqual({ waiting: 0, active: 0, completed: 3, failed: 0 });
  });

  it('lists this process among the workers, with its roles and ports', async () => {
    const { workers } = (await api('GET', '/api/workers')).body;
    const me = workers.find((w: any) => w.id === runtime.processId);
    expect(me).toMatchObject({ pid: process.pid, roles: expect.arrayContaining(['api', 'ops-test']), alive: true, apiPort: runtime.apiPort, healthPort: runtime.healthPort });
  });

  it('streams job events to subscribers of their topics only', async () => {
    const watcher = socket();
    const other = socket();
    await Promise.all([watcher.open, other.open]);
    await watcher.subscribe('queue:ops.flaky');
    await other.subscribe('queue:ops.slow');
    const id = await runtime.service.queue.send('ops.flaky', { n: 5 });
    // The producer publishes `enqueued` when its insert returns, the consumer `started` when its
    // claim does: two connections, so either may come first (the consumer can be another process).
    const types = () => watcher.events().filter((e) => e.ids?.includes(id)).map((e) => e.type);
    await until(() => types().includes('completed') && types().includes('enqueued'), 10_000, 'enqueued and completed events');
    expect([...types()].sort()).toEqual(['completed', 'enqueued', 'started']);
    expect(types().indexOf('started')).toBeLessThan(types().indexOf('completed'));
    expect(other.events().some((e) => e.queue === 'ops.flaky')).toBe(false);
    watcher.ws.send('not json');
    await until(() => watcher.frames.some((f) => f.type === 'error'), 5000, 'error frame');
    watcher.ws.close();
    other.ws.close();
  });

  it('drops a client that stops reading, while the others keep receiving', async () => {
    const healthy = socket();
    await healthy.open;
    await healthy.subscribe('backfill:flood');
    const stalled = await stalledClient(base, TOKEN, 'backfill:flood');
    const blob = randomBytes(48 * 1024).toString('base64');
    const total = 300; // about 20 MB: more than the kernel's socket buffers and the 1 MB allowance
    for (let i = 0; i < total; i++) {
      runtime.service.events.emit({ type: 'backfill.progress', topic: 'backfill:flood', data: { i, blob }, at: Date.now() });
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await until(() => healthy.events().length === total, 20_000, 'every event at the healthy client');
    // Reading again drains what the kernel held, then meets the end the server sent when it dropped it.
    stalled.resume();
    await until(() => stalled.closed, 10_000, 'stalled client dropped');
    expect(healthy.events().map((e) => (e.data as { i: number }).i)).toEqual([...Array(total).keys()]);
    healthy.ws.close();
  });
});

describe.runIf(backends.some((b) => b.multiProcess))('fan-out across processes', () => {
  it('delivers to a WebSocket client the events of a job processed by another process', async () => {
    const db = await backends.find((b) => b.multiProcess)!.create();
    const port = await freePort();
    const runtime = await startRuntime(db, domains, { WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1' });
    await db.sql.exec(FIXTURE_TABLE);
    const worker = spawnNova(['start', 'sleeper'], db.env);
    try {
      await worker.waitFor(/Nova started/);
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      const events: NovaEvent[] = [];
      ws.on('message', (d) => {
        const f = JSON.parse(d.toString());
        if (f.type === 'event') events.push(f.event);
      });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'subscribe', topics: ['queue:fixture.sleep'] }));
      await new Promise((r) => setTimeout(r, 200));
      const id = await runtime.service.queue.send('fixture.sleep', { ms: 10 });
      await until(() => events.some((e) => e.type === 'completed' && e.ids?.includes(id)), 15_000, 'completed event from the other process');
      expect(events.filter((e) => e.ids?.includes(id)).map((e) => e.type)).toEqual(['enqueued', 'started', 'completed']);
      ws.close();
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
      await runtime.stop();
      await db.drop();
    }
  });
});

/** A WebSocket client that subscribes, then never reads again (its socket is paused). */
async function stalledClient(base: string, token: string, topic: string): Promise<{ closed: boolean; resume(): void }> {
  const [host, port] = base.split(':');
  const state = { closed: false, resume: () => void sock.resume() };
  const sock = connectTcp(Number(port), host!);
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.write(
    `GET /ws?token=${token} HTTP/1.1\r\nHost: ${base}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await new Promise<void>((resolve) => sock.once('data', () => resolve()));
  // One masked text frame, as clients must send.
  const payload = Buffer.from(JSON.stringify({ type: 'subscribe', topics: [topic] }));
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  await new Promise((r) => setTimeout(r, 200));
  sock.pause();
  sock.on('close', () => (state.closed = true));
  sock.on('end', () => (state.closed = true));
  sock.on('error', () => (state.closed = true));
  return state;
}
