import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRunning, type PidRecord } from '../src/cli/pidfile.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { pgliteAt } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';

/**
 * `nova worker …` and `nova queue …` as an operator runs them: the real CLI, a real detached Nova
 * process on the embedded database (role `api`, ports picked by the system and found through the
 * pid file), and the management API for the queue commands.
 */

const QUEUE = 'cli.test';
const TOKEN = 'worker-cli-test-token-0123456789';

describe('nova worker and nova queue', () => {
  let dir: string;
  let env: Record<string, string>;
  let pidPath: string;
  /** Every Nova pid a test saw, killed in afterAll whatever happened. */
  const seen = new Set<number>();

  const nova = async (args: string[], extra: Record<string, string> = {}) => {
    const proc = spawnNova(args, { ...env, ...extra }, 'src/cli/main.ts');
    const code = await proc.exited;
    const out = proc.output();
    for (const m of out.matchAll(/pid (\d+)/g)) seen.add(Number(m[1]));
    return { code, out };
  };
  const record = () => JSON.parse(readFileSync(pidPath, 'utf8')) as PidRecord;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nova-worker-cli-'));
    const dataDir = join(dir, 'db');
    pidPath = join(dataDir, 'nova.pid');
    env = { NOVA_DATA_DIR: dataDir, WORKER_TYPE: 'api', PORT: '0', API_HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '5000', NODE_ENV: 'test' };
    // Three dead letters for the queue commands, written before Nova owns the embedded database.
    const sql = await pgliteAt(dataDir);
    const queue = new QueueClient(sql);
    await queue.sendBatch(QUEUE, [1, 2, 3].map((n) => ({ payload: { n } })));
    const jobs = await queue.claim(QUEUE, { limit: 3, leaseMs: 60_000, workerId: 'test' });
    for (const job of jobs) await queue.fail(job, new Error(`boom ${job.id}`), { retryDelayMs: 0, dead: true });
    await sql.close();
  });

  afterAll(() => {
    for (const pid of seen) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts detached, reports status and health, serves the queue commands, restarts and stops', { timeout: 180_000 }, async () => {
    const started = await nova(['worker', 'start', '--detach']);
    expect(started.code, started.out).toBe(0);
    const first = record();
    expect(started.out).toContain(`nova started: pid ${first.pid}, roles api`);
    expect(started.out).toContain(`health  ${first.healthUrl}/status`);
    expect(first.healthPort).toBeGreaterThan(0);
    expect(first.apiPort).toBeGreaterThan(0);
    expect(first.roles).toEqual(['api']);
    expect(isRunning(first)).toBe(true);

    const status = await nova(['worker', 'status']);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toContain(`nova is running: pid ${first.pid}`);
    expect(status.out).toMatch(/roles {3}api/);
    expect(status.out).toContain('nova:retention');
    const json = await nova(['worker', 'status', '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ pid: first.pid, roles: ['api'], state: 'running', database: 'pglite' });

    const health = await nova(['worker', 'health']);
    expect(health.code, health.out).toBe(0);
    expect(health.out).toMatch(/^ok \(pid \d+\): database up/);
    const byPort = await nova(['worker', 'health', '--port', String(first.healthPort), '--json']);
    expect(byPort.code).toBe(0);
    expect(JSON.parse(byPort.out)).toMatchObject({ status: 'ok', database: 'up' });

    const twice = await nova(['worker', 'start', '--detach']);
    expect(twice.code).toBe(1);
    expect(twice.out).toContain(`already running: pid ${first.pid}`);

    // nova queue, against the API this process serves.
    const api = { NOVA_API_URL: first.apiUrl! };
    const stats = await nova(['queue', 'stats', '--json'], api);
    expect(stats.code, stats.out).toBe(0);
    expect(JSON.parse(stats.out).queues).toContainEqual(expect.objectContaining({ name: QUEUE, dead: 3, waiting: 0 }));
    const table = await nova(['queue', 'stats'], api);
    // waiting, scheduled (of which retries), active, dead
    expect(table.out).toMatch(new RegExp(`${QUEUE.replace('.', '\\.')}\\s+0\\s+0 \\(0\\)\\s+0\\s+3`));
    const dead = await nova(['queue', 'jobs', QUEUE, '--state', 'dead'], api);
    expect(dead.code, dead.out).toBe(0);
    expect(dead.out).toContain('Error: boom');
    const ids = (JSON.parse((await nova(['queue', 'jobs', QUEUE, '--state', 'dead', '--json'], api)).out) as { jobs: { id: number }[] }).jobs.map((j) => j.id);
    expect(ids).toHaveLength(3);
    const shown = await nova(['job', 'show', String(ids[0])], api);
    expect(shown.code, shown.out).toBe(0);
    expect(shown.out).toContain(`job ${ids[0]} on ${QUEUE}: dead`);
    expect(shown.out).toMatch(/error {5}Error: boom/);
    expect(shown.out).toContain(`retry     nova queue retry ${ids[0]}`);
    // With NOVA_API_URL unset, the pid file says where the API listens (PORT=0 here).
    const found = await nova(['queue', 'jobs', QUEUE, '--state', 'dead', '--where', 'n=2']);
    expect(found.code, found.out).toBe(0);
    expect(found.out.split('\n').filter((l) => /^\d+ /.test(l))).toHaveLength(1);
    const backfills = await nova(['backfill', 'list']);
    expect(backfills.out).toContain('no backfill has run yet');

    const retried = await nova(['queue', 'retry', String(ids[0])], api);
    expect(retried.code, retried.out).toBe(0);
    expect(retried.out).toContain(`job ${ids[0]} (${QUEUE}) is waiting again`);
    const again = await nova(['queue', 'retry', String(ids[0])], api);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/409 .*only dead or scheduled jobs/);
    const redriven = await nova(['queue', 'redrive', QUEUE], api);
    expect(redriven.code, redriven.out).toBe(0);
    expect(redriven.out).toContain(`redrove 2 dead job(s) of ${QUEUE}`);
    expect(JSON.parse((await nova(['queue', 'stats', QUEUE, '--json'], api)).out)).toMatchObject({ waiting: 3, dead: 0 });
    const missing = await nova(['queue', 'jobs', 'no.such.queue'], api);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('404 no queue no.such.queue');

    // restart: same roles, a new process; it inherits this environment, so now it wants a token.
    const restarted = await nova(['worker', 'restart'], { NOVA_API_TOKEN: TOKEN });
    expect(restarted.code, restarted.out).toBe(0);
    const second = record();
    expect(restarted.out).toContain(`stopped nova (pid ${first.pid})`);
    expect(second.pid).not.toBe(first.pid);
    expect(second.roles).toEqual(['api']);
    expect(isRunning(first)).toBe(false);
    const refused = await nova(['queue', 'stats'], { NOVA_API_URL: second.apiUrl! });
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('401 unauthorized: the API requires a token; set NOVA_API_TOKEN');
    const allowed = await nova(['queue', 'stats'], { NOVA_API_URL: second.apiUrl!, NOVA_API_TOKEN: TOKEN });
    expect(allowed.code, allowed.out).toBe(0);

    const stopped = await nova(['worker', 'stop']);
    expect(stopped.code, stopped.out).toBe(0);
    expect(stopped.out).toContain(`stopped nova (pid ${second.pid})`);
    expect(existsSync(pidPath)).toBe(false);
    expect(isRunning(second)).toBe(false);
    expect(readFileSync(join(dir, 'db', 'nova.log'), 'utf8')).toContain('received SIGTERM');

    const after = await nova(['worker', 'status']);
    expect(after.code).toBe(3);
    expect(after.out).toContain(`not running (no pid file at ${pidPath})`);
    const unhealthy = await nova(['worker', 'health']);
    expect(unhealthy.code).toBe(1);
    expect(unhealthy.out).toMatch(/^unhealthy: not running/);
    expect((await nova(['worker', 'stop'])).code).toBe(0);
  });

  it('reports a stale pid file, removes it on stop, and starts over one', { timeout: 120_000 }, async () => {
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => gone.on('exit', r));
    const stale: PidRecord = {
      pid: gone.pid!, healthPort: 1, apiPort: null, healthUrl: 'http://127.0.0.1:1', apiUrl: null, roles: ['api'],
      startedAt: new Date().toISOString(), shutdownTimeoutMs: 1000, procStart: null,
    };
    writeFileSync(pidPath, JSON.stringify(stale));

    const status = await nova(['worker', 'status']);
    expect(status.code).toBe(1);
    expect(status.out).toContain(`not running: stale pid file ${pidPath} (pid ${stale.pid} is gone`);
    const health = await nova(['worker', 'health']);
    expect(health.code).toBe(1);
    expect(health.out).toMatch(/^unhealthy: not running: stale pid file/);
    const stop = await nova(['worker', 'stop']);
    expect(stop.code).toBe(0);
    expect(stop.out).toContain(`not running: stale pid file ${pidPath}: pid ${stale.pid} is gone; removed it`);
    expect(existsSync(pidPath)).toBe(false);

    // A live pid that belongs to another program (the pid was reused) is stale too, and is never signalled.
    if (existsSync('/proc/self/stat')) {
      const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
      try {
        writeFileSync(pidPath, JSON.stringify({ ...stale, pid: other.pid, procStart: '1' }));
        expect((await nova(['worker', 'status'])).code).toBe(1);
        expect((await nova(['worker', 'stop'])).out).toContain('removed it');
        expect(other.exitCode).toBeNull();
        expect(other.signalCode).toBeNull();
      } finally {
        other.kill('SIGKILL');
      }
    }

    writeFileSync(pidPath, JSON.stringify(stale));
    const started = await nova(['worker', 'start', '--detach', 'api']);
    expect(started.code, started.out).toBe(0);
    expect(started.out).toContain(`removing stale pid file ${pidPath} (pid ${stale.pid} is gone)`);
    const running = record();
    expect(running.pid).not.toBe(stale.pid);
    expect((await nova(['worker', 'health'])).code).toBe(0);
    const stopped = await nova(['worker', 'stop']);
    expect(stopped.code, stopped.out).toBe(0);
    expect(isRunning(running)).toBe(false);
  });

  it('reports a process that exits before it is ready, with its exit code and its part of the log', { timeout: 60_000 }, async () => {
    const failed = await nova(['worker', 'start', '--detach', 'no-such-role']);
    // The child's own exit code comes through: 78 is a bad configuration.
    expect(failed.code).toBe(78);
    expect(failed.out).toMatch(/nova exited \(78\) before it was ready; the end of .*nova\.log:\nnova start: unknown role argument "no-such-role"/);
    // Only this start's lines, not the earlier runs appended to the same log.
    expect(failed.out).not.toContain('Nova started');
    expect(existsSync(pidPath)).toBe(false);
  });
});

describe('nova --version', () => {
  it('prints the version of package.json', async () => {
    const proc = spawnNova(['--version'], {}, 'src/cli/main.ts');
    expect(await proc.exited).toBe(0);
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(proc.output().trim()).toBe(version);
  });
});
