import { describe, expect, it } from 'vitest';
import { nextOccurrence, parseCron, planOccurrences, ScheduleError } from './schedules.ts';

const NY = 'America/New_York';
const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
/** The next `n` occurrences after `from`, as ISO strings. */
function occurrences(cron: string, timezone: string, from: string, n: number): string[] {
  const out: string[] = [];
  let at: Date | null = new Date(from);
  while (out.length < n && (at = nextOccurrence(cron, timezone, at))) out.push(at.toISOString());
  return out;
}

describe('next occurrence in a time zone', () => {
  it('keeps 08:00 local across the spring DST change (EST UTC-5, then EDT UTC-4)', () => {
    expect(occurrences('0 8 * * *', NY, '2026-03-07T00:00:00Z', 3)).toEqual([
      '2026-03-07T13:00:00.000Z', '2026-03-08T12:00:00.000Z', '2026-03-09T12:00:00.000Z',
    ]);
  });

  it('runs 02:30 once at 03:00 EDT on the day it does not exist (2026-03-08), then at 02:30 again', () => {
    expect(occurrences('30 2 * * *', NY, '2026-03-07T00:00:00Z', 3)).toEqual([
      '2026-03-07T07:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z',
    ]);
  });

  it('keeps 08:00 local across the autumn DST change (EDT, then EST)', () => {
    expect(occurrences('0 8 * * *', NY, '2026-10-31T00:00:00Z', 3)).toEqual([
      '2026-10-31T12:00:00.000Z', '2026-11-01T13:00:00.000Z', '2026-11-02T13:00:00.000Z',
    ]);
  });

  it('runs 02:30 once on the day 01:00-02:00 repeats (2026-11-01), and 01:30 only on its first pass', () => {
    expect(occurrences('30 2 * * *', NY, '2026-10-31T00:00:00Z', 3)).toEqual([
      '2026-10-31T06:30:00.000Z', '2026-11-01T07:30:00.000Z', '2026-11-02T07:30:00.000Z',
    ]);
    expect(occurrences('30 1 * * *', NY, '2026-10-31T12:00:00Z', 2)).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });

  it('reads the cron in UTC by default and supports seconds', () => {
    expect(occurrences('0 8 * * *', 'UTC', '2026-03-07T00:00:00Z', 1)).toEqual(['2026-03-07T08:00:00.000Z']);
    expect(occurrences('* * * * * *', 'UTC', '2026-03-07T00:00:00.400Z', 2)).toEqual(['2026-03-07T00:00:01.000Z', '2026-03-07T00:00:02.000Z']);
  });

  it('refuses a bad cron or time zone with the reason', () => {
    expect(() => parseCron('61 * * * *')).toThrow(/invalid cron "61 \* \* \* \*": Invalid value for minute: 61/);
    expect(() => parseCron('0 8 * * *', 'Mars/Olympus')).toThrow(ScheduleError);
    expect(() => parseCron('0 8 * * *', 'Mars/Olympus')).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});

describe('occurrences to fire when due', () => {
  const daily = { cron: '0 8 * * *', timezone: NY, catchUpMs: null };
  const at = (s: string) => new Date(s);

  it('fires an occurrence on time and plans the next one', () => {
    const plan = planOccurrences({ ...daily, missed: 'skip' }, at('2026-03-09T12:00:00Z'), at('2026-03-09T12:00:00.004Z'));
    expect(plan.fire.map(iso)).toEqual(['2026-03-09T12:00:00.000Z']);
    expect(iso(plan.next)).toBe('2026-03-10T12:00:00.000Z');
    expect(plan.missedSince).toBeNull();
  });

  it('fires the occurrence a DST gap moved (02:30 that does not exist runs at 03:00 EDT)', () => {
    const gap = { cron: '30 2 * * *', timezone: NY, catchUpMs: null, missed: 'skip' as const };
    const plan = planOccurrences(gap, at('2026-03-08T07:00:00Z'), at('2026-03-08T07:00:00.010Z'));
    expect(plan.fire.map(iso)).toEqual(['2026-03-08T07:00:00.000Z']);
    expect(iso(plan.next)).toBe('2026-03-09T06:30:00.000Z');
  });

  it('fires each late occurrence of a per-second cron within the grace period', () => {
    const plan = planOccurrences({ cron: '* * * * * *', timezone: 'UTC', catchUpMs: null, missed: 'skip' }, at('2026-03-09T12:00:00Z'), at('2026-03-09T12:00:02.300Z'));
    expect(plan.fire.map(iso)).toEqual(['2026-03-09T12:00:00.000Z', '2026-03-09T12:00:01.000Z', '2026-03-09T12:00:02.000Z']);
    expect(iso(plan.next)).toBe('2026-03-09T12:00:03.000Z');
  });

  it('skips occurrences missed during downtime under `skip`', () => {
    const plan = planOccurrences({ ...daily, missed: 'skip' }, at('2026-03-07T13:00:00Z'), at('2026-03-09T15:00:00Z'));
    expect(plan.fire).toEqual([]);
    expect(iso(plan.missedSince)).toBe('2026-03-07T13:00:00.000Z');
    expect(iso(plan.next)).toBe('2026-03-10T12:00:00.000Z');
  });

  it('fires only the latest missed occurrence under `run-once`, and only within the catch-up window', () => {
    const since = at('2026-03-07T13:00:00Z');
    const now = at('2026-03-09T15:00:00Z');
    expect(planOccurrences({ ...daily, missed: 'run-once' }, since, now).fire.map(iso)).toEqual(['2026-03-09T12:00:00.000Z']);
    expect(planOccurrences({ ...daily, missed: 'run-once', catchUpMs: 4 * 3_600_000 }, since, now).fire.map(iso)).toEqual(['2026-03-09T12:00:00.000Z']);
    expect(planOccurrences({ ...daily, missed: 'run-once', catchUpMs: 3_600_000 }, since, now).fire).toEqual([]);
  });

  it('does not add a missed occurrence under `run-once` when a late one fires anyway', () => {
    const plan = planOccurrences({ cron: '* * * * * *', timezone: 'UTC', catchUpMs: null, missed: 'run-once' }, at('2026-03-09T11:00:00Z'), at('2026-03-09T12:00:00.500Z'), 1000);
    expect(plan.fire.map(iso)).toEqual(['2026-03-09T12:00:00.000Z']);
    expect(iso(plan.missedSince)).toBe('2026-03-09T11:00:00.000Z');
  });
});
