import { readFileSync } from 'node:fs';
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
import { EXIT_CONFIG, exitOnConfigError } from './exit.ts';
import { checkPorts, databaseProblem } from './preflight.ts';
import { registerExtractCommands } from './extract.ts';
import { holdPidFile } from './pidfile.ts';
import { registerJobCommands } from './job.ts';
import { registerQueueCommands } from './queue.ts';
import { handleStopSignals } from './shutdown.ts';
import { registerWorkerCommands } from './worker.ts';

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

export { EXIT_CONFIG } from './exit.ts';

/**
 * Builds the `nova` command line. Entry points pass the domains to run; signal handlers and
 * process.exit live here and in the entry point only, never in library modules.
 */
export function buildCli(domains: readonly Domain[]): Command {
  const program = new Command('nova')
    .description('Nova: durable background work on PostgreSQL')
    .version(packageVersion(), '-V, --version', 'print the version of Nova')
    .showHelpAfterError();

  program
    .command('start')
    .description('run Nova: the roles from WORKER_TYPE, or the roles given here (one, a comma list, a group, or all)')
    .argument('[roles...]', 'roles to run instead of WORKER_TYPE')
    .action(async (roles: string[]) => {
      const loaded = configOrExit();
      if (loaded.NOVA_COMPACT_HEAP) compactHeap();
      const wanted = rolesOrExit(roles.length ? roles.join(',') : loaded.WORKER_TYPE, domains, roles.length > 0);
      await checkPorts(loaded, wanted, domains).catch((err: unknown) => {
        exitOnConfigError(err);
        throw err;
      });
      const demo = await prepareDemo(loaded, wanted);
      const config = demo?.config ?? loaded;
      const runtime = new Runtime({ config, domains, ...(roles.length && { roles: roles.join(',') }) });
      handleStopSignals(runtime, { deadlineMs: config.SHUTDOWN_TIMEOUT_MS, afterStop: async () => demo?.stop() });
      if (config.NYLAS_API_KEY && !config.NYLAS_WEBHOOK_SECRET) {
        runtime.log.warn('NYLAS_API_KEY is set without NYLAS_WEBHOOK_SECRET: webhook deliveries will be refused (503) until it is set');
      }
      try {
        await runtime.start();
        holdPidFile(config, runtime);
        await demo?.begin(runtime);
      } catch (err) {
        exitOnConfigError(err);
        const database = databaseProblem(err, config);
        if (database) {
          runtime.log.error(database);
          process.exit(1);
        }
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
      const sql = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.NOVA_DATA_DIR, poolSize: 2 }).catch((err: unknown) => {
        // A running process on the embedded database applied the migrations at its start.
        exitOnConfigError(err);
        throw err;
      });
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
  registerJobCommands(program);
  return program;
}

/** The version in package.json: the same path from src/cli and dist/cli. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The roles a `start` would run; an unknown name stops here with the same message as the runtime's. */
function rolesOrExit(spec: string, domains: readonly Domain[], fromArguments = false): Set<string> {
  try {
    return resolveRoles(spec, domains);
  } catch (err) {
    // `nova start bogus`: the argument is at fault, not WORKER_TYPE.
    if (fromArguments && err instanceof ConfigError) {
      process.stderr.write(`nova start: ${err.problems.map((p) => p.message.replace(/^unknown role/, 'unknown role argument')).join('; ')}\n`);
      process.exit(EXIT_CONFIG);
    }
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
