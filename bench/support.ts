/**
 * What several benchmarks share: a scratch PostgreSQL database, built Nova processes, and
 * readings from /proc (RSS and CPU of a process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import postgres from 'postgres';
import { migrate, openPostgres, type Sql } from '../src/storage/index.ts';

export interface ScratchDatabase {
  url: string;
  sql: Sql;
  drop(): Promise<void>;
}

/** A new, migrated database `nova_bench_<random>` on the server of `serverUrl`. */
export async function scratchDatabase(serverUrl: string): Promise<ScratchDatabase> {
  const name = `nova_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  // BENCH_LOG_STATEMENTS=true: the server logs every statement of the scratch database with its duration.
  if (process.env.BENCH_LOG_STATEMENTS === 'true') await admin.unsafe(`alter database ${name} set log_min_duration_statement = 0`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const sql = openPostgres({ url: url.toString(), poolSize: 4, connection: { application_name: 'nova-bench' } });
  await migrate(sql);
  return {
    url: url.toString(),
    sql,
    async drop() {
      await sql.close();
      // BENCH_KEEP_DB=true keeps the scratch database for a look afterwards (jobs, attempts, runs).
      if (process.env.BENCH_KEEP_DB === 'true') {
        console.log(`kept the scratch database ${name}`);
        await admin.end();
        return;
      }
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export interface NovaChild {
  child: ChildProcess;
  /** The API port, when the process runs the `api` role. */
  apiPort: number;
  /** The health server's port (WORKER_HEALTH_PORT=0 picks one). */
  healthPort: number;
  stop(): Promise<void>;
}

/**
 * Starts `node dist/cli/main.js start <roles>` (the built CLI, as production runs it: tsx would
 * add its own memory to RSS figures) and resolves once it logged "Nova started".
 */
export function startNova(roles: string, env: Record<string, string>): Promise<NovaChild> {
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, 'dist/cli/main.js', 'start', roles], {
    env: {
      PATH: process.env.PATH ?? '', NOVA_LOG_FORMAT: 'json', LOG_LEVEL: 'info', WORKER_HEALTH_PORT: '0',
      NOVA_HEALTH_HOST: '127.0.0.1', NODE_ENV: 'production', ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const started = out.split('\n').find((l) => l.includes('"Nova started"'));
      if (!started) return;
      child.stdout!.off('data', onData);
      // Keep draining stdout so the child never blocks on a full pipe; warnings still show.
      child.stdout!.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) if (/"level":"(warn|error)"/.test(line)) console.error(`  [${roles}] ${line.slice(0, 300)}`);
      });
      resolve({
        child,
        apiPort: JSON.parse(started).apiPort ?? 0,
        healthPort: JSON.parse(started).healthPort ?? 0,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${roles} exited with ${code}: ${out}`)));
  });
}

/** Resident set size of a process in bytes; 0 once it is gone. */
export function rssBytes(pid: number | undefined): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, ms) of a process, from /proc; 0 once it is gone. */
export function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

/**
 * CPU time (ms) of a local PostgreSQL server: the postmaster named by BENCH_PG_PID_FILE (a local
 * cluster's postmaster.pid, e.g. /var/lib/postgresql/15/main/postmaster.pid) and its children;
 * null when the variable is unset.
 */
export function serverCpuMs(pidFile = process.env.BENCH_PG_PID_FILE): number | null {
  if (!pidFile) return null;
  const master = readFileSync(pidFile, 'utf8').split('\n')[0]!;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      // Fields after the command: state, ppid, ... utime (12th), stime (13th), in clock ticks.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (pid === master || fields[1] === master) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** Samples the peak RSS of some processes until stopped. */
export function peakRss(pids: () => (number | undefined)[], everyMs = 100): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    for (const pid of pids()) peak = Math.max(peak, rssBytes(pid));
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** A positive integer from the environment, or `def` when unset or not one. */
export function envInt(name: string, def: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : def;
}

/** Percentile `p` (0–100) of some numbers, nearest rank. */
export const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
/** `p50 … ms, p99 … ms` of some durations. */
export const p50p99 = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;

/**
 * What the workflow benches (workflows, approvals, agents) run in this process: a scratch
 * database and a workflow engine of the shipped examples on it, to start runs and decide
 * approvals; with `listen`, its event hub hears the runs' events from the Nova processes.
 */
export async function workflowBench(serverUrl: string, { listen = true } = {}) {
  // Imported here, not at the top: the other benches using this file need not load the domain.
  const [{ loadConfig }, { silentLogger }, { EventHub }, { QueueClient }, { RateLimiter }, { exampleWorkflows }, { setupWorkflows }] = await Promise.all([
    import('../src/config.ts'), import('../src/log.ts'), import('../src/queue/events.ts'), import('../src/queue/queue.ts'),
    import('../src/runtime/rate-limit.ts'), import('../src/workflows/examples.ts'), import('../src/workflows/index.ts'),
  ]);
  const db = await scratchDatabase(serverUrl);
  const events = new EventHub();
  const services = {
    config: loadConfig({}), sql: db.sql, queue: new QueueClient(db.sql, events), events, rateLimiter: new RateLimiter(db.sql),
    processId: 'bench', log: silentLogger,
  };
  const engine = setupWorkflows(services, exampleWorkflows);
  if (listen) {
    await events.connect(db.sql);
    await events.listening;
  }
  return { db, events, services, engine };
}
