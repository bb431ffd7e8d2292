import { setFlagsFromString } from 'node:v8';
import { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { createLogger } from '../log.ts';
import type { Domain } from '../runtime/domain.ts';
import { Runtime } from '../runtime/runtime.ts';
import { migrate, openDatabase } from '../storage/index.ts';
import { resolveRoles } from '../runtime/roles.ts';
import { registerBackfillCommands } from './backfill.ts';
import { prepareDemo } from './demo.ts';
import { registerEmulatorCommands } from './emulator.ts';
import { registerExtractCommands } from './extract.ts';
import { holdPidFile } from './pidfile.ts';
import { registerQueueCommands } from './queue.ts';
import { registerWorkerCommands } from './worker.ts';
import { registerWorkflowCommands } from '../workflows/cli.ts';

/**
 * V8 flags that keep the heap near its live data: process-wide, so set in the entry point only.
 * Measured on the `webhooks` role under load: peak RSS 93-119 MB with them, 143-155 MB without
 * (docs/BENCHMARKS.md); young collections get more frequent, at a CPU cost within the noise of
 * our measurements.
 */
function compactHeap(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--heap-growing-percent=50');
}

/** Exit code for a bad configuration (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;

/**
 * Builds the `nova` command line. Entry points pass the domains to run; signal handlers and
 * process.exit live here and in the entry point only, never in library modules.
 */
export function buildCli(domains: readonly Domain[]): Command {
  const program = new Command('nova')
    .description('Nova: durable background work on PostgreSQL')
    .showHelpAfterError();

  program
    .command('start')
    .description('run Nova: the roles from WORKER_TYPE, or the roles given here (one, a comma list, a group, or all)')
    .argument('[roles...]', 'roles to run instead of WORKER_TYPE')
    .action(async (roles: string[]) => {
      const loaded = configOrExit();
      if (loaded.NOVA_COMPACT_HEAP) compactHeap();
      const demo = await prepareDemo(loaded, rolesOrExit(roles.length ? roles.join(',') : loaded.WORKER_TYPE, domains));
      const config = demo?.config ?? loaded;
      const runtime = new Runtime({ config, domains, ...(roles.length && { roles: roles.join(',') }) });
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) {
          runtime.log.warn(`second ${signal}: exiting now`);
          process.exit(1);
        }
        stopping = true;
        runtime.log.info(`received ${signal}`);
        runtime.stop().then(
          async () => {
            await demo?.stop();
            process.exit(0);
          },
          (err: unknown) => {
            runtime.log.error('shutdown failed', { error: err });
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      try {
        await runtime.start();
        holdPidFile(config, runtime);
        await demo?.begin(runtime);
      } catch (err) {
        exitOnConfigError(err);
        runtime.log.error('failed to start', { error: err });
        process.exit(1);
      }
    });

  program
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(async () => {
      const config = configOrExit();
      const log = createLogger({ level: config.LOG_LEVEL, format: config.NOVA_LOG_FORMAT, component: 'Storage' });
      const sql = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.NOVA_DATA_DIR, poolSize: 2 });
      try {
        const applied = await migrate(sql);
        log.info(applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await sql.close();
      }
    });

  registerBackfillCommands(program);
  registerEmulatorCommands(program);
  registerExtractCommands(program);
  registerWorkerCommands(program);
  registerQueueCommands(program);
  registerWorkflowCommands(program);
  return program;
}

/** The roles a `start` would run; an unknown name stops here with the same message as the runtime's. */
function rolesOrExit(spec: string, domains: readonly Domain[]): Set<string> {
  try {
    return resolveRoles(spec, domains);
  } catch (err) {
    exitOnConfigError(err);
    throw err;
  }
}

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    exitOnConfigError(err);
    throw err;
  }
}

function exitOnConfigError(err: unknown): void {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(EXIT_CONFIG);
  }
}
