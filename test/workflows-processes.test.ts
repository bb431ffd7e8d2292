import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { silentLogger } from '../src/log.ts';
import { EventHub } from '../src/queue/events.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { RateLimiter } from '../src/runtime/rate-limit.ts';
import { openPglite, type Sql } from '../src/storage/index.ts';
import { setupWorkflows, startRun } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { crashy } from './fixtures/workflows-worker.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';

const ENTRY = 'test/fixtures/workflows-worker.ts';

/** The services a run can be started with, without a runtime (the runners are other processes). */
function servicesOn(sql: Sql) {
  return {
    config: loadConfig({}), sql, queue: new QueueClient(sql), events: new EventHub(), rateLimiter: new RateLimiter(sql),
    processId: 'test', log: silentLogger,
  };
}

describe.each(backends)('workflow runners as processes on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(() => db.drop());

  it('does a step side effect once when its runner is killed (-9) after the step, and another resumes the run', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nova-wf-')), 'effects');
    const engine = setupWorkflows(servicesOn(db.sql), [crashy]);
    const { run } = await startRun(engine, 'fixture.crashy', { file });
    let sql = db.sql;
    // PGlite belongs to one process at a time: hand the data directory to the runners.
    if (backend.name === 'pglite') await db.sql.close();
    const env = { ...db.env, VISIBILITY_TIMEOUT: '2', NOVA_REAP_INTERVAL_MS: '200', POLL_INTERVAL_MS: '200' };

    const first = spawnNova(['start', 'workflow-runner'], { ...env, FIXTURE_STALL: '1' }, ENTRY);
    await first.waitFor(new RegExp(`stalling ${run.id}`));
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const second = spawnNova(['start', 'workflow-runner'], { ...env, FIXTURE_STALL: '0' }, ENTRY);
    await second.waitFor(new RegExp(`finished ${run.id}`), 30_000);
    second.child.kill('SIGTERM');
    expect(await second.exited, second.output()).toBe(0);

    if (backend.name === 'pglite') sql = await openPglite(db.env.NOVA_DATA_DIR!);
    try {
      const pids = readFileSync(file, 'utf8').trim().split('\n');
      expect(pids).toEqual([String(first.child.pid)]);
      const done = await store.getRun(sql, run.id);
      expect(done).toMatchObject({ status: 'completed', output: { effects: 1 } });
      const steps = await store.getSteps(sql, run.id);
      expect(steps.map((s) => [s.step_id, s.attempt])).toEqual([['effect', 1], ['stall', 1], ['count', 1], ['report', 1]]);
    } finally {
      if (backend.name === 'pglite') db.sql = sql;
    }
  });
});
