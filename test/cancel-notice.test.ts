import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueClient } from '../src/queue/queue.ts';
import { defineDomain, defineQueue } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

// A cancel reaches the process running the job through its own notification, not through the
// event stream: a worker process does not listen to every event of every process, and a cancel
// sent by a client with no event hub at all (another process's API, the CLI) still aborts the
// handler at once. The lease here is two minutes, so the heartbeat's check (every 40 s) cannot be
// what stops it.

describe.each(backends)('cancel notices on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let running: number | undefined;
  const aborted: number[] = [];
  const domain = defineDomain({
    name: 'cancel-test',
    roles: ['cancel-test'],
    queues: [
      defineQueue({
        name: 'c-wait', role: 'cancel-test',
        handler: async (_p: unknown, ctx) => {
          running = ctx.job.id;
          await new Promise<void>((_resolve, reject) => ctx.signal.addEventListener('abort', () => {
            aborted.push(ctx.job.id);
            reject(ctx.signal.reason);
          }, { once: true }));
        },
      }),
    ],
  });

  beforeAll(async () => {
    db = await backend.create();
    runtime = await startRuntime(db, [domain], { VISIBILITY_TIMEOUT: '120' });
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  it('aborts a running handler at once on a cancel from a client without events', async () => {
    const client = new QueueClient(db.sql);
    const id = await client.send('c-wait', {});
    await until(() => running === id, 10_000, 'handler running');
    const before = Date.now();
    expect(await client.cancel(id)).toBe('cancelling');
    await until(async () => (await client.getJob(id))?.state === 'cancelled', 10_000, 'cancelled');
    expect(aborted).toEqual([id]);
    expect(Date.now() - before).toBeLessThan(5_000);
  });

  it('keeps a worker process off the event stream', () => {
    // Nothing in a worker-only process listens to events, so it does not LISTEN for them.
    expect(runtime.service.events.listening).toBeUndefined();
  });
});
