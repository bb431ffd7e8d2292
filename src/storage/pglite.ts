import { PGlite } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import { runCommitHooks, type Queryable, type Sql } from './sql.ts';

/**
 * Opens the embedded database in `dataDir` (created when missing), or in memory when `dataDir`
 * is undefined. PGlite runs one statement at a time in this process, so it suits development,
 * tests and small installations; LISTEN/NOTIFY works within the process.
 */
export async function openPglite(dataDir?: string): Promise<Sql> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir, { parsers: { 20: (v: string) => Number(v) } });
  return wrapPglite(db, true);
}

export function wrapPglite(db: PGlite, owned: boolean): Sql {
  const queryable = (c: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<T extends object>(text: string, params: readonly unknown[] = []) {
      return (await c.query<T>(text, params as unknown[])).rows;
    },
    async exec(script: string) {
      await c.exec(script);
    },
  });
  return {
    kind: 'pglite',
    ...queryable(db),
    async transaction(fn) {
      const hooks: (() => void)[] = [];
      const result = await db.transaction((tx) => fn({ ...queryable(tx), onCommit: (hook) => hooks.push(hook) }));
      runCommitHooks(hooks);
      return result;
    },
    async listen(channel, onPayload) {
      const unlisten = await db.listen(channel, onPayload);
      return () => unlisten();
    },
    async notify(channel, payload) {
      await db.query('select pg_notify($1, $2)', [channel, payload]);
    },
    async close() {
      if (owned && !db.closed) await db.close();
    },
  };
}
