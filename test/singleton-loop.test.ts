import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { silentLogger } from '../src/log.ts';
import { EventHub } from '../src/queue/events.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { LoopContext, Services } from '../src/runtime/domain.ts';
import { Lease } from '../src/runtime/lease.ts';
import { PeriodicLoop } from '../src/runtime/loops.ts';
import { RateLimiter } from '../src/runtime/rate-limit.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { until } from './helpers/runtime.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Renewed every third: about every second, so a takeover is noticed within one. */
const TTL_MS = 3_000;

/**
 * A singleton loop that loses its lease: another holder takes it after it lapsed (the first was
 * paused past its TTL, say). The first holder's writes in flight are fenced by confirmLease, and
 * it stops running once its next renewal finds the lease gone.
 */
describe.each(backends)('a singleton loop losing leadership on $name', (backend) => {
  let db: TestDb;
  let services: Services;

  beforeAll(async () => {
    db = await backend.create();
    await db.sql.exec('create table loop_writes (id bigserial primary key, holder text not null, token bigint)');
    const events = new EventHub();
    services = {
      config: loadConfig({}), sql: db.sql, queue: new QueueClient(db.sql, events), events,
      rateLimiter: new RateLimiter(db.sql), processId: 'loop-test', log: silentLogger,
    };
  });
  afterAll(() => db?.drop());

  it('fences the writes of a run in flight, then stops running once another holder has the lease', async () => {
    let runs = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const fenced: boolean[] = [];
    const loop = new PeriodicLoop(
      {
        name: 'fenced', role: 'solo', intervalMs: 20, singleton: true,
        async run(ctx: LoopContext) {
          runs++;
          // The first run stands for a holder paused past its TTL: it writes only after the takeover.
          if (runs === 1) await gate;
          await db.sql.transaction(async (tx) => {
            const held = await ctx.confirmLease(tx);
            if (runs === 1) fenced.push(!held);
            if (held) await tx.query('insert into loop_writes (holder, token) values ($1, $2)', ['a', ctx.leaseToken]);
          });
        },
      },
      { sql: db.sql, holder: 'a', leaseTtlMs: TTL_MS, log: silentLogger, services },
    );
    loop.start();
    try {
      await until(async () => runs === 1, 10_000, 'first run started');
      expect(loop.status().leader).toBe(true);

      // The lease lapses and another process takes it, with a new fencing token.
      await db.sql.query(`update nova_leases set expires_at = now() - interval '1 second' where name = 'loop:fenced'`);
      const successor = new Lease(db.sql, 'loop:fenced', 'b', 60_000);
      expect(await successor.acquire()).toBe(true);

      release();
      await until(async () => fenced.length === 1, 5_000, 'first run finished');
      expect(fenced).toEqual([true]);
      expect(await db.sql.query('select holder from loop_writes')).toEqual([]);

      // The next renewal finds the lease taken: the loop steps down and runs no more.
      await until(async () => !loop.status().leader, TTL_MS, 'leadership lost');
      const stoppedAt = runs;
      await sleep(300);
      expect(runs).toBe(stoppedAt);
      expect(await db.sql.query('select holder from loop_writes')).toEqual([]);
      const [row] = await db.sql.query<{ holder: string; token: number }>(`select holder, token from nova_leases where name = 'loop:fenced'`);
      expect(row).toEqual({ holder: 'b', token: successor.heldToken });
    } finally {
      release();
      await loop.stop(1_000);
    }
  });
});
