import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Domain } from '../src/runtime/domain.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { until } from './helpers/runtime.ts';

/** The seed's operating habits at the runtime edge: TESTING_MODE and the log lines it relied on. */
describe.each(backends)('seed habits in the runtime on $name', (backend) => {
  let db: TestDb;
  let q: QueueClient;
  beforeAll(async () => {
    db = await backend.create();
    q = new QueueClient(db.sql);
  });
  afterAll(() => db.drop());

  async function start(domain: Domain, env: Record<string, string>, lines: string[] = []): Promise<Runtime> {
    const config = loadConfig({ POLL_INTERVAL_MS: '200', WORKER_HEALTH_PORT: '0', ...db.env, ...env });
    const logger = createLogger({ level: config.LOG_LEVEL, format: 'pretty', write: (l) => lines.push(l) });
    const runtime = new Runtime({ config, domains: [domain], logger, health: false, ...(config.DATABASE_URL ? {} : { sql: db.sql }) });
    await runtime.start();
    return runtime;
  }

  it('TESTING_MODE processes a job but leaves it queued, due again after the visibility timeout', async () => {
    const runs: number[] = [];
    const domain: Domain = { name: 't', roles: ['t'], queues: [{ name: 'testing-mode', role: 't', handler: async (_p, ctx) => void runs.push(ctx.job.id) }] };
    const id = await q.send('testing-mode', { n: 1 });
    const runtime = await start(domain, { TESTING_MODE: 'true', VISIBILITY_TIMEOUT: '60' });
    try {
      await until(() => runs.length === 1, 10_000, 'handler ran');
      await until(async () => (await db.sql.query<{ state: string }>('select state from nova_jobs where id = $1', [id]))[0]?.state === 'queued', 10_000, 'job handed back');
    } finally {
      await runtime.stop();
    }
    const [job] = await db.sql.query<{ attempts: number; due_in: number }>(
      `select attempts, extract(epoch from run_at - now())::int as due_in from nova_jobs where id = $1`, [id]);
    expect(job!.attempts).toBe(0);
    expect(job!.due_in).toBeGreaterThan(50);
    expect((await q.metrics('testing-mode')).completed).toBe(0);
    expect(runs).toEqual([id]);
  });

  it('logs per-job start and outcome with durations and each poll at debug, and a queue health line', async () => {
    const lines: string[] = [];
    const HEALTH = /\[Loop:nova:queue-health\] habits: waiting \d+, scheduled \d+, active \d+, dead \d+, \d+\/min; here 0 running, 1 done, 1 failed/;
    const domain: Domain = {
      name: 'h', roles: ['h'],
      queues: [{
        name: 'habits', role: 'h', retry: { maxAttempts: 1 },
        handler: async (p: { fail?: boolean }) => {
          if (p.fail) throw new Error('boom');
        },
      }],
    };
    await q.send('habits', { fail: false });
    await q.send('habits', { fail: true });
    const runtime = await start(domain, { LOG_LEVEL: 'debug', NOVA_QUEUE_HEALTH_LOG_MS: '200' }, lines);
    try {
      // Generous: under a full suite's load PGlite took over 10 s once (the wait ends as soon as the line shows).
      await until(() => lines.some((l) => HEALTH.test(l)), 30_000, 'health line after both jobs ran').catch((err: Error) => {
        throw new Error(`${err.message}; last health line: ${lines.filter((l) => l.includes('queue-health')).at(-1) ?? 'none'}`);
      });
    } finally {
      await runtime.stop();
    }
    expect(lines.some((l) => /\[Queue:habits\] processing .*jobId=/.test(l))).toBe(true);
    expect(lines.some((l) => /\[Queue:habits\] processed in \d+ms/.test(l))).toBe(true);
    expect(lines.some((l) => /\[Queue:habits\] polled: \d+ of \d+ job/.test(l))).toBe(true);
    expect(lines.some((l) => /\[Queue:habits\] failed in \d+ms jobId=\d+ error=.*boom/.test(l))).toBe(true);
  });
});
