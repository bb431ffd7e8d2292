import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.ts';
import { MAX_SLEEP_MS, Scheduler, type FireResult, type SchedulerSource } from './scheduler.ts';

/** An in-memory source: passes are recorded with their time; `dueInMs` is what the plan read returns. */
function fakeSource(plan: { dueInMs: () => number | null; fire?: () => FireResult | Promise<FireResult> }) {
  const passes: number[] = [];
  const reads: number[] = [];
  let wake: (() => void) | undefined;
  const source: SchedulerSource = {
    async fireDue() {
      passes.push(Date.now());
      return plan.fire ? plan.fire() : { claimed: 0, fired: [], skipped: [] };
    },
    msUntilNext: async () => {
      reads.push(Date.now());
      return plan.dueInMs();
    },
    async onChange(w) {
      wake = w;
      return async () => {
        wake = undefined;
      };
    },
    list: async () => [],
  };
  return { source, passes, reads, notify: () => wake?.() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started: Scheduler[] = [];
async function start(source: SchedulerSource, onFired?: (r: FireResult) => void): Promise<Scheduler> {
  const s = new Scheduler(source, { log: silentLogger, ...(onFired && { onFired }) });
  await s.start();
  started.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

describe('scheduler loop', () => {
  it('sleeps until the next occurrence, then runs a pass', async () => {
    // Occurrences every 150 ms from t0, as a schedule that advances after each pass would plan them.
    const t0 = Date.now();
    const f = fakeSource({ dueInMs: () => t0 + 150 * Math.ceil((Date.now() - t0 + 1) / 150) - Date.now() });
    await start(f.source);
    await sleep(400);
    // One pass at start, then one per occurrence: none early, none twice in one period.
    expect(f.passes.length).toBeGreaterThanOrEqual(2);
    const periods = f.passes.map((p) => Math.floor((p - t0) / 150));
    expect(periods.slice(1).every((n, i) => n > periods[i]!)).toBe(true);
    expect(f.passes[1]! - t0).toBeGreaterThanOrEqual(150);
  });

  it('reads the plan once a second when nothing is planned, without claiming, and claims at once on a change', async () => {
    const f = fakeSource({ dueInMs: () => null });
    await start(f.source);
    await sleep(50);
    expect(f.passes).toHaveLength(1);
    const at = Date.now();
    f.notify();
    await until(() => f.passes.length === 2);
    expect(f.passes[1]! - at).toBeLessThan(MAX_SLEEP_MS / 4);
    const readsBefore = f.reads.length;
    await sleep(MAX_SLEEP_MS + 200);
    expect(f.passes).toHaveLength(2);
    expect(f.reads.length).toBe(readsBefore + 1);
  });

  it('looks again shortly, without spinning, while another process holds a due occurrence', async () => {
    const f = fakeSource({ dueInMs: () => -5 });
    await start(f.source);
    await sleep(200);
    // 2, 4, 8, ... ms apart, then every 50 ms: not a busy loop, not a one-second wait.
    expect(f.passes.length).toBeGreaterThan(3);
    expect(f.passes.length).toBeLessThan(15);
    expect(f.passes.at(-1)! - f.passes.at(-2)!).toBeGreaterThanOrEqual(45);
  });

  it('reports what it fired and keeps going after a failed pass', async () => {
    let n = 0;
    const fired: string[] = [];
    const f = fakeSource({
      dueInMs: () => 1,
      fire: () => {
        n++;
        if (n === 1) throw new Error('database went away');
        return { claimed: 1, fired: [{ name: 's', occurrence: `o${n}`, jobId: n }], skipped: [] };
      },
    });
    const s = await start(f.source, (r) => fired.push(...r.fired.map((x) => x.occurrence)));
    f.notify(); // the failed pass waits out the cap otherwise
    await until(() => fired.length >= 2);
    expect(fired.slice(0, 2)).toEqual(['o2', 'o3']);
    const status = await s.status();
    expect(status).toMatchObject({ running: true, failures: 1, lastError: null });
    expect(status.fired).toBeGreaterThanOrEqual(2);
  });
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}
