import { openPostgres } from './postgres.ts';
import type { Sql } from './sql.ts';

export type { Queryable, Row, Sql } from './sql.ts';
export { afterCommit } from './sql.ts';
export { migrate, loadMigrations } from './migrate.ts';
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
  const embedded = await import('./pglite.ts');
  return embedded.openPglite(dataDir);
}
