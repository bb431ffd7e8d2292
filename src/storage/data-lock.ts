import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * The lock of an embedded data directory (NOVA_DATA_DIR). PGlite has one owner: a second
 * process on the same files steals leases, hangs or aborts in WebAssembly. So opening the
 * embedded database first creates `nova.lock` in the directory (exclusively), holding the pid,
 * host and start time; a lock whose process is gone (or whose pid now belongs to another program,
 * by the Linux start time) is stale and taken over. Released when the database closes and, as a
 * last resort, when the process exits.
 */

export const LOCK_FILE = 'nova.lock';

export interface LockRecord {
  pid: number;
  host: string;
  startedAt: string;
  /** Linux start time of the process (clock ticks since boot), to tell a reused pid from ours. */
  procStart: string | null;
}

/** Another live process holds the data directory. */
export class DataDirInUse extends Error {
  override name = 'DataDirInUse';
  constructor(
    readonly dataDir: string,
    readonly holder: LockRecord,
  ) {
    super(
      `NOVA_DATA_DIR ${dataDir} is in use by pid ${holder.pid} since ${holder.startedAt}; ` +
        'stop it or set NOVA_DATA_DIR (or DATABASE_URL) to use another database',
    );
  }
}

export interface DataDirLock {
  release(): void;
}

/*
 * Opens within one process share the lock (tests and the CLI may close and reopen the database):
 * the count lives as long as the process, which is what a lock of the process is.
 */
const held = new Map<string, number>();

/** One exit listener for the process, however many databases it opens and closes. */
let exitListener = false;
function removeHeldOnExit(): void {
  if (exitListener) return;
  exitListener = true;
  process.once('exit', () => {
    for (const path of held.keys()) removeIfOurs(path);
  });
}

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const count = held.get(path) ?? 0;
  if (count === 0) acquire(dataDir, path);
  held.set(path, count + 1);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const left = (held.get(path) ?? 1) - 1;
      if (left > 0) return void held.set(path, left);
      held.delete(path);
      removeIfOurs(path);
    },
  };
}

/** Whether `pid` is alive, not a zombie, and (on Linux) the same process that recorded `procStart`. */
export function processAlive(pid: number, procStart: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(pid);
  if (!stat) return true; // not Linux, or /proc hidden: the signal check is all we have
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return procStart === null || procStart === stat.start;
}

/** State and start time (fields 3 and 22 of /proc/<pid>/stat), or undefined off Linux. */
export function procStat(pid: number): { state: string; start: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = fields[19];
  return state && start ? { state, start } : undefined;
}

function acquire(dataDir: string, path: string): void {
  const mine: LockRecord = {
    pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), procStart: procStat(process.pid)?.start ?? null,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readLock(path);
      if (holder === 'fresh') throw new DataDirInUse(dataDir, { pid: 0, host: '?', startedAt: 'a moment ago', procStart: null });
      // A lock from another machine (a shared volume) cannot be checked here: honour it.
      if (holder && (holder.host !== hostname() || processAlive(holder.pid, holder.procStart))) throw new DataDirInUse(dataDir, holder);
      // Stale: its process is gone. Between this removal and our create another starter may win.
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(mine)}\n`);
    } finally {
      closeSync(fd);
    }
    removeHeldOnExit();
    return;
  }
  throw new Error(`could not take the lock ${path}: other processes keep replacing it`);
}

/**
 * The holder, undefined when the file is unreadable garbage (stale), or 'fresh' when it is
 * empty and new: its creator is between creating and writing it.
 */
function readLock(path: string): LockRecord | undefined | 'fresh' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const record = JSON.parse(text) as LockRecord;
    if (typeof record.pid === 'number') return record;
  } catch {
    // fall through
  }
  try {
    if (Date.now() - statSync(path).mtimeMs < 2000) return 'fresh';
  } catch {
    // gone meanwhile
  }
  return undefined;
}

function removeIfOurs(path: string): void {
  const holder = readLock(path);
  if (holder && holder !== 'fresh' && holder.pid === process.pid && holder.host === hostname()) rmSync(path, { force: true });
}
