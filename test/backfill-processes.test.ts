import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { spawnNova, type NovaProcess } from './helpers/process.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/**
 * Backfill roles in separate OS processes (the real CLI) on the PostgreSQL server: a discovery
 * worker killed between pages, and completion monitors racing for the same backfills.
 */
const server = backends.find((b) => b.multiProcess);
const DAY = 86_400_000;
// Yesterday at midnight UTC: every window below reaches back at most 300 days from the real now.
const NOW = Math.floor(Date.now() / DAY) * DAY - DAY;

describe.runIf(server)('Backfill roles in separate processes', () => {
  let db: TestDb;
  let emulator: NylasEmulator;
  let runtime: Runtime;
  let api: string;
  let env: Record<string, string>;
  const procs = new Set<NovaProcess>();

  beforeAll(async () => {
    db = await server!.create();
    emulator = new NylasEmulator({ apiKey: 'key-1', threadsPerGrant: 60, messagesPerThread: 2, now: NOW });
    await emulator.start();
    env = {
      ...db.env,
      NYLAS_API_KEY: 'key-1',
      NYLAS_API_URI: emulator.url,
      NYLAS_RATE_LIMIT_PER_SECOND: '1000',
      NYLAS_RATE_LIMIT_BURST: '1000',
      BACKFILL_PAGE_SIZE: '5',
      VISIBILITY_TIMEOUT: '2',
      NOVA_LEASE_TTL_MS: '1000',
      COMPLETION_CHECK_INTERVAL_MS: '50',
      POLL_INTERVAL_MS: '200',
    };
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await runtime?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  const start = async (roles: string) => {
    const proc = spawnNova(['start', roles], env, 'src/cli/main.ts');
    procs.add(proc);
    await proc.waitFor(/Nova started/);
    return proc;
  };
  const kill = async (proc: NovaProcess) => {
    proc.child.kill('SIGKILL');
    await proc.exited;
    procs.delete(proc);
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}),
    });
    return (await res.json()) as any;
  };
  const progress = async (configId: string) => (await fetch(`${api}/api/backfills/${configId}`)).json() as Promise<any>;
  const backfill = async (grantId: string, days: number) => {
    const { inbox, configId } = await call('POST', '/api/inboxes', { grantId });
    await call('POST', `/api/inboxes/${inbox.id}/backfill`, {
      since: new Date(NOW - days * DAY).toISOString(), until: new Date(NOW).toISOString(),
    });
    return configId as string;
  };

  it('a discovery worker killed between pages is resumed from its checkpoint by another, with no duplicates', async () => {
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    // This process serves the API and syncs threads; discovery runs only in the spawned workers.
    runtime = await startRuntime(db, domains, { ...env, WORKER_TYPE: 'api,threads,completion', PORT: String(port), API_HOST: '127.0.0.1' });
    const first = await start('backfill');
    emulator.setFaults({ latencyMs: 150 });
    const before = emulator.stats().requests;
    const configId = await backfill('grant-killed', 300);
    await until(async () => ((await progress(configId)).backfillProgress.discovery?.pages ?? 0) >= 2, 20_000, 'two pages saved');
    await kill(first);
    const savedPages = (await progress(configId)).backfillProgress.discovery.pages as number;
    emulator.setFaults({});
    await start('backfill');
    await until(async () => (await progress(configId)).backfillStatus === 'completed', 30_000, 'backfill completed');

    const want = emulator.listThreads('grant-killed').filter((t) => {
      const at = t.latest_message_received_date! * 1000;
      return at >= NOW - 300 * DAY && at < NOW;
    });
    const p = await progress(configId);
    const pages = Math.ceil(want.length / 5);
    expect(savedPages).toBeLessThan(pages);
    expect(p).toMatchObject({ threadsTotal: want.length, threadsCompleted: want.length, messagesSynced: want.length * 2 });
    expect(p.backfillProgress.discovery.pages).toBe(pages);
    const [dupes] = await db.sql.query<{ n: number }>(
      `select count(*)::int - count(distinct thread_id)::int as n from queued_threads where config_id = $1`, [configId]);
    expect(dupes?.n).toBe(0);
    // Each thread costs one request; the rest are list pages: every page once, plus at most the
    // one that was in flight when the worker died (its transaction never committed).
    const listRequests = emulator.stats().requests - before - want.length;
    expect(listRequests).toBeGreaterThanOrEqual(pages);
    expect(listRequests).toBeLessThanOrEqual(pages + 1);
  });

  it('two completion processes never both mark the same backfill, even when the leader dies', async () => {
    await runtime.stop();
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    runtime = await startRuntime(db, domains, { ...env, WORKER_TYPE: 'api,backfill,threads', PORT: String(port), API_HOST: '127.0.0.1' });
    const monitors = [await start('completion'), await start('completion')];
    const configs: string[] = [];
    for (let i = 0; i < 6; i++) {
      configs.push(await backfill(`grant-race-${i}`, 100 + i * 30));
      // Halfway through, the monitor holding the lease dies; the other takes over.
      if (i === 2) {
        const leader = await db.sql.query<{ holder: string }>(`select holder from nova_leases where name = 'loop:backfill-completion'`);
        const victim = monitors.find((m) => leader[0] && m.child.pid !== undefined && leader[0].holder.includes(`:${m.child.pid}:`));
        expect(victim, 'the lease holder is one of the two monitors').toBeDefined();
        await kill(victim!);
      }
    }
    await until(async () => {
      const done = await Promise.all(configs.map(async (c) => (await progress(c)).backfillStatus));
      return done.every((s) => s === 'completed');
    }, 40_000, 'every backfill completed');
    const marks = await db.sql.query<{ config_id: string; n: number }>(
      `select config_id, count(*)::int as n from backfill_history where event = 'completed' and config_id = any($1::uuid[]) group by config_id`, [configs]);
    expect(marks).toHaveLength(configs.length);
    expect(marks.every((m) => m.n === 1)).toBe(true);
  });
});
