import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';
import type { Sql } from './sql.ts';

export type { Queryable, Row, Sql } from './sql.ts';
export { migrate, loadMigrations } from './migrate.ts';
export { openPglite, wrapPglite } from './pglite.ts';
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
