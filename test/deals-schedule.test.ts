import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDealsDomain, DAILY_BRIEF_SCHEDULE, queueAllDailyBriefs } from '../src/deals/index.ts';
import { BRIEF_FANOUT_QUEUE, DAILY_BRIEF_QUEUE } from '../src/deals/queues.ts';
import * as store from '../src/deals/store.ts';
import { loadNovaConfig } from '../src/domains.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { getSchedule } from '../src/runtime/schedules.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface JobRow {
  payload: { scheduledFor?: string; dealId?: string; date?: string };
  dedup_key: string | null;
}

async function jobsOf(db: TestDb, queue: string): Promise<JobRow[]> {
  return db.sql.query<JobRow>(
    `select payload, dedup_key from nova_jobs where queue = $1 union all select payload, dedup_key from nova_job_results where queue = $1`,
    [queue],
  );
}

describe('deals schedule config', () => {
  it('reads DAILY_BRIEF_TIME and TIMEZONE with the seed defaults, and refuses a bad zone or cron', () => {
    const config = loadNovaConfig({});
    expect([config.DAILY_BRIEF_TIME, config.TIMEZONE]).toEqual(['0 8 * * *', 'America/New_York']);
    expect(() => loadNovaConfig({ TIMEZONE: 'Mars/Olympus' })).toThrow(/TIMEZONE/);
    expect(() => loadNovaConfig({ DAILY_BRIEF_TIME: 'at eight' })).toThrow(/DAILY_BRIEF_TIME/);
  });
});

describe.each(backends)('deals daily-brief schedule on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(() => db.drop());

  it('stores the 8:00 schedule in America/New_York with run-once catch-up', async () => {
    const runtime = await startRuntime(db, [createDealsDomain()], { WORKER_TYPE: 'emails' });
    await runtime.stop();
    const schedule = (await getSchedule(db.sql, DAILY_BRIEF_SCHEDULE))!;
    expect(schedule).toMatchObject({ cron: '0 8 * * *', timezone: 'America/New_York', queue: BRIEF_FANOUT_QUEUE, missed: 'run-once', source: 'code' });
    // 8:00 in New York is 12:00 or 13:00 UTC (daylight saving or not), never 8:00 UTC.
    const next = schedule.nextRunAt!;
    expect(new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: 'numeric', hourCycle: 'h23', minute: 'numeric' }).format(next)).toBe('08:00');
    expect([12, 13]).toContain(next.getUTCHours());
  });

  it('dates each deal\'s brief in its own zone, else in TIMEZONE', async () => {
    const tokyo = await store.insertDeal(db.sql, { name: 'Tokyo deal', timezone: 'Asia/Tokyo' });
    const ny = await store.insertDeal(db.sql, { name: 'New York deal' });
    await store.insertDeal(db.sql, { name: 'Closed deal', status: 'closed' });
    const queue = new QueueClient(db.sql);
    // 04:30 UTC on 1 March: still 28 February in New York, already 1 March in Tokyo.
    const r = await queueAllDailyBriefs({ sql: db.sql, queue }, new Date('2026-03-01T04:30:00Z'), 'America/New_York');
    expect(r.deals).toBe(2);
    expect(Object.fromEntries(r.results.map((x) => [x.dealId, x.date]))).toEqual({ [tokyo.id]: '2026-03-01', [ny.id]: '2026-02-28' });
    await db.sql.query(`delete from nova_jobs where queue = $1`, [DAILY_BRIEF_QUEUE]);
  });

  it('fires each occurrence once across 3 runtimes and queues one brief per active deal', async () => {
    const deals = (await store.activeDeals(db.sql)).map((d) => d.id);
    expect(deals.length).toBe(2);
    // Every second, read in Tokyo; only `scheduler` runs, so the briefs stay queued.
    const env = { WORKER_TYPE: 'scheduler', DAILY_BRIEF_TIME: '* * * * * *', TIMEZONE: 'Asia/Tokyo', NOVA_RETAIN_COMPLETED: '10000' };
    const runtimes = await Promise.all([1, 2, 3].map(() => startRuntime(db, [createDealsDomain()], env)));
    try {
      await sleep(4_200);
    } finally {
      await Promise.all(runtimes.map((r) => r.stop()));
    }
    await db.sql.query(`update nova_schedules set enabled = false where name = $1`, [DAILY_BRIEF_SCHEDULE]);
    const fanouts = await jobsOf(db, BRIEF_FANOUT_QUEUE);
    const times = fanouts.map((j) => Date.parse(j.payload.scheduledFor!)).sort((a, b) => a - b);
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(new Set(times).size).toBe(times.length);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    await until(async () => (await jobsOf(db, DAILY_BRIEF_QUEUE)).length >= deals.length, 10_000, 'briefs queued');
    // Every fan-out after the first found the day's brief jobs live: one per deal, not one per fire.
    const briefs = await jobsOf(db, DAILY_BRIEF_QUEUE);
    expect(briefs.map((b) => b.payload.dealId).sort()).toEqual([...deals].sort());
    const todayTokyo = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(new Date(times.at(-1)!));
    for (const b of briefs) {
      // The Tokyo deal by its own zone, the other by TIMEZONE (Tokyo here too).
      expect(b.payload.date).toBe(todayTokyo);
      expect(b.dedup_key).toBe(`brief-${b.payload.dealId}-${b.payload.date}`);
    }
  });
});
