import postgres from 'postgres';
import { describe, expect, inject, it } from 'vitest';
import { reconnectDelayS } from '../src/storage/postgres.ts';

const url = inject('testDatabaseUrl');

describe('the PostgreSQL driver', () => {
  // postgres.js 3.4.9 throws from a timer when a write is buffered for a connection that has
  // closed, which no caller can catch: the process dies (porsager/postgres#1154, #1208; found by
  // `npm run chaos` during database restarts). patches/postgres+3.4.9.patch settles the query
  // instead; this fails, with an uncaught TypeError, where the patch is not applied.
  it.runIf(url)('rejects a query on a connection whose server went away instead of crashing the process', async () => {
    const sql = postgres(url!, { max: 2, onnotice: () => {} });
    const admin = postgres(url!, { max: 1, onnotice: () => {} });
    try {
      const reserved = await sql.reserve();
      const [row] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await admin`select pg_terminate_backend(${row!.pid})`;
      // Let the client see the close before the next query is written.
      await new Promise((r) => setTimeout(r, 200));
      await expect(reserved`select 1`).rejects.toThrow(/CONNECTION_CLOSED/);
    } finally {
      await admin.end();
      await sql.end({ timeout: 1 });
    }
  });

  it('reconnects within about a second after an outage, however many retries the pool counted', () => {
    for (const retries of [0, 1, 2, 3, 10, 100]) {
      const s = reconnectDelayS(retries);
      expect(s).toBeGreaterThan(0);
      expect(s).toBeLessThanOrEqual(1);
    }
    expect(reconnectDelayS(0)).toBeLessThanOrEqual(0.1);
  });
});
