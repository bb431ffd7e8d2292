import type { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { exitOnConfigError } from './exit.ts';
import { adoptSeedDatabase, formatReport, isSeedDatabase } from '../email/adopt.ts';
import { importPgmq } from '../email/pgmq-import.ts';
import { createLogger } from '../log.ts';
import { loadMigrations, migrate, openDatabase, type Sql } from '../storage/index.ts';
import { appliedMigrations } from '../storage/migrate.ts';

/** Exit code when the database cannot be adopted as it is (sysexits EX_DATAERR). */
export const EXIT_DATA = 65;

/**
 * `nova migrate [--plan]` and `nova import pgmq`. A database of the seed's email service is
 * adopted (src/email/adopt.ts) instead of failing on its existing tables; `--plan` prints what
 * would change and changes nothing.
 */
export function registerMigrateCommands(program: Command): void {
  program
    .command('migrate')
    .description("apply pending database migrations and exit (adopts a seed email service database)")
    .option('--plan', 'print what would change, change nothing')
    .action(async (opts: { plan?: boolean }) => {
      await withDatabase(async (sql, log) => {
        const plan = opts.plan ?? false;
        if (await isSeedDatabase(sql)) {
          const report = await adoptSeedDatabase(sql, { plan });
          process.stdout.write(`${formatReport(report, plan)}\n`);
          if (report.refusals.length) process.exitCode = EXIT_DATA;
          return;
        }
        if (plan) {
          const done = await appliedIds(sql);
          const pending = loadMigrations().filter((m) => !done.has(m.id)).map((m) => m.name);
          process.stdout.write(`Plan: ${pending.length ? `would apply ${pending.join(', ')}` : 'database is up to date'} (nothing changed)\n`);
          return;
        }
        const applied = await migrate(sql);
        log.info(applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
      });
    });

  program
    .command('import')
    .description('import from another queue system')
    .command('pgmq')
    .description("move the messages waiting in the seed's PGMQ queues (pgmq.q_<queue>) into Nova's, exactly once")
    .action(async () => {
      await withDatabase(async (sql) => {
        const moved = await sql.transaction((tx) => importPgmq(tx));
        const lines = Object.entries(moved).map(([q, n]) => `  ${q}: ${n} message(s)`);
        process.stdout.write(lines.length ? `Moved from PGMQ:\n${lines.join('\n')}\n` : 'No PGMQ queues of the seed found (pgmq.q_<queue>)\n');
      });
    });
}

function appliedIds(sql: Sql): Promise<Set<number>> {
  return appliedMigrations(sql);
}

async function withDatabase(fn: (sql: Sql, log: ReturnType<typeof createLogger>) => Promise<void>): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    exitOnConfigError(err);
    throw err;
  }
  const log = createLogger({ level: config.LOG_LEVEL, format: config.NOVA_LOG_FORMAT, component: 'Storage' });
  // A running process on the embedded database holds it (and applied the migrations at its start).
  const sql = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.NOVA_DATA_DIR, poolSize: 2 }).catch((err: unknown) => {
    exitOnConfigError(err);
    throw err;
  });
  try {
    await fn(sql, log);
  } finally {
    await sql.close();
  }
}
