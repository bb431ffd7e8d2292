import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate } from '../src/storage/index.ts';
import { MIGRATION_LOCK_KEY } from '../src/storage/migrate.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { until } from './helpers/runtime.ts';

/**
 * A restart on a current schema reads which migrations ran and does nothing else: no migration
 * lock, no DDL (start-up time, issue 12). A schema that lacks one still waits for the lock.
 */
describe.each(backends)('migrate on a current schema on $name', (backend) => {
  let db: TestDb;

  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('applies nothing again, and applies a new migration once', async () => {
    expect(await migrate(db.sql)).toEqual([]);
    const extra = [...loadMigrations(), { id: 9001, name: '9001_test_extra', script: 'create table migrate_extra (id int)' }];
    expect(await migrate(db.sql, extra)).toEqual(['9001_test_extra']);
    expect(await migrate(db.sql, extra)).toEqual([]);
    expect(await db.sql.query(`select name from nova_migrations where id = 9001`)).toEqual([{ name: '9001_test_extra' }]);
  });

  // A lock held by another process needs a second connection: PostgreSQL only (PGlite has one).
  if (backend.multiProcess) it('takes no lock when current: a held migration lock does not delay it', async () => {
    const other = await db.connect();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    // Another process migrating right now: it holds the lock until released.
    let locked!: () => void;
    const holding = new Promise<void>((r) => (locked = r));
    const holder = other.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      locked();
      await released;
    });
    try {
      await holding;
      const started = Date.now();
      expect(await migrate(db.sql)).toEqual([]);
      expect(Date.now() - started).toBeLessThan(2000);
      // With one migration missing it waits for the holder, as before.
      const extra = [...loadMigrations(), { id: 9002, name: '9002_test_waits', script: 'select 1' }];
      let done = false;
      const pending = migrate(db.sql, extra).then((applied) => {
        done = true;
        return applied;
      });
      // It is queued behind the holder's lock (seen in pg_locks), not finished.
      await until(async () => (await other.query<{ n: number }>(
        `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`))[0]!.n > 0, 5000, 'migrate waiting for the lock');
      expect(done).toBe(false);
      release();
      expect(await pending).toEqual(['9002_test_waits']);
    } finally {
      release();
      await holder;
    }
  });
});
