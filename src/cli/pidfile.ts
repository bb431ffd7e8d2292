import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { processAlive, procStat } from '../storage/data-lock.ts';

/**
 * The pid file of a local Nova process (NOVA_PID_FILE, default `nova.pid` in NOVA_DATA_DIR):
 * JSON with the pid, the ports it listens on, its roles and start time. `nova start` writes it
 * once its servers listen (so `nova worker start --detach` can wait for it and print where the
 * process runs, even with WORKER_HEALTH_PORT=0) and removes it when it exits. `nova worker
 * stop|status|health|restart` read it.
 */

export const pidRecordSchema = z.object({
  pid: z.number().int().positive(),
  healthPort: z.number().int().nullable(),
  apiPort: z.number().int().nullable(),
  /** Where a client on this machine reaches the servers (a wildcard bind address becomes loopback). */
  healthUrl: z.string().nullable(),
  apiUrl: z.string().nullable(),
  roles: z.array(z.string()),
  startedAt: z.string(),
  /** The process's grace on SIGTERM; `nova worker stop` waits a little longer before SIGKILL. */
  shutdownTimeoutMs: z.number().int().nonnegative(),
  /** Linux start time of the process (clock ticks since boot), to tell a reused pid from ours. */
  procStart: z.string().nullable(),
});

export type PidRecord = z.infer<typeof pidRecordSchema>;

/** What a pid file says about its process. */
export type PidFileState =
  | { kind: 'none' }
  | { kind: 'invalid'; error: string }
  | { kind: 'stale'; record: PidRecord }
  | { kind: 'running'; record: PidRecord };

export function pidFilePath(config: Pick<Config, 'NOVA_PID_FILE' | 'NOVA_DATA_DIR'>): string {
  return config.NOVA_PID_FILE ?? join(config.NOVA_DATA_DIR, 'nova.pid');
}

export function inspectPidFile(path: string): PidFileState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  let parsed;
  try {
    parsed = pidRecordSchema.safeParse(JSON.parse(text));
  } catch (err) {
    return { kind: 'invalid', error: (err as Error).message };
  }
  if (!parsed.success) return { kind: 'invalid', error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { kind: isRunning(parsed.data) ? 'running' : 'stale', record: parsed.data };
}

/** Written through a temporary file and a rename, so a reader never sees half a record. */
export function writePidFile(path: string, record: PidRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Removes the pid file if it still names `pid` (another process may have taken it since). */
export function removePidFile(path: string, pid: number): void {
  const state = inspectPidFile(path);
  if ((state.kind === 'running' || state.kind === 'stale') && state.record.pid === pid) rmSync(path, { force: true });
}

/**
 * Whether the recorded process is still the one that wrote the file: alive, not a zombie (a
 * detached process's new parent may never reap it), and on Linux started when the file says,
 * so a pid the system gave to another program after ours died counts as gone.
 */
export function isRunning(record: Pick<PidRecord, 'pid' | 'procStart'>): boolean {
  return processAlive(record.pid, record.procStart);
}

/**
 * Called by `nova start` once the runtime listens: records this process unless a live process
 * already holds the file (several processes may share a directory, as tests and compose do), and
 * removes it on exit. Never fails the start: without a pid file only the worker commands lose
 * sight of this process. Unwritable is a warning only when NOVA_PID_FILE was set explicitly.
 */
export function holdPidFile(
  config: Config,
  runtime: { healthPort: number | undefined; apiPort: number | undefined; roles: Set<string>; log: Logger },
): void {
  const path = pidFilePath(config);
  try {
    const current = inspectPidFile(path);
    if (current.kind === 'running' && current.record.pid !== process.pid) {
      runtime.log.info(`pid file ${path} belongs to running process ${current.record.pid}; not writing it`);
      return;
    }
    writePidFile(path, {
      pid: process.pid,
      healthPort: runtime.healthPort ?? null,
      apiPort: runtime.apiPort ?? null,
      healthUrl: runtime.healthPort === undefined ? null : localUrl(config.NOVA_HEALTH_HOST, runtime.healthPort),
      apiUrl: runtime.apiPort === undefined ? null : localUrl(config.API_HOST, runtime.apiPort),
      roles: [...runtime.roles],
      startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
      shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      procStart: procStat(process.pid)?.start ?? null,
    });
  } catch (err) {
    const level = config.NOVA_PID_FILE ? 'warn' : 'debug';
    runtime.log[level](`could not write pid file ${path}; nova worker commands will not see this process`, { error: err });
    return;
  }
  process.on('exit', () => {
    try {
      removePidFile(path, process.pid);
    } catch {
      // exiting anyway; a leftover file is reported as stale later
    }
  });
}

/** A URL a client on this machine can use for a server bound to `host`. */
export function localUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}
