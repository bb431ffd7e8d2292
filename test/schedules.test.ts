import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { silentLogger } from '../src/log.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Domain } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { createSchedule, createScheduler, getSchedule, type ScheduleDefinition } from '../src/runtime/schedules.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface JobRow {
  id: number;
  payload: { scheduledFor: string; [k: string]: unknown };
  dedup_key: string;
  created_at: Date;
}

/** Jobs of a queue, live and finished. */
async function jobsOf(db: TestDb, queue: string): Promise<JobRow[]> {
  return db.sql.query<JobRow>(
    `select id, payload, dedup_key, created_at from nova_jobs where queue = $1
     union all select id, payload, dedup_key, created_at from nova_job_results where queue = $1 order by id`,
    [queue],
  );
}

describe.each(backends)('schedules on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(() => db.drop());

  it('fires each occurrence of a per-second schedule exactly once across 3 runtimes', async () => {
    const handled: string[] = [];
    // Consumers finish the jobs at once, so the dedup key is free again: a second firing of an
    // occurrence would show up as a second job, not be absorbed by the dedup key.
    const domain = (): Domain => ({
      name: 'tick', roles: ['tick'],
      queues: [{ name: 'sched.tick', role: 'tick', concurrency: 4, handler: async (p) => void handled.push((p as { scheduledFor: string }).scheduledFor) }],
      schedules: [{ name: 'every-second', cron: '* * * * * *', queue: 'sched.tick', payload: { kind: 'tick' } }],
    });
    // On PostgreSQL each runtime has its own pool (as separate processes would); on PGlite they share one.
    const runtimes = await Promise.all([1, 2, 3].map(() => startRuntime(db, [domain()], { WORKER_TYPE: 'tick', NOVA_RETAIN_COMPLETED: '10000' })));
    try {
      await sleep(5_200);
    } finally {
      await Promise.all(runtimes.map((r) => r.stop()));
      // The later tests' schedulers need not keep firing it (also when an assertion below fails).
      await db.sql.query(`update nova_schedules set enabled = false where name = 'every-second'`);
    }
    const jobs = await jobsOf(db, 'sched.tick');
    const times = jobs.map((j) => Date.parse(j.payload.scheduledFor)).sort((a, b) => a - b);
    expect(times.length).toBeGreaterThanOrEqual(4);
    expect(new Set(times).size).toBe(times.length);
    // Consecutive seconds, none missing.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    for (const j of jobs) {
      expect(j.payload.kind).toBe('tick');
      expect(j.dedup_key).toBe(`schedule:every-second:${j.payload.scheduledFor}`);
    }
    // Every finished job was handled once; an occurrence fired as the runtimes stopped may wait
    // unhandled for the next start, queued (handed back), never lost.
    const finished = await db.sql.query<{ at: string }>(`select payload->>'scheduledFor' as at from nova_job_results where queue = 'sched.tick'`);
    expect(handled.sort()).toEqual(finished.map((r) => r.at).sort());
    const left = await db.sql.query<{ state: string }>(`select state from nova_jobs where queue = 'sched.tick'`);
    expect(left.length).toBeLessThanOrEqual(1);
    expect(left.every((r) => r.state === 'queued')).toBe(true);
    const row = await getSchedule(db.sql, 'every-second');
    expect(row).toMatchObject({ source: 'code', enabled: false, lastJobId: jobs.at(-1)!.id });
    expect(row!.lastRunAt!.getTime()).toBe(times.at(-1));
  });

  it('lets one scheduler alone claim each occurrence (the row lock, not only the dedup key)', async () => {
    await createSchedule(db.sql, { name: 'contended', cron: '* * * * * *', queue: 'sched.contended' });
    const claims: string[] = [];
    const schedulers = await Promise.all([1, 2, 3].map(async () => {
      const sql = await db.connect();
      return createScheduler({ sql, queue: new QueueClient(sql), log: silentLogger, onFired: (r) => claims.push(...r.fired.map((f) => f.occurrence)) });
    }));
    await Promise.all(schedulers.map((s) => s.start()));
    try {
      await sleep(3_200);
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
      await db.sql.query(`update nova_schedules set enabled = false where name = 'contended'`);
    }
    expect(claims.length).toBeGreaterThanOrEqual(2);
    expect(new Set(claims).size).toBe(claims.length);
    expect((await jobsOf(db, 'sched.contended')).map((j) => j.payload.scheduledFor).sort()).toEqual([...claims].sort());
  });

  it('skips or runs once the occurrences missed during downtime, within the catch-up window', async () => {
    const yearly = (name: string, extra: Partial<ScheduleDefinition>): ScheduleDefinition => ({
      name, cron: '0 0 1 1 *', timezone: 'UTC', queue: `missed.${name}`, ...extra,
    });
    await createSchedule(db.sql, yearly('skipper', { missed: 'skip' }));
    await createSchedule(db.sql, yearly('runner', { missed: 'run-once' }));
    await createSchedule(db.sql, yearly('recent-only', { missed: 'run-once', catchUpMs: 86_400_000 }));
    // Down since 2020: the occurrences of 2020-2026 were missed (this machine's clock reads late 2026).
    await db.sql.query(`update nova_schedules set next_run_at = '2020-01-01T00:00:00Z' where name in ('skipper', 'runner', 'recent-only')`);
    const latestMissed = new Date(Date.UTC(new Date().getUTCFullYear(), 0, 1)).toISOString();
    const nextYear = new Date(Date.UTC(new Date().getUTCFullYear() + 1, 0, 1));

    const scheduler = createScheduler({ sql: db.sql, queue: new QueueClient(db.sql), log: silentLogger });
    await scheduler.start();
    try {
      await until(async () => {
        const rows = await db.sql.query<{ n: number }>(
          `select count(*)::int as n from nova_schedules where name in ('skipper', 'runner', 'recent-only') and next_run_at > now()`,
        );
        return rows[0]!.n === 3;
      }, 10_000, 'missed schedules advanced');
    } finally {
      await scheduler.stop();
    }
    expect(await jobsOf(db, 'missed.skipper')).toEqual([]);
    expect(await jobsOf(db, 'missed.recent-only')).toEqual([]);
    const ran = await jobsOf(db, 'missed.runner');
    expect(ran.map((j) => j.payload.scheduledFor)).toEqual([latestMissed]);
    for (const name of ['skipper', 'runner', 'recent-only']) expect((await getSchedule(db.sql, name))!.nextRunAt).toEqual(nextYear);
    expect(await getSchedule(db.sql, 'runner')).toMatchObject({ lastJobId: ran[0]!.id, lastRunAt: new Date(latestMissed) });
    expect(await getSchedule(db.sql, 'skipper')).toMatchObject({ lastJobId: null, lastRunAt: null });
  });

  it('keeps a declared schedule\'s next run across restarts unless its cron or time zone changes', async () => {
    const declare = (def: Partial<ScheduleDefinition>): Domain => ({
      name: 'brief', roles: ['brief'],
      schedules: [{ name: 'daily-brief', cron: '0 8 * * *', timezone: 'America/New_York', queue: 'brief', ...def }],
    });
    const restart = async (def: Partial<ScheduleDefinition>) => (await startRuntime(db, [declare(def)], { WORKER_TYPE: 'brief' })).stop();
    await restart({});
    const first = await getSchedule(db.sql, 'daily-brief');
    expect(first).toMatchObject({ source: 'code', timezone: 'America/New_York', missed: 'skip' });
    expect(first!.nextRunAt!.getUTCMinutes()).toBe(0);
    expect([12, 13]).toContain(first!.nextRunAt!.getUTCHours());

    // An operator disabled it and it is due at a chosen time: a restart changes neither.
    const pinned = new Date(Date.now() + 3_600_000);
    await db.sql.query(`update nova_schedules set next_run_at = $1, enabled = false where name = 'daily-brief'`, [pinned]);
    await restart({ payload: { edition: 2 } });
    expect(await getSchedule(db.sql, 'daily-brief')).toMatchObject({ nextRunAt: pinned, enabled: false, payload: { edition: 2 } });

    await restart({ timezone: 'Europe/Paris', payload: { edition: 2 } });
    const moved = await getSchedule(db.sql, 'daily-brief');
    expect(moved!.nextRunAt).not.toEqual(pinned);
    expect([6, 7]).toContain(moved!.nextRunAt!.getUTCHours());

    await expect(startRuntime(db, [declare({ name: 'bad-brief', cron: '0 25 * * *' })], { WORKER_TYPE: 'brief' }))
      .rejects.toThrow(/schedule "bad-brief": invalid cron "0 25 \* \* \*": Invalid value for hour: 25/);
  });

  it('notifies the schedulers of changes that may fire sooner, not of their own advance', async () => {
    const heard: string[] = [];
    const unlisten = await db.sql.listen('nova_schedules', (name) => heard.push(name));
    const expectHeard = async (names: string[]) => {
      await sleep(150);
      expect(heard.splice(0)).toEqual(names);
    };
    try {
      await createSchedule(db.sql, { name: 'notified', cron: '0 * * * *', queue: 'n' });
      await expectHeard(['notified']);
      // The scheduler's advance: later.
      await db.sql.query(`update nova_schedules set next_run_at = next_run_at + interval '1 hour', last_run_at = now() where name = 'notified'`);
      await expectHeard([]);
      await db.sql.query(`update nova_schedules set enabled = false where name = 'notified'`);
      await expectHeard([]);
      await db.sql.query(`update nova_schedules set enabled = true where name = 'notified'`);
      await expectHeard(['notified']);
      await db.sql.query(`update nova_schedules set next_run_at = now() + interval '1 minute' where name = 'notified'`);
      await expectHeard(['notified']);
      await createSchedule(db.sql, { name: 'born-disabled', cron: '0 * * * *', queue: 'n', enabled: false });
      await expectHeard([]);
    } finally {
      await unlisten();
      await db.sql.query(`delete from nova_schedules where name in ('notified', 'born-disabled')`);
    }
  });

  describe('API and CLI', () => {
    let runtime: Runtime;
    let base: string;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method, ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      return { status: res.status, body: (await res.json()) as any };
    };

    beforeAll(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      runtime = await startRuntime(db, domains, { WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1' }, { health: true });
    });
    afterAll(() => runtime?.stop());

    it('refuses a bad cron, time zone, name or body with 400 and the reason', async () => {
      const ok = { name: 'report', cron: '0 8 * * 1-5', queue: 'reports' };
      let res = await call('POST', '/api/schedules', { ...ok, cron: '0 8 * * 1-9' });
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: 'invalid_request', message: expect.stringMatching(/^cron: invalid cron "0 8 \* \* 1-9": .*day-of-week|dayOfWeek/) });
      res = await call('POST', '/api/schedules', { ...ok, timezone: 'Europe/Atlantis' });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^timezone: unknown time zone "Europe\/Atlantis"/);
      res = await call('POST', '/api/schedules', { ...ok, name: 'has space' });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/^name: must be 1-200 letters/);
      res = await call('POST', '/api/schedules', { ...ok, missed: 'later', extra: 1 });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/missed: .*"skip"/);
      res = await call('POST', '/api/schedules', { ...ok, cron: '0 0 0 1 1 * 2020' });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/cron: "0 0 0 1 1 \* 2020" has no occurrence after now/);
      expect((await call('GET', '/api/schedules')).body.schedules.map((s: { name: string }) => s.name)).not.toContain('report');
    });

    it('creates, lists, disables, triggers and deletes a schedule, and shows it in /status', async () => {
      let res = await call('POST', '/api/schedules', {
        name: 'nightly', cron: '0 3 * * *', timezone: 'Europe/Paris', queue: 'nightly.jobs', payload: { scope: 'all' }, missed: 'run-once', catchUpMs: 3_600_000,
      });
      expect(res.status).toBe(201);
      expect(res.body.schedule).toMatchObject({
        name: 'nightly', cron: '0 3 * * *', timezone: 'Europe/Paris', queue: 'nightly.jobs', payload: { scope: 'all' },
        missed: 'run-once', catchUpMs: 3_600_000, enabled: true, source: 'api', lastRunAt: null, lastJobId: null,
      });
      expect(Date.parse(res.body.schedule.nextRunAt)).toBeGreaterThan(Date.now());
      expect((await call('POST', '/api/schedules', { name: 'nightly', cron: '* * * * *', queue: 'x' })).status).toBe(409);

      res = await call('PATCH', '/api/schedules/nightly', { enabled: false });
      expect(res.body.schedule.enabled).toBe(false);
      res = await call('POST', '/api/schedules/nightly/trigger');
      expect(res.status).toBe(200);
      expect(res.body.occurrence).toMatch(/^manual:\d{4}-\d\d-\d\dT/);
      const job = (await call('GET', `/api/jobs/${res.body.jobId}`)).body;
      expect(job).toMatchObject({ queue: 'nightly.jobs', dedupKey: `schedule:nightly:${res.body.occurrence}`, payload: { scope: 'all' } });
      expect(`manual:${job.payload.scheduledFor}`).toBe(res.body.occurrence);

      const listed = (await call('GET', '/api/schedules')).body.schedules.find((s: { name: string }) => s.name === 'nightly');
      expect(listed).toMatchObject({ enabled: false, lastJobId: res.body.jobId, lastRunAt: job.payload.scheduledFor });
      const status = (await (await fetch(`http://127.0.0.1:${runtime.healthPort}/status`)).json()) as any;
      expect(status.schedules.running).toBe(true);
      expect(status.schedules.schedules.find((s: { name: string }) => s.name === 'nightly')).toMatchObject({
        enabled: false, lastJobId: res.body.jobId, nextRunAt: listed.nextRunAt,
      });

      expect((await call('PATCH', '/api/schedules/nightly', { enabled: true })).body.schedule.enabled).toBe(true);
      expect((await call('DELETE', '/api/schedules/nightly')).body).toEqual({ deleted: true });
      expect((await call('DELETE', '/api/schedules/nightly')).status).toBe(404);
      expect((await call('POST', '/api/schedules/nightly/trigger')).status).toBe(404);
      expect((await call('PATCH', '/api/schedules/nightly', { enabled: true })).status).toBe(404);
    });

    it('refuses to delete a schedule a domain declares', async () => {
      const res = await call('DELETE', '/api/schedules/every-second');
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('declared_in_code');
    });

    it('fires a schedule created through the API within a second or so of its occurrence', async () => {
      expect((await call('POST', '/api/schedules', { name: 'fast', cron: '* * * * * *', queue: 'fast.jobs' })).status).toBe(201);
      await until(async () => (await jobsOf(db, 'fast.jobs')).length >= 2, 5_000, 'two occurrences');
      await call('DELETE', '/api/schedules/fast');
      const [a, b] = await jobsOf(db, 'fast.jobs');
      expect(Date.parse(b!.payload.scheduledFor) - Date.parse(a!.payload.scheduledFor)).toBe(1000);
    });

    it('manages schedules with `nova schedule` through the API', async () => {
      const cli = async (...args: string[]) => {
        const p = spawnNova(['schedule', ...args], { NOVA_API_URL: base }, 'src/cli/main.ts');
        return { code: await p.exited, out: p.output() };
      };
      let r = await cli('add', 'cli-report', '--cron', '30 7 * * 1-5', '--tz', 'America/New_York', '--queue', 'reports', '--payload', '{"team":"a"}', '--missed', 'run-once', '--catch-up', '2h');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/added schedule cli-report: next run /);
      expect(await getSchedule(db.sql, 'cli-report')).toMatchObject({
        cron: '30 7 * * 1-5', timezone: 'America/New_York', payload: { team: 'a' }, missed: 'run-once', catchUpMs: 7_200_000,
      });
      r = await cli('add', 'cli-bad', '--cron', '99 * * * *', '--queue', 'reports');
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/nova schedule: POST \/api\/schedules: 400 cron: invalid cron "99 \* \* \* \*"/);
      r = await cli('trigger', 'cli-report');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/fired cli-report: job \d+ on reports/);
      r = await cli('list');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/cli-report\s+30 7 \* \* 1-5\s+America\/New_York\s+reports\s+on/);
      r = await cli('remove', 'cli-report');
      expect(r.out).toMatch(/removed schedule cli-report/);
      expect(await getSchedule(db.sql, 'cli-report')).toBeUndefined();
    });
  });
});
