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
    expect(await analyzeGrownTables(db.sql, tables)).toEqual([]);

    await fill('stats_probe', 21, 2000);
    await fill('stats_other.wide', 1, 2000);
    expect(await pages('stats_probe')).toBe(0); // never analyzed: no statistics
    expect(await analyzeGrownTables(db.sql, tables)).toEqual(['public.stats_probe', 'stats_other.wide']);
    const analyzed = await pages('stats_probe');
    expect(analyzed).toBeGreaterThanOrEqual(16);
    expect(await analyzeGrownTables(db.sql, tables)).toEqual([]);

    // Half as large again is not enough; past twice its analyzed size it goes again.
    await fill('stats_probe', 2001, 3000);
    expect(await analyzeGrownTables(db.sql, tables)).toEqual([]);
    await fill('stats_probe', 3001, 4500);
    expect(await analyzeGrownTables(db.sql, tables)).toEqual(['public.stats_probe']);
    expect(await pages('stats_probe')).toBeGreaterThan(2 * analyzed);
  });
});
