import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config.ts';
import { ago, clip, duration, megabytes, table } from './format.ts';
import { inspectPidFile, isRunning, pidFilePath, removePidFile, type PidRecord } from './pidfile.ts';

/**
 * `nova worker start|stop|status|health|restart`: manages one local Nova process through its pid
 * file (NOVA_PID_FILE) and its health port, as seed 002's worker CLI did. Exit codes of
 * `status`: 0 running, 1 stale pid file or no answer from the health port, 3 not running
 * (LSB). `health`: 0 healthy, 1 anything else.
 */

const CMD = 'nova worker';
/** Added to the process's SHUTDOWN_TIMEOUT_MS before `stop` gives up and sends SIGKILL. */
const STOP_MARGIN_MS = 10_000;
const READY_TIMEOUT_MS = 60_000;

interface StatusBody {
  pid?: number;
  version?: string;
  state?: string;
  startedAt?: string;
  uptimeMs?: number;
  database?: string;
  roles?: string[];
  queues?: {
    name: string; concurrency?: number; inFlight?: number; buffered?: number; completed?: number; failed?: number;
    lastPollAt?: string | null; depth?: { waiting?: number; scheduled?: number; dead?: number; processedLastHour?: number } | null;
  }[];
  loops?: { name: string; singleton?: boolean; leader?: boolean; runs?: number; failures?: number; lastRunAt?: string | null; lastError?: string | null }[];
  memory?: { rssBytes?: number };
}

/** Where to ask: the pid file's process, or a health port given on the command line. */
type Target =
  | { ok: true; healthUrl: string; record?: PidRecord }
  | { ok: false; code: 1 | 3; reason: string };

export function registerWorkerCommands(program: Command): void {
  const worker = program
    .command('worker')
    .description('manage a local Nova process through its pid file (NOVA_PID_FILE) and health port')
    .addHelpText('after', `
The pid file (NOVA_PID_FILE, default nova.pid in NOVA_DATA_DIR) is JSON written by \`nova start\`
once its servers listen: pid, health and API ports and URLs, roles, start time. It is removed
when the process exits; one left by a killed process is reported as stale and removed by
\`stop\` or \`start\`. A detached process writes to nova.log beside the pid file (--log).

Exit codes: status 0 running, 1 stale pid file or no answer, 3 not running;
health 0 healthy, 1 anything else; start --detach 0 once healthy, else the process's exit code.

Examples:
  nova worker start --detach webhooks,threads
  nova worker status            nova worker status --json
  nova worker health --port 3001   (container health check, no pid file needed)
  nova worker restart           nova worker stop`);

  worker
    .command('start')
    .description('start Nova (the roles given, or WORKER_TYPE); --detach runs it in the background and waits until it is healthy')
    .argument('[roles...]', 'roles to run instead of WORKER_TYPE')
    .option('--detach', 'run in the background, output to --log, and return once it is healthy')
    .option('--log <file>', 'log file of a detached process (appended to; default nova.log beside the pid file)')
    .option('--timeout <ms>', 'how long --detach waits for the process to become healthy', String(READY_TIMEOUT_MS))
    .action(async (roles: string[], opts: { detach?: boolean; log?: string; timeout: string }) => {
      const pidPath = pidFile();
      if (!claimable(pidPath)) return;
      if (opts.detach) {
        process.exitCode = await startDetached(pidPath, roles, opts.log, ms(opts.timeout, '--timeout'));
        return;
      }
      // In the foreground this is `nova start` itself (which writes the pid file once it listens).
      const start = program.commands.find((c) => c.name() === 'start');
      if (!start) fail('this CLI has no start command');
      await start.parseAsync(roles, { from: 'user' });
    });

  worker
    .command('stop')
    .description('SIGTERM the process, wait for its graceful stop (SHUTDOWN_TIMEOUT_MS + 10 s), then SIGKILL')
    .option('--timeout <ms>', 'wait this long before SIGKILL instead')
    .action(async (opts: { timeout?: string }) => {
      process.exitCode = await stop(pidFile(), opts.timeout === undefined ? undefined : ms(opts.timeout, '--timeout'));
    });

  worker
    .command('restart')
    .description('stop the process, then start it detached with the same roles (or the roles given)')
    .argument('[roles...]', 'roles to run instead of the stopped process\'s')
    .option('--log <file>', 'log file of the new process')
    .option('--timeout <ms>', 'how long to wait for the new process to become healthy', String(READY_TIMEOUT_MS))
    .action(async (roles: string[], opts: { log?: string; timeout: string }) => {
      const pidPath = pidFile();
      const before = inspectPidFile(pidPath);
      const previous = before.kind === 'running' || before.kind === 'stale' ? before.record.roles : [];
      await stop(pidPath);
      // A stop that had to SIGKILL still leaves the way clear; only a survivor blocks the start.
      if (!claimable(pidPath)) return;
      const use = roles.length ? roles : previous.length ? [previous.join(',')] : [];
      process.exitCode = await startDetached(pidPath, use, opts.log, ms(opts.timeout, '--timeout'));
    });

  worker
    .command('status')
    .description('roles, queues in flight, loops, memory and uptime of the running process (exit 0 running, 1 stale or not answering, 3 not running)')
    .option('--json', "print the process's /status as JSON")
    .option('--port <port>', 'ask the health server on this local port instead of the pid file\'s process')
    .action(async (opts: { json?: boolean; port?: string }) => {
      const target = resolveTarget(opts.port);
      if (!target.ok) {
        console.log(opts.json ? JSON.stringify({ running: false, reason: target.reason }, null, 2) : target.reason);
        process.exitCode = target.code;
        return;
      }
      const got = await getJson<StatusBody>(`${target.healthUrl}/status`);
      if (!got.ok) {
        const reason = `no answer from ${target.healthUrl}/status (${got.error})${target.record ? `; pid ${target.record.pid} is alive` : ''}`;
        console.log(opts.json ? JSON.stringify({ running: !!target.record, reason }, null, 2) : reason);
        process.exitCode = 1;
        return;
      }
      console.log(opts.json ? JSON.stringify(got.body, null, 2) : describeStatus(got.body, target));
    });

  worker
    .command('health')
    .description('ok or unhealthy, from /health of the running process (exit 0 healthy, 1 not)')
    .option('--json', 'print the answer as JSON')
    .option('--port <port>', 'ask the health server on this local port instead of the pid file\'s process (for container health checks)')
    .action(async (opts: { json?: boolean; port?: string }) => {
      const target = resolveTarget(opts.port);
      const got = target.ok ? await getJson<{ status?: string; database?: string }>(`${target.healthUrl}/health`) : undefined;
      const healthy = got?.ok === true && got.status === 200 && got.body.status === 'ok';
      if (opts.json) {
        const body = got?.ok ? got.body : { status: 'unavailable', error: target.ok ? (got as { error: string }).error : target.reason };
        console.log(JSON.stringify({ ...body, ...(target.ok && target.record && { pid: target.record.pid }) }, null, 2));
      } else if (healthy) {
        console.log(`ok${target.ok && target.record ? ` (pid ${target.record.pid})` : ''}: database ${got.body.database ?? 'up'}`);
      } else if (!target.ok) {
        console.log(`unhealthy: ${target.reason}`);
      } else if (got?.ok) {
        console.log(`unhealthy: ${target.healthUrl}/health answered ${got.status}${got.body.database ? `, database ${got.body.database}` : ''}`);
      } else {
        console.log(`unhealthy: no answer from ${target.healthUrl}/health (${(got as { error: string }).error})`);
      }
      process.exitCode = healthy ? 0 : 1;
    });
}

/** False (and a message) when a live process holds the pid file; a stale one is removed. */
function claimable(pidPath: string): boolean {
  const state = inspectPidFile(pidPath);
  if (state.kind === 'running') {
    const r = state.record;
    console.error(`${CMD}: already running: pid ${r.pid}, roles ${r.roles.join(', ')}${r.healthUrl ? `, health ${r.healthUrl}` : ''} (${pidPath}); use \`nova worker stop\` or \`nova worker restart\``);
    process.exitCode = 1;
    return false;
  }
  if (state.kind === 'stale') {
    console.log(`removing stale pid file ${pidPath} (pid ${state.record.pid} is gone)`);
    rmSync(pidPath, { force: true });
  }
  if (state.kind === 'invalid') {
    console.log(`removing unreadable pid file ${pidPath} (${state.error})`);
    rmSync(pidPath, { force: true });
  }
  return true;
}

/**
 * Spawns `nova start` in its own session with output to the log file, and waits until it has
 * written the pid file (it does once its servers listen) and /health answers ok.
 */
async function startDetached(pidPath: string, roles: string[], logOption: string | undefined, timeoutMs: number): Promise<number> {
  const logPath = logOption ?? join(dirname(pidPath), 'nova.log');
  mkdirSync(dirname(logPath), { recursive: true });
  const out = openSync(logPath, 'a');
  const logFrom = fstatSync(out).size;
  // The same node, flags (tsx's loader when run from source) and entry point as this command.
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'start', ...roles], {
    detached: true, stdio: ['ignore', out, out], env: process.env,
  });
  closeSync(out);
  let exit: { code: number; why: string } | undefined;
  child.on('exit', (code, signal) => (exit = { code: code || 1, why: signal ?? String(code) }));
  child.on('error', (err) => (exit = { code: 1, why: err.message }));
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(100);
    if (exit !== undefined) {
      console.error(`${CMD}: nova exited (${exit.why}) before it was ready; the end of ${logPath}:\n${tail(logPath, logFrom, 20)}`);
      return exit.code;
    }
    const state = inspectPidFile(pidPath);
    if (state.kind !== 'running' || state.record.pid !== child.pid) continue;
    const r = state.record;
    const health = r.healthUrl ? await getJson<{ status?: string }>(`${r.healthUrl}/health`) : undefined;
    if (health && !(health.ok && health.body.status === 'ok')) continue;
    console.log([
      `nova started: pid ${r.pid}, roles ${r.roles.join(', ')}`,
      ...(r.healthUrl ? [`  health  ${r.healthUrl}/status`] : []),
      ...(r.apiUrl ? [`  api     ${r.apiUrl}`] : []),
      `  log     ${logPath}`,
      `  pid     ${pidPath}`,
    ].join('\n'));
    return 0;
  }
  console.error(`${CMD}: not healthy after ${duration(timeoutMs)}; pid ${child.pid} is still running (see ${logPath}, or \`nova worker stop\`)`);
  return 1;
}

/** Stops the pid file's process; a missing or stale pid file is not an error. */
async function stop(pidPath: string, timeoutMs?: number): Promise<number> {
  const state = inspectPidFile(pidPath);
  if (state.kind === 'none') {
    console.log(`not running (no pid file at ${pidPath})`);
    return 0;
  }
  if (state.kind !== 'running') {
    const why = state.kind === 'stale' ? `stale pid file ${pidPath}: pid ${state.record.pid} is gone` : `unreadable pid file ${pidPath} (${state.error})`;
    rmSync(pidPath, { force: true });
    console.log(`not running: ${why}; removed it`);
    return 0;
  }
  const r = state.record;
  const grace = timeoutMs ?? r.shutdownTimeoutMs + STOP_MARGIN_MS;
  const t0 = Date.now();
  try {
    process.kill(r.pid, 'SIGTERM');
  } catch (err) {
    console.error(`${CMD}: cannot signal pid ${r.pid}: ${(err as Error).message}`);
    return 1;
  }
  let killed = false;
  if (!(await exited(r, grace))) {
    killed = true;
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      // it ended between the check and the signal
    }
    if (!(await exited(r, 5000))) {
      console.error(`${CMD}: pid ${r.pid} is still there after SIGKILL`);
      return 1;
    }
  }
  // A process ended by SIGKILL cannot remove its own pid file.
  removePidFile(pidPath, r.pid);
  const took = duration(Date.now() - t0);
  console.log(killed ? `pid ${r.pid} did not stop within ${duration(grace)}; killed it` : `stopped nova (pid ${r.pid}) in ${took}`);
  return killed ? 1 : 0;
}

async function exited(record: PidRecord, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (isRunning(record)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

function resolveTarget(port: string | undefined): Target {
  if (port !== undefined) {
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65_535) fail(`--port: expected a port number, got "${port}"`);
    return { ok: true, healthUrl: `http://127.0.0.1:${port}` };
  }
  const pidPath = pidFile();
  const state = inspectPidFile(pidPath);
  switch (state.kind) {
    case 'none':
      return { ok: false, code: 3, reason: `not running (no pid file at ${pidPath})` };
    case 'invalid':
      return { ok: false, code: 1, reason: `unreadable pid file ${pidPath} (${state.error})` };
    case 'stale':
      return { ok: false, code: 1, reason: `not running: stale pid file ${pidPath} (pid ${state.record.pid} is gone; \`nova worker stop\` removes it)` };
    case 'running':
      if (!state.record.healthUrl) return { ok: false, code: 1, reason: `pid ${state.record.pid} runs without a health server` };
      return { ok: true, healthUrl: state.record.healthUrl, record: state.record };
  }
}

/** The readable `nova worker status`. */
export function describeStatus(s: StatusBody, target: { healthUrl: string; record?: PidRecord }): string {
  const r = target.record;
  const lines = [
    `nova is ${s.state ?? 'running'}: pid ${s.pid ?? r?.pid ?? '?'}, up ${duration(s.uptimeMs ?? 0)} (since ${s.startedAt ?? r?.startedAt ?? '?'}), version ${s.version ?? '?'}, database ${s.database ?? '?'}`,
    `  roles   ${(s.roles ?? r?.roles ?? []).join(', ') || '-'}`,
    `  health  ${target.healthUrl}`,
    ...(r?.apiUrl ? [`  api     ${r.apiUrl}`] : []),
    ...(s.memory?.rssBytes !== undefined ? [`  memory  ${megabytes(s.memory.rssBytes)} RSS`] : []),
  ];
  const queues = s.queues ?? [];
  if (queues.length) {
    lines.push('', table([
      // done / failed here: this process's own counts since it started; the rest are the queue's.
      ['queue', 'in flight', 'prefetched', 'done here', 'failed here', 'waiting', 'scheduled', 'dead', 'processed 1h', 'last poll'],
      ...queues.map((q) => [
        q.name, `${q.inFlight ?? 0}/${q.concurrency ?? '?'}`, String(q.buffered ?? 0), String(q.completed ?? 0), String(q.failed ?? 0),
        String(q.depth?.waiting ?? '-'), String(q.depth?.scheduled ?? '-'), String(q.depth?.dead ?? '-'),
        String(q.depth?.processedLastHour ?? '-'), ago(q.lastPollAt),
      ]),
    ], '  '));
  }
  const loops = s.loops ?? [];
  if (loops.length) {
    lines.push('', table([
      ['loop', 'leader', 'runs', 'failures', 'last run', 'last error'],
      ...loops.map((l) => [
        l.name, l.singleton ? (l.leader ? 'yes' : 'standby') : '-', String(l.runs ?? 0), String(l.failures ?? 0),
        ago(l.lastRunAt), l.lastError ? clip(l.lastError, 50) : '-',
      ]),
    ], '  '));
  }
  return lines.join('\n');
}

async function getJson<T>(url: string): Promise<{ ok: true; status: number; body: T } | { ok: false; error: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { ok: true, status: res.status, body: (await res.json()) as T };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { ok: false, error: e.cause?.code ?? e.message };
  }
}

function pidFile(): string {
  try {
    return pidFilePath(loadConfig());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

/** The last lines written to the log since `from` (its size before this start). */
function tail(path: string, from: number, lines: number): string {
  try {
    return readFileSync(path).subarray(from).toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function ms(value: string, flag: string): number {
  if (!/^\d+$/.test(value)) fail(`${flag}: expected milliseconds, got "${value}"`);
  return Number(value);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fail(message: string): never {
  console.error(`${CMD}: ${message}`);
  process.exit(1);
}
