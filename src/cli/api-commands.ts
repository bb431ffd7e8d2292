import { Command } from 'commander';
import { VERSION } from '../version.ts';

const workflowCommands = async () => (await import('../workflows/cli.ts')).registerWorkflowCommands;

/**
 * The commands that only talk to the API server (NOVA_API_URL), each with the module that
 * registers it. `nova <one of these> …` loads that module alone instead of every domain and the
 * runtime: 0.25 s to start instead of 0.7 s here. `buildCli` registers the same functions, so
 * both paths define the same commands (test/cli-api-commands.test.ts).
 */
export const API_COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  queue: async () => (await import('./queue.ts')).registerQueueCommands,
  job: async () => (await import('./job.ts')).registerJobCommands,
  schedule: async () => (await import('./schedule.ts')).registerScheduleCommands,
  // One module registers all three.
  workflow: workflowCommands,
  run: workflowCommands,
  approvals: workflowCommands,
  backfill: async () => (await import('../email/cli.ts')).registerBackfillCommands,
  deals: async () => (await import('../deals/cli.ts')).registerDealsCommands,
  notify: async () => (await import('../notify/cli.ts')).registerNotifyCommands,
};

/** The top-level program every `nova` command line hangs from. */
export function novaProgram(): Command {
  return new Command('nova')
    .description('Nova: durable background work on PostgreSQL')
    .version(VERSION, '-V, --version', 'print the version of Nova')
    .showHelpAfterError();
}

/** `nova` with only the commands of `name`'s module, or undefined when `name` is not one of them. */
export async function apiCli(name: string | undefined): Promise<Command | undefined> {
  const load = name === undefined ? undefined : API_COMMANDS[name];
  if (!load) return undefined;
  const program = novaProgram();
  (await load())(program);
  return program;
}
