import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../src/storage/index.ts';
import { backends, type TestDb } from './helpers/db.ts';

/**
 * The schema every migration together produces, compared with test/fixtures/schema.snapshot.txt:
 * a migration that changes a table, column, type, default, constraint, index, function or trigger
 * by accident shows up here as a readable diff, and PGlite and PostgreSQL must produce the same.
 *
 * After adding or changing a migration, regenerate the snapshot and review its diff:
 *   npx vitest run test/schema-snapshot.test.ts -u
 * then run it once more without -u, so both backends are checked against the file just written.
 */

/** Nova's schemas: public, and notify (seed 002's tables keep their own schema). */
const SCHEMAS = `'public', 'notify'`;
/** An SQL prefix naming the schema of a name outside public (`notify.`). */
const qualified = (column: string) => `case when ${column} = 'public' then '' else ${column} || '.' end || `;

/** Normalized, sorted lines: no OIDs, no server version, nothing that differs between runs. */
async function dumpSchema(db: Queryable): Promise<string> {
  const section = async (title: string, text: string) => {
    const rows = await db.query<{ line: string }>(text);
    return [`## ${title}`, ...rows.map((r) => r.line).sort(), ''];
  };
  const lines = [
    ...(await section('tables', `
      select ${qualified('table_schema')}table_name || ' (' || table_type || ')' as line
      from information_schema.tables where table_schema in (${SCHEMAS})`)),
    ...(await section('columns', `
      select ${qualified('table_schema')}table_name || '.' || column_name || ' ' || udt_name
             || case when is_nullable = 'NO' then ' not null' else '' end
             || coalesce(' default ' || column_default, '')
             || case when is_identity = 'YES' then ' identity ' || identity_generation else '' end as line
      from information_schema.columns where table_schema in (${SCHEMAS})`)),
    ...(await section('constraints', `
      select ${qualified('n.nspname')}t.relname || ' ' || c.conname || ': ' || pg_get_constraintdef(c.oid) as line
      from pg_constraint c join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace
      -- Newer servers (PGlite's) also list NOT NULL here; the columns section holds it already.
      where n.nspname in (${SCHEMAS}) and c.contype <> 'n'`)),
    ...(await section('indexes', `
      select ${qualified('schemaname')}tablename || ' ' || indexname || ': ' || indexdef as line from pg_indexes where schemaname in (${SCHEMAS})`)),
    ...(await section('sequences', `
      select ${qualified('sequence_schema')}sequence_name || ' ' || data_type as line from information_schema.sequences where sequence_schema in (${SCHEMAS})`)),
    // The body as a hash: a changed function shows as a changed line without its whole text here.
    ...(await section('functions', `
      select ${qualified('n.nspname')}p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') returns '
             || pg_get_function_result(p.oid) || ' ' || l.lanname || ' body ' || md5(p.prosrc) as line
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
      where n.nspname in (${SCHEMAS})`)),
    ...(await section('triggers', `
      select ${qualified('n.nspname')}c.relname || ' ' || t.tgname || ': ' || pg_get_triggerdef(t.oid) as line
      from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in (${SCHEMAS}) and not t.tgisinternal`)),
  ];
  return lines.join('\n');
}

describe.each(backends)('the migrated schema on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(() => db?.drop());

  it('matches test/fixtures/schema.snapshot.txt', async () => {
    await expect(await dumpSchema(db.sql)).toMatchFileSnapshot('fixtures/schema.snapshot.txt');
  });
});
