import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Queryable, Sql } from './sql.ts';

/** The folder of numbered migrations, the same from `src/` and from `dist/`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export interface Migration {
  id: number;
  name: string;
  script: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      id: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      script: readFileSync(`${dir}/${file}`, 'utf8'),
    }));
}

// Any constant works; it only has to be the same in every Nova process on this database.
export const MIGRATION_LOCK_KEY = 7_412_306_815;

/**
 * Applies the pending migrations in one transaction under a transaction-scoped advisory lock,
 * so that processes starting together wait for each other and each migration runs once.
 * Returns the names it applied.
 */
export async function migrate(sql: Sql, migrations = loadMigrations()): Promise<string[]> {
  // The common case, a restart on a current schema: one read, no lock, no DDL. Migrations are
  // only ever added, so a database holding every id known here has nothing to apply.
  if (await isCurrent(sql, migrations)) return [];
  return sql.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    return applyPending(tx, migrations);
  });
}

async function ensureMigrationsTable(db: Queryable): Promise<void> {
  await db.exec(`create table if not exists nova_migrations (
    id integer primary key,
    name text not null,
    applied_at timestamptz not null default now()
  )`);
}

/** Whether every migration in `migrations` is recorded as applied already. */
async function isCurrent(db: Queryable, migrations: readonly Migration[]): Promise<boolean> {
  const done = await appliedMigrations(db);
  return migrations.every((m) => done.has(m.id));
}

/** The ids of the migrations applied to `db` (none when Nova never migrated it). */
export async function appliedMigrations(db: Queryable): Promise<Set<number>> {
  const [t] = await db.query<{ found: boolean }>(`select to_regclass('nova_migrations') is not null as found`);
  if (!t?.found) return new Set();
  return new Set((await db.query<{ id: number }>('select id from nova_migrations')).map((r) => r.id));
}

/**
 * Records migrations as applied without running them: a seed database adopted by the email
 * domain already has what they create (src/email/adopt.ts). Inside the migration transaction.
 */
export async function recordAdopted(tx: Queryable, migrations: readonly { id: number; name: string }[]): Promise<void> {
  await ensureMigrationsTable(tx);
  for (const m of migrations) {
    await tx.query('insert into nova_migrations (id, name) values ($1, $2)', [m.id, `${m.name} (adopted)`]);
  }
}

/**
 * The body of migrate() for a caller that holds the lock in its own transaction (adopting a
 * seed database records some migrations itself first). Returns the names it applied.
 */
export async function applyPending(tx: Queryable, migrations = loadMigrations()): Promise<string[]> {
  await ensureMigrationsTable(tx);
  const done = await appliedMigrations(tx);
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    await tx.exec(m.script);
    await tx.query('insert into nova_migrations (id, name) values ($1, $2)', [m.id, m.name]);
    applied.push(m.name);
  }
  return applied;
}
