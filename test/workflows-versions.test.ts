import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineWorkflow, startRun, sendEvent, workflowsDomain, type WorkflowEngine } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

const body = (label: string) => async ({ step }: { step: import('../src/workflows/index.ts').StepApi }) => {
  await step.waitForEvent('go', { event: 'versions.go' });
  return step.run('label', () => label);
};
const v1 = defineWorkflow({ name: 't.versioned', version: 1 }, body('v1'));
const v2 = defineWorkflow({ name: 't.versioned', version: 2 }, body('v2'));

describe.each(backends)('workflow versions on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(() => db.drop());

  it('keeps a run started on version 1 on version 1 after version 2 is deployed', async () => {
    const before = workflowsDomain({ workflows: [v1] });
    const old = await startRuntime(db, [before], { WORKER_TYPE: 'orchestrator', POLL_INTERVAL_MS: '200' });
    const { run: first } = await startRun(old.depsOf<WorkflowEngine>('workflows')!, 't.versioned', {});
    await until(async () => (await store.getRun(db.sql, first.id))?.status === 'waiting', 5000, 'the v1 run to wait');
    await old.stop();

    // The new deployment declares both versions: new runs start on 2, old ones finish on 1.
    const after = workflowsDomain({ workflows: [v1, v2] });
    const current = await startRuntime(db, [after], { WORKER_TYPE: 'orchestrator', POLL_INTERVAL_MS: '200' });
    try {
      const { run: second } = await startRun(current.depsOf<WorkflowEngine>('workflows')!, 't.versioned', {});
      expect(second.version).toBe(2);
      await until(async () => (await store.getRun(db.sql, second.id))?.status === 'waiting', 5000, 'the v2 run to wait');
      expect(await sendEvent(current.depsOf<WorkflowEngine>('workflows')!, 'versions.go', {})).toHaveLength(2);
      await until(async () => (await store.getRun(db.sql, first.id))?.status === 'completed' && (await store.getRun(db.sql, second.id))?.status === 'completed', 10_000, 'both runs');
      expect(await store.getRun(db.sql, first.id)).toMatchObject({ version: 1, output: 'v1' });
      expect(await store.getRun(db.sql, second.id)).toMatchObject({ version: 2, output: 'v2' });
    } finally {
      await current.stop();
    }
  });
});
