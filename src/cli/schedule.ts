import type { Command } from 'commander';
import { apiClient } from './api-client.ts';
import { ago, duration, table } from './format.ts';

/**
 * `nova schedule list|add|remove|trigger|enable|disable`: cron schedules through the management
 * API (NOVA_API_URL, NOVA_API_TOKEN; docs/API.md), like `nova queue`.
 */

interface ScheduleView {
  name: string;
  cron: string;
  timezone: string;
  queue: string;
  payload: Record<string, unknown>;
  missed: 'skip' | 'run-once';
  catchUpMs: number | null;
  enabled: boolean;
  source: 'code' | 'api';
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastJobId: number | null;
}

const CMD = 'nova schedule';
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('cron schedules: list, add, remove, fire now (through the API server at NOVA_API_URL)')
    .addHelpText('after', `
Each occurrence enqueues one job on the schedule's queue with the schedule's payload plus
{ "scheduledFor": "<occurrence ISO time>" }, exactly once however many Nova processes run.

Examples:
  nova schedule list
  nova schedule add daily-brief --cron "0 8 * * *" --tz America/New_York --queue daily_brief
  nova schedule add sweep --cron "*/5 * * * *" --queue sweeps --payload '{"scope":"all"}' --missed run-once --catch-up 1h
  nova schedule trigger daily-brief
  nova schedule disable daily-brief
  nova schedule remove sweep`);

  schedule
    .command('list')
    .description('every schedule with its next and last run')
    .option('--json', 'print the API answer as JSON')
    .action(async (opts: { json?: boolean }) => {
      const out = await apiClient(CMD).request<{ schedules: ScheduleView[] }>('GET', '/api/schedules');
      if (opts.json) return print(out);
      if (!out.schedules.length) return print('no schedules');
      print(table([
        ['name', 'cron', 'time zone', 'queue', 'enabled', 'next run', 'last run', 'last job', 'missed', 'source'],
        ...out.schedules.map((s) => [
          s.name, s.cron, s.timezone, s.queue, s.enabled ? 'on' : 'off', s.enabled ? inTime(s.nextRunAt) : '-', ago(s.lastRunAt),
          s.lastJobId === null ? '-' : String(s.lastJobId), s.missed + (s.catchUpMs === null ? '' : ` (${duration(s.catchUpMs)})`), s.source,
        ]),
      ]));
    });

  schedule
    .command('add')
    .description('create a schedule')
    .argument('<name>', 'unique name: letters, digits and ._:-')
    .requiredOption('--cron <expr>', 'cron expression: 5 fields, or 6 with seconds first ("0 8 * * 1-5")')
    .requiredOption('--queue <queue>', 'queue each occurrence enqueues a job on')
    .option('--tz <zone>', 'IANA time zone the cron is read in', 'UTC')
    .option('--payload <json>', 'job payload (a JSON object)', '{}')
    .option('--missed <policy>', 'after downtime: skip | run-once', 'skip')
    .option('--catch-up <duration>', 'with run-once: only when the missed occurrence is at most this old (90s, 30m, 2h, 1d)')
    .option('--disabled', 'create it disabled')
    .option('--json', 'print the API answer as JSON')
    .action(async (name: string, opts: {
      cron: string; queue: string; tz: string; payload: string; missed: string; catchUp?: string; disabled?: boolean; json?: boolean;
    }) => {
      let payload: unknown;
      try {
        payload = JSON.parse(opts.payload);
      } catch {
        fail(`--payload: not JSON: ${opts.payload}`);
      }
      const body = {
        name, cron: opts.cron, timezone: opts.tz, queue: opts.queue, payload, missed: opts.missed, enabled: !opts.disabled,
        ...(opts.catchUp !== undefined && { catchUpMs: parseDuration(opts.catchUp) }),
      };
      const out = await apiClient(CMD).request<{ schedule: ScheduleView }>('POST', '/api/schedules', body);
      print(opts.json ? out : `added schedule ${name}: next run ${out.schedule.enabled ? inTime(out.schedule.nextRunAt) : '- (disabled)'}`);
    });

  schedule
    .command('remove')
    .description('delete a schedule created through the API (a domain\'s own can only be disabled)')
    .argument('<name>', 'schedule name')
    .action(async (name: string) => {
      await apiClient(CMD).request('DELETE', `/api/schedules/${encodeURIComponent(name)}`);
      print(`removed schedule ${name}`);
    });

  schedule
    .command('trigger')
    .description('fire a schedule now, outside its plan (occurrence manual:<time>)')
    .argument('<name>', 'schedule name')
    .option('--json', 'print the API answer as JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const api = apiClient(CMD);
      const out = await api.request<{ jobId: number; occurrence: string }>('POST', `/api/schedules/${encodeURIComponent(name)}/trigger`);
      if (opts.json) return print(out);
      const job = await api.request<{ queue: string }>('GET', `/api/jobs/${out.jobId}`);
      print(`fired ${name}: job ${out.jobId} on ${job.queue} (${out.occurrence})`);
    });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    schedule
      .command(verb)
      .description(enabled ? 'resume a schedule from its next occurrence' : 'stop a schedule firing until enabled again')
      .argument('<name>', 'schedule name')
      .action(async (name: string) => {
        const out = await apiClient(CMD).request<{ schedule: ScheduleView }>('PATCH', `/api/schedules/${encodeURIComponent(name)}`, { enabled });
        print(enabled ? `enabled ${name}: next run ${inTime(out.schedule.nextRunAt)}` : `disabled ${name}`);
      });
  }
}

/** `90s`, `30m`, `2h`, `1d`, `500ms`, or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) fail(`--catch-up: expected a duration such as 90s, 30m, 2h or 1d, got "${text}"`);
  return Number(m[1]) * UNITS[m[2] ?? 'ms']!;
}

function inTime(iso: string | null): string {
  if (!iso) return 'never';
  const ms = Date.parse(iso) - Date.now();
  return ms > 0 ? `in ${duration(ms)} (${iso})` : `due (${iso})`;
}

function print(value: unknown): void {
  console.log(typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}

function fail(message: string): never {
  console.error(`${CMD}: ${message}`);
  process.exit(1);
}
