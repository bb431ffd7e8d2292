import { openPostgres } from './postgres.ts';
import { lockDataDir } from './data-lock.ts';
import type { Sql } from './sql.ts';

export type { Queryable, Row, Sql } from './sql.ts';
export { afterCommit } from './sql.ts';
export { migrate, loadMigrations } from './migrate.ts';
export { DataDirInUse } from './data-lock.ts';
export { openPostgres, wrapPostgres } from './postgres.ts';

export interface DatabaseConfig {
  databaseUrl?: string | undefined;
  dataDir: string;
  poolSize: number;
}

/** PostgreSQL when a URL is given, otherwise the embedded database in `dataDir`. */
export async function openDatabase(config: DatabaseConfig): Promise<Sql> {
  if (config.databaseUrl) return openPostgres({ url: config.databaseUrl, poolSize: config.poolSize });
  return openPglite(config.dataDir);
}

/**
 * The embedded database (PGlite) in `dataDir`, or in memory. Loaded only when called: a process
 * on a PostgreSQL server never carries PGlite's WebAssembly build.
 */
export async function openPglite(dataDir?: string): Promise<Sql> {
  const lock = dataDir === undefined ? undefined : lockDataDir(dataDir);
  try {
    const embedded = await import('./pglite.ts');
    const sql = await embedded.openPglite(dataDir);
    if (!lock) return sql;
    return {
      ...sql,
      async close() {
        try {
          await sql.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (err) {
    lock?.release();
    throw err;
  }
}
