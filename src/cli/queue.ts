import type { Command } from 'commander';
import { apiClient } from './api-client.ts';
import { ago, clip, duration, table } from './format.ts';

/**
 * `nova queue stats|jobs|retry|redrive`: inspect queues and bring dead letters back, through the
 * management API (NOVA_API_URL, NOVA_API_TOKEN; docs/API.md), so it works the same against a
 * local `nova start` and a cluster.
 */

interface QueueStats {
  name: string;
  waiting: number;
  scheduled: number;
  scheduledReasons: { delayed: number; retry: number };
  active: number;
  completed: number;
  dead: number;
  retention: { completed: number };
  processed: { lastHour: number; lastDay: number };
  throughputPerMinute: number;
  oldestWaitingMs: number | null;
}

interface JobView {
  id: number;
  queue: string;
  state: string;
  scheduledReason: 'delayed' | 'retry' | null;
  attempts: number;
  maxAttempts: number;
  groupKey: string | null;
  createdAt: string;
  runAt: string | null;
  finishedAt: string | null;
  lastError: { name: string; message: string } | null;
}

const STATES = ['waiting', 'scheduled', 'active', 'completed', 'dead'];
const CMD = 'nova queue';

export function registerQueueCommands(program: Command): void {
  const queue = program
    .command('queue')
    .description('inspect queues, retry jobs and redrive dead letters (through the API server at NOVA_API_URL)')
    .addHelpText('after', `
Talks to the management API at NOVA_API_URL (default http://127.0.0.1:4000), sending
NOVA_API_TOKEN as a bearer token when it is set. --json prints the API's answer as it came.

Examples:
  nova queue stats
  nova queue jobs thread_sync_jobs --state dead
  nova queue retry 4211
  nova queue redrive thread_sync_jobs`);

  queue
    .command('stats')
    .description('job counts per queue: waiting, scheduled (delayed or awaiting a retry), active, dead, completed (kept), processed')
    .argument('[queue]', 'one queue (default: every queue)')
    .option('--json', 'print the API answer as JSON')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const api = apiClient(CMD);
      const queues = name
        ? [await api.request<QueueStats>('GET', `/api/queues/${encodeURIComponent(name)}`)]
        : (await api.request<{ queues: QueueStats[] }>('GET', '/api/queues')).queues;
      if (opts.json) return print(name ? queues[0] : { queues });
      if (!queues.length) return print('no queues yet');
      print(table([
        ['queue', 'waiting', 'scheduled (retry)', 'active', 'dead', 'completed (kept)', 'processed 1h', 'per min', 'oldest waiting'],
        ...queues.map((q) => [
          q.name, String(q.waiting), `${q.scheduled} (${q.scheduledReasons.retry})`, String(q.active), String(q.dead),
          `${q.completed} (last ${q.retention.completed})`, String(q.processed.lastHour), String(q.throughputPerMinute),
          q.oldestWaitingMs === null ? '-' : duration(q.oldestWaitingMs),
        ]),
      ]));
    });

  queue
    .command('jobs')
    .description("list a queue's jobs in one state, newest first")
    .argument('<queue>', 'queue name')
    .option('--state <state>', STATES.join(' | '), 'waiting')
    .option('--reason <reason>', 'scheduled jobs only: delayed | retry')
    .option('--where <field=value...>', 'payload fields to match, e.g. --where threadId=t1 (repeatable)')
    .option('--error <text>', 'jobs whose last error contains this text')
    .option('--since <time>', 'created (live) or finished (completed, dead) at or after this ISO time')
    .option('--limit <n>', 'jobs per page (1-500)', '50')
    .option('--before <jobId>', 'the page after this job id (printed at the end of a full page)')
    .option('--json', 'print the API answer as JSON')
    .action(async (name: string, opts: {
      state: string; limit: string; before?: string; json?: boolean; reason?: string; where?: string[]; error?: string; since?: string;
    }) => {
      if (!STATES.includes(opts.state)) fail(`--state: expected one of ${STATES.join(', ')}, got "${opts.state}"`);
      if (opts.reason && !['delayed', 'retry'].includes(opts.reason)) fail(`--reason: expected delayed or retry, got "${opts.reason}"`);
      if (opts.since && Number.isNaN(Date.parse(opts.since))) fail(`--since: expected an ISO time such as 2026-01-31T12:00:00Z, got "${opts.since}"`);
      const api = apiClient(CMD);
      const query = new URLSearchParams({
        state: opts.state, limit: opts.limit, ...(opts.before && { before: opts.before }), ...(opts.reason && { reason: opts.reason }),
        ...(opts.error && { error: opts.error }), ...(opts.since && { from: opts.since }),
      });
      for (const pair of opts.where ?? []) {
        const eq = pair.indexOf('=');
        if (eq < 1) fail(`--where: expected field=value, got "${pair}"`);
        query.append(`payload.${pair.slice(0, eq)}`, pair.slice(eq + 1));
      }
      const page = await api.request<{ jobs: JobView[]; next: number | null }>(
        'GET', `/api/queues/${encodeURIComponent(name)}/jobs?${query}`,
      );
      if (opts.json) return print(page);
      if (!page.jobs.length) return print(`no ${opts.state} jobs in ${name}`);
      print(table([
        ['id', 'state', 'attempts', 'created', opts.state === 'completed' || opts.state === 'dead' ? 'finished' : 'runs', 'group', 'last error'],
        ...page.jobs.map((j) => [
          String(j.id), j.scheduledReason ? `${j.state} (${j.scheduledReason})` : j.state, `${j.attempts}/${j.maxAttempts}`, ago(j.createdAt),
          j.finishedAt ? ago(j.finishedAt) : runs(j.runAt), j.groupKey ?? '-',
          j.lastError ? clip(`${j.lastError.name}: ${j.lastError.message}`) : '-',
        ]),
      ]));
      if (page.next !== null) print(`more: nova queue jobs ${name} --state ${opts.state} --before ${page.next}`);
    });

  queue
    .command('retry')
    .description('run a dead or scheduled job again now, with fresh attempts')
    .argument('<jobId>', 'job id (from `nova queue jobs`)')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      if (!/^\d+$/.test(id)) fail(`expected a job id, got "${id}"`);
      const { job } = await apiClient(CMD).request<{ job: JobView }>('POST', `/api/jobs/${id}/retry`);
      print(opts.json ? { job } : `job ${job.id} (${job.queue}) is ${job.state} again`);
    });

  queue
    .command('redrive')
    .description('move every dead letter of a queue back to waiting')
    .argument('<queue>', 'queue name')
    .option('--json', 'print the API answer as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const out = await apiClient(CMD).request<{ redriven: number; ids: number[] }>('POST', `/api/queues/${encodeURIComponent(name)}/redrive`);
      if (opts.json) return print(out);
      print(out.redriven ? `redrove ${out.redriven} dead job(s) of ${name}: ${out.ids.join(', ')}` : `no dead jobs in ${name}`);
    });
}

function runs(runAt: string | null): string {
  if (!runAt) return '-';
  const ms = new Date(runAt).getTime() - Date.now();
  return ms > 0 ? `in ${duration(ms)}` : 'now';
}

function print(value: unknown): void {
  console.log(typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

function fail(message: string): never {
  console.error(`${CMD}: ${message}`);
  process.exit(1);
}
