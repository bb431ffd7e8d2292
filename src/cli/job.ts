import type { Command } from 'commander';
import { apiClient } from './api-client.ts';
import { ago } from './format.ts';

/**
 * `nova job show <id>`: one job as the job page shows it (state and why, attempts, times,
 * payload, result, the error with its cause chain, progress), through the management API.
 */

interface ErrorView {
  name: string;
  message: string;
  code?: string;
  cause?: ErrorView;
}

interface JobDetail {
  id: number;
  queue: string;
  state: string;
  scheduledReason: string | null;
  payload: unknown;
  result: unknown;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  runAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  lastError: ErrorView | null;
  retryable: boolean;
  progress: unknown;
}

export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('inspect one job (through the API server at NOVA_API_URL)');
  job
    .command('show')
    .description('print a job: state, attempts, payload, result, error with its causes, progress')
    .argument('<jobId>', 'job id (from `nova queue jobs` or the dashboard)')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      if (!/^\d+$/.test(id)) {
        console.error(`nova job: <jobId>: expected a number, got "${id}"`);
        process.exit(1);
      }
      const j = await apiClient('nova job').request<JobDetail>('GET', `/api/jobs/${id}`);
      if (opts.json) return console.log(JSON.stringify(j, null, 2));
      console.log(describeJob(j));
    });
}

export function describeJob(j: JobDetail): string {
  const lines = [
    `job ${j.id} on ${j.queue}: ${j.state}${j.scheduledReason ? ` (${j.scheduledReason === 'retry' ? 'waiting for a retry' : 'delayed'})` : ''}`,
    `  attempts  ${j.attempts}/${j.maxAttempts}`,
    `  created   ${j.createdAt} (${ago(j.createdAt)})`,
    ...(j.runAt && j.state === 'scheduled' ? [`  runs at   ${j.runAt}`] : []),
    ...(j.startedAt ? [`  started   ${j.startedAt}`] : []),
    ...(j.finishedAt ? [`  finished  ${j.finishedAt}`] : []),
    `  payload   ${JSON.stringify(j.payload)}`,
    ...(j.result != null ? [`  result    ${JSON.stringify(j.result)}`] : []),
    ...(j.progress != null ? [`  progress  ${JSON.stringify(j.progress)}`] : []),
  ];
  for (let e: ErrorView | null | undefined = j.lastError, depth = 0; e; e = e.cause, depth++) {
    lines.push(`  ${depth === 0 ? 'error    ' : 'caused by'} ${e.name}${e.code ? ` [${e.code}]` : ''}: ${e.message}`);
  }
  if (j.lastError && !j.retryable && j.state === 'dead') lines.push('  not retryable: the payload fails its queue schema; send a corrected job');
  else if (j.retryable) lines.push(`  retry     nova queue retry ${j.id}`);
  return lines.join('\n');
}
