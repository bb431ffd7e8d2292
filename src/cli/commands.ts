import { setFlagsFromString } from 'node:v8';
import { Command } from 'commander';
import { ConfigError, type Config } from '../config.ts';
import type { EmailConfig } from '../email/config.ts';
import { createLogger } from '../log.ts';
import { loadDomainConfig, type Domain } from '../runtime/domain.ts';
import { Runtime } from '../runtime/runtime.ts';
import { resolveRoles } from '../runtime/roles.ts';
import { prepareDealsDemo } from '../deals/demo.ts';
import { prepareNotifyDemo } from '../notify/demo.ts';
import { prepareDemo } from './demo.ts';
import { registerDockerCommands } from './docker.ts';
import { registerEmulatorCommands } from './emulator.ts';
import { registerMigrateCommands } from './migrate.ts';
import { EXIT_CONFIG, exitOnConfigError } from './exit.ts';
import { checkPorts, databaseProblem } from './preflight.ts';
import { holdPidFile } from './pidfile.ts';
import { registerJobCommands } from './job.ts';
import { registerQueueCommands } from './queue.ts';
import { registerScheduleCommands } from './schedule.ts';
import { handleStopSignals } from './shutdown.ts';
import { registerWorkerCommands } from './worker.ts';
import { registerWorkflowCommands } from '../workflows/cli.ts';
import { novaProgram } from './api-commands.ts';

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
  const program = novaProgram();

  program
    .command('start')
    .description('run Nova: the roles from WORKER_TYPE, or the roles given here (one, a comma list, a group, or all)')
    .argument('[roles...]', 'roles to run instead of WORKER_TYPE')
    .action(async (roles: string[]) => {
      const loaded = configOrExit(domains);
      if (loaded.NOVA_COMPACT_HEAP) compactHeap();
      const wanted = rolesOrExit(roles.length ? roles.join(',') : loaded.WORKER_TYPE, domains, roles.length > 0);
      await checkPorts(loaded, wanted, domains).catch((err: unknown) => {
        exitOnConfigError(err);
        throw err;
      });
      const emailDemo = await prepareDemo(loaded as EmailConfig, wanted);
      const dealsDemo = await prepareDealsDemo(emailDemo?.config ?? loaded, wanted);
      const notifyDemo = prepareNotifyDemo(loaded, wanted);
      const demo = { begin: async (r: Runtime) => { await emailDemo?.begin(r); await dealsDemo?.begin(r); await notifyDemo?.begin(r); }, stop: async () => { await emailDemo?.stop(); await dealsDemo?.stop(); } };
      const config = dealsDemo?.config ?? emailDemo?.config ?? loaded;
      const runtime = new Runtime({ config, domains, ...(roles.length && { roles: roles.join(',') }) });
      handleStopSignals(runtime, { deadlineMs: config.SHUTDOWN_TIMEOUT_MS, afterStop: async () => demo?.stop() });
      // Read from the environment, not the parsed config: the slice that holds them is the email
      // domain's, and a process may run without it; the operator's mistake is the same.
      if (process.env.NYLAS_API_KEY && !process.env.NYLAS_WEBHOOK_SECRET) {
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

  registerMigrateCommands(program);
  // Each domain brings its own commands (`nova backfill`, `nova extract`, ...).
  for (const domain of domains) domain.commands?.(program, { config: () => configOrExit(domains) });
  registerDockerCommands(program);
  registerEmulatorCommands(program);
  registerWorkerCommands(program);
  registerQueueCommands(program);
  registerScheduleCommands(program);
  registerJobCommands(program);
  registerWorkflowCommands(program);
  return program;
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

function configOrExit(domains: readonly Domain[]): Config {
  try {
    return loadDomainConfig(process.env, domains);
  } catch (err) {
    exitOnConfigError(err);
    throw err;
  }
}
