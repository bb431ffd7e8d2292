import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listWorkers, registerWorker } from '../src/runtime/registry.ts';
import { VERSION } from '../src/version.ts';
import { backends, type TestDb } from './helpers/db.ts';

describe.each(backends)('worker registry on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(() => db.drop());

  it("records the package's version for a worker that does not name its own", async () => {
    await registerWorker(db.sql, { id: 'w-version', pid: 1, roles: ['api'], healthPort: null, apiPort: null });
    const [row] = (await listWorkers(db.sql)).filter((w) => w.id === 'w-version');
    expect(row?.version).toBe(VERSION);
  });
});
