import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeGrownTables } from '../src/storage/statistics.ts';
import { backends, type TestDb } from './helpers/db.ts';

// The `nova:analyze` loop's choice: a table of the list is analyzed once it is at least 128 kB
// and more than twice the size of its last statistics, so plans made for an empty table do not
// outlive its growth; a table that did not grow is left alone.

describe.each(backends)('planner statistics on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
    await db.sql.exec(`
      create table stats_probe (id int primary key, pad text);
      create schema stats_other;
      create table stats_other.wide (id int primary key, pad text);
      create table stats_untouched (id int primary key, pad text);`);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const fill = (table: string, from: number, to: number) =>
    db.sql.query(`insert into ${table} select g, repeat('x', 200) from generate_series($1::int, $2::int) g`, [from, to]);
  const pages = async (table: string) =>
    (await db.sql.query<{ relpages: number }>(`select relpages from pg_class where oid = to_regclass($1)`, [table]))[0]!.relpages;
  const tables = ['stats_probe', 'stats_other.wide', 'stats_untouched', 'no_such_table'];

  it('analyzes the tables that outgrew their statistics, once each time they double', async () => {
    // Small tables are left to autovacuum.
    await fill('stats_probe', 1, 20);
    expect((await analyzeGrownTables(db.sql, tables)).analyzed).toEqual([]);

    await fill('stats_probe', 21, 2000);
    await fill('stats_other.wide', 1, 2000);
    expect(await pages('stats_probe')).toBe(0); // never analyzed: no statistics
    expect((await analyzeGrownTables(db.sql, tables)).analyzed).toEqual(['public.stats_probe', 'stats_other.wide']);
    const analyzed = await pages('stats_probe');
    expect(analyzed).toBeGreaterThanOrEqual(16);
    expect((await analyzeGrownTables(db.sql, tables)).analyzed).toEqual([]);

    // Half as large again is not enough; past twice its analyzed size it goes again.
    await fill('stats_probe', 2001, 3000);
    expect((await analyzeGrownTables(db.sql, tables)).analyzed).toEqual([]);
    await fill('stats_probe', 3001, 4500);
    expect((await analyzeGrownTables(db.sql, tables)).analyzed).toEqual(['public.stats_probe']);
    expect(await pages('stats_probe')).toBeGreaterThan(2 * analyzed);
  });
});

// A table another session holds a lock on (a vacuum, a migration, an operator's `create index
// concurrently`) is left for the next round instead of holding the loop and a connection. Two
// sessions at once: the server only.
describe.each(backends.filter((b) => b.multiProcess))('planner statistics behind a lock on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
    await db.sql.exec('create table stats_locked (id int primary key, pad text)');
    await db.sql.query(`insert into stats_locked select g, repeat('x', 200) from generate_series(1, 2000) g`);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('gives way to a lock and analyzes the table once it is free', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holder = db.sql.transaction(async (tx) => {
      await tx.exec('lock table stats_locked in share update exclusive mode');
      locked();
      await held;
    });
    await isLocked;
    const started = Date.now();
    expect(await analyzeGrownTables(db.sql, ['stats_locked'])).toEqual({ analyzed: [], skipped: ['public.stats_locked'] });
    expect(Date.now() - started).toBeLessThan(5_000);
    release();
    await holder;
    expect(await analyzeGrownTables(db.sql, ['stats_locked'])).toEqual({ analyzed: ['public.stats_locked'], skipped: [] });
  });
});
