import type { Command } from 'commander';
import { apiClient, type ApiClient } from '../cli/api-client.ts';
import { ago, duration, table } from '../cli/format.ts';

/**
 * `nova backfill start|status|list`: drives backfills through the API server (NOVA_API_URL, with
 * NOVA_API_TOKEN when set), so it works the same against a local `npm start` on the embedded
 * database and a production cluster.
 */

interface Progress {
  configId: string;
  grantId?: string;
  email?: string | null;
  backfillStartedAt?: string | null;
  backfillStatus: string;
  threadsTotal: number;
  threadsCompleted: number;
  threadsFailed: number;
  threadsProcessing: number;
  messagesSynced: number;
  percentComplete: number;
  backfillError: string | null;
  backfillProgress: { discovery?: { listed?: number; pages?: number } };
  run?: number;
  threadsAlreadySynced?: number;
  messagesAlreadySynced?: number;
}

/** One run as GET /api/backfill-runs lists it. */
interface Run {
  configId: string;
  run: number;
  grantId: string;
  email: string | null;
  current: boolean;
  status: string;
  outcome: string;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  threadsAlreadySynced: number | null;
  messagesAlreadySynced: number | null;
  threadsTotal: number | null;
  threadsCompleted: number | null;
  threadsFailed: number | null;
  messagesSynced: number | null;
}

const DAY_MS = 86_400_000;
const FINISHED = new Set(['completed', 'failed']);

export function registerBackfillCommands(program: Command): void {
  const backfill = program.command('backfill').description('start and watch mailbox backfills (through the API server at NOVA_API_URL)');

  backfill
    .command('start')
    .description('connect an inbox (if needed) and start its backfill')
    .requiredOption('--grant <grantId>', 'Nylas grant id of the mailbox')
    .option('--email <address>', 'email address of the mailbox')
    .option('--since <when>', 'start of the window: an ISO date or a number of days back (90d); default and maximum 1 year')
    .option('--until <when>', 'end of the window (default now)')
    .option('--follow', 'show a live progress bar until the backfill ends')
    .action(async (opts: { grant: string; email?: string; since?: string; until?: string; follow?: boolean }) => {
      const api = apiClient('nova backfill');
      const connected = await api.request<{ inbox: { id: string }; configId: string }>('POST', '/api/inboxes', {
        grantId: opts.grant, ...(opts.email && { email: opts.email }),
      });
      const body = {
        ...(opts.since && { since: when(opts.since, '--since') }),
        ...(opts.until && { until: when(opts.until, '--until') }),
      };
      const started = await api.request<{ configId: string; run: number; since: string; until: string }>(
        'POST', `/api/inboxes/${connected.inbox.id}/backfill`, body,
      );
      console.log(`backfill ${started.configId} (run ${started.run}) started for ${opts.grant}: ${started.since} → ${started.until}`);
      if (opts.follow) process.exitCode = await follow(api, started.configId);
    });

  backfill
    .command('list')
    .description('every backfill run kept, newest first, with its outcome (re-runs count threads already synced)')
    .option('--config <configId>', "only this backfill's runs")
    .option('--limit <n>', 'how many runs (at most 500)', '50')
    .option('--json', 'print the API answer as JSON')
    .action(async (opts: { config?: string; limit: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) fail(`--limit: expected a whole number from 1 to 500, got "${opts.limit}"`);
      const q = new URLSearchParams({ limit: String(limit), ...(opts.config && { configId: opts.config }) });
      const { runs } = await apiClient('nova backfill').request<{ runs: Run[] }>('GET', `/api/backfill-runs?${q}`);
      if (opts.json) return console.log(JSON.stringify({ runs }, null, 2));
      if (!runs.length) return console.log('no backfill has run yet: nova backfill start --grant <grantId>');
      console.log(table([
        ['config', 'run', 'inbox', 'outcome', 'threads', 'failed', 'messages', 'already synced', 'started', 'took'],
        ...runs.map((r) => [
          r.configId, String(r.run), r.email ?? r.grantId, r.outcome.replaceAll('_', ' '),
          r.threadsTotal === null ? '-' : `${(r.threadsCompleted ?? 0) + (r.threadsFailed ?? 0)}/${r.threadsTotal}`,
          r.threadsFailed === null ? '-' : String(r.threadsFailed), r.messagesSynced === null ? '-' : String(r.messagesSynced),
          alreadySynced(r.threadsAlreadySynced, r.messagesAlreadySynced), ago(r.startedAt), took(r),
        ]),
      ]));
      const failed = runs.find((r) => r.current && r.outcome === 'completed_with_failures');
      if (failed) console.log(`\nretry the failed threads of a run: nova backfill retry-failed ${failed.configId}`);
    });

  backfill
    .command('retry-failed')
    .description("queue a completed backfill's failed threads again (their dead jobs are redriven)")
    .argument('<configId>', 'the backfill (inbox configuration) id')
    .action(async (configId: string) => {
      const res = await apiClient('nova backfill').request<{ run: number; retried: number; redriven: number }>(
        'POST', `/api/backfills/${encodeURIComponent(configId)}/retry-failed`,
      );
      console.log(res.retried
        ? `run ${res.run}: ${res.retried} failed thread${res.retried === 1 ? '' : 's'} queued again (${res.redriven} dead job${res.redriven === 1 ? '' : 's'} redriven); follow with: nova backfill status ${configId} --follow`
        : `run ${res.run} has no failed thread to retry`);
    });

  backfill
    .command('status')
    .description("print a backfill's progress")
    .argument('<configId>', 'the inbox configuration id that `backfill start` printed')
    .option('--json', 'print the raw progress as JSON')
    .option('--follow', 'show a live progress bar until the backfill ends')
    .action(async (configId: string, opts: { json?: boolean; follow?: boolean }) => {
      const api = apiClient('nova backfill');
      if (opts.follow) {
        process.exitCode = await follow(api, configId);
        return;
      }
      const progress = await api.request<Progress>('GET', `/api/backfills/${encodeURIComponent(configId)}`);
      console.log(opts.json ? JSON.stringify(progress, null, 2) : describe(progress));
    });
}

/** Polls until the backfill ends; returns the exit code (0 completed, 1 failed). */
async function follow(api: ApiClient, configId: string): Promise<number> {
  const tty = process.stdout.isTTY === true;
  let last = '';
  for (;;) {
    const p = await api.request<Progress>('GET', `/api/backfills/${encodeURIComponent(configId)}`);
    const line = render(p);
    if (tty) process.stdout.write(`\r${line}\x1b[K`);
    else if (line !== last) console.log(line);
    last = line;
    if (FINISHED.has(p.backfillStatus)) {
      if (tty) process.stdout.write('\n');
      if (p.backfillError) console.log(`error: ${p.backfillError}`);
      return p.backfillStatus === 'completed' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** `[#########-----------]  45.00%  450/1000 threads  1800 messages  thread_sync` */
export function render(p: Progress): string {
  const percent = p.percentComplete;
  const width = 30;
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const done = p.threadsCompleted + p.threadsFailed;
  const failed = p.threadsFailed ? `, ${p.threadsFailed} failed` : '';
  const listed = p.backfillStatus === 'discovering' ? ` (discovering: ${p.backfillProgress.discovery?.listed ?? 0} listed)` : '';
  const already = p.threadsAlreadySynced ? `  (${alreadySynced(p.threadsAlreadySynced, p.messagesAlreadySynced ?? null)} already synced)` : '';
  return `${bar} ${percent.toFixed(2).padStart(6)}%  ${done}/${p.threadsTotal} threads${failed}  ${p.messagesSynced} messages${already}  ${p.backfillStatus}${listed}`;
}

/** `80 threads, 240 messages`: what a run found stored already; `-` when it did not record it. */
function alreadySynced(threads: number | null, messages: number | null): string {
  if (threads === null) return '-';
  return `${threads} thread${threads === 1 ? '' : 's'}${messages ? `, ${messages} message${messages === 1 ? '' : 's'}` : ''}`;
}

function took(r: Run): string {
  if (!r.startedAt || !r.endedAt) return r.current && !FINISHED.has(r.status) ? 'running' : '-';
  return duration(Math.max(0, Date.parse(r.endedAt) - Date.parse(r.startedAt)));
}

/** A finished backfill whose threads partly failed did not simply complete. */
function outcome(p: Progress): string {
  if (p.backfillStatus === 'completed' && Number(p.threadsFailed) > 0) return 'completed with failures';
  return p.backfillStatus;
}

function describe(p: Progress): string {
  return [
    `backfill ${p.configId}${p.run ? ` (run ${p.run})` : ''}: ${outcome(p)}`,
    `  threads   ${p.threadsCompleted} completed, ${p.threadsProcessing} processing, ${p.threadsFailed} failed, ${p.threadsTotal} in all`,
    `  messages  ${p.messagesSynced}`,
    ...(p.threadsAlreadySynced ? [`  already   ${alreadySynced(p.threadsAlreadySynced, p.messagesAlreadySynced ?? null)} synced before this run (not fetched again)`] : []),
    `  progress  ${p.percentComplete.toFixed(2)}%`,
    ...(p.backfillError ? [`  error     ${p.backfillError}`] : []),
  ].join('\n');
}

/** An ISO date, or `<n>d` for n days before now. */
export function when(value: string, flag: string): string {
  const days = /^(\d+)d$/.exec(value);
  if (days) return new Date(Date.now() - Number(days[1]) * DAY_MS).toISOString();
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) fail(`${flag}: expected an ISO date or a number of days such as 90d, got "${value}"`);
  return at.toISOString();
}

function fail(message: string): never {
  console.error(`nova backfill: ${message}`);
  process.exit(1);
}
