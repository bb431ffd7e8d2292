import { setFlagsFromString } from 'node:v8';
import { Command } from 'commander';
import { ConfigError, type Config } from '../config.ts';
import type { EmailConfig } from '../email/config.ts';
import { createLogger } from '../log.ts';
import { loadDomainConfig, type Domain } from '../runtime/domain.ts';
import { Runtime } from '../runtime/runtime.ts';
import { migrate, openDatabase } from '../storage/index.ts';
import { resolveRoles } from '../runtime/roles.ts';
import { prepareDealsDemo } from '../deals/demo.ts';
import { prepareDemo } from './demo.ts';
import { registerDockerCommands } from './docker.ts';
import { registerEmulatorCommands } from './emulator.ts';
import { holdPidFile } from './pidfile.ts';
import { registerQueueCommands } from './queue.ts';
import { registerScheduleCommands } from './schedule.ts';
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
      const loaded = configOrExit(domains);
      if (loaded.NOVA_COMPACT_HEAP) compactHeap();
      const roleSet = rolesOrExit(roles.length ? roles.join(',') : loaded.WORKER_TYPE, domains);
      const emailDemo = await prepareDemo(loaded as EmailConfig, roleSet);
      const dealsDemo = await prepareDealsDemo(emailDemo?.config ?? loaded, roleSet);
      const demo = { begin: async (r: Runtime) => { await emailDemo?.begin(r); await dealsDemo?.begin(r); }, stop: async () => { await emailDemo?.stop(); await dealsDemo?.stop(); } };
      const config = dealsDemo?.config ?? emailDemo?.config ?? loaded;
      const runtime = new Runtime({ config, domains, ...(roles.length && { roles: roles.join(',') }) });
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) {
          runtime.log.warn(`second ${signal}: handing back running jobs and exiting now`);
          void runtime.forceStop().finally(() => process.exit(1));
          return;
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
      const config = configOrExit(domains);
      const log = createLogger({ level: config.LOG_LEVEL, format: config.NOVA_LOG_FORMAT, component: 'Storage' });
      const sql = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.NOVA_DATA_DIR, poolSize: 2 });
      try {
        const applied = await migrate(sql);
        log.info(applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await sql.close();
      }
    });

  // Each domain brings its own commands (`nova backfill`, `nova extract`, ...).
  for (const domain of domains) domain.commands?.(program, { config: () => configOrExit(domains) });
  registerDockerCommands(program);
  registerEmulatorCommands(program);
  registerWorkerCommands(program);
  registerQueueCommands(program);
  registerScheduleCommands(program);
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

function configOrExit(domains: readonly Domain[]): Config {
  try {
    return loadDomainConfig(process.env, domains);
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
