import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { signWebhook } from '../src/emulators/nylas/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { fuzzBodies } from './helpers/fuzz-deliveries.ts';
import { freePort, startRuntime } from './helpers/runtime.ts';

const SECRET = 'whsec-fuzz';
// bench/webhook-fuzz.ts sends 10,000 of these; a test run sends a sample.
const COUNT = 400;

describe.each(backends)('fuzzed signed deliveries on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let hook: string;

  beforeAll(async () => {
    db = await backend.create();
    const port = await freePort();
    hook = `http://127.0.0.1:${port}/webhooks/nylas`;
    runtime = await startRuntime(db, domains, { WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1', NYLAS_WEBHOOK_SECRET: SECRET, NOVA_DEMO: 'false' });
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  it('answers every one with 200 and an audit row, or a 4xx; never a 5xx', async () => {
    const bodies = fuzzBodies(COUNT, 11);
    const results: { status: number; id: string | undefined; answeredId: unknown }[] = [];
    for (let i = 0; i < bodies.length; i += 25) {
      results.push(...(await Promise.all(bodies.slice(i, i + 25).map(async ({ body, id }) => {
        const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-nylas-signature': signWebhook(body, SECRET) }, body: new Uint8Array(body) });
        const answer = (await res.json()) as { id?: unknown };
        return { status: res.status, id, answeredId: answer.id };
      }))));
    }
    const byStatus: Record<string, typeof results> = {};
    for (const r of results) (byStatus[String(r.status)] ??= []).push(r);
    expect(Object.keys(byStatus).filter((s) => Number(s) >= 500)).toEqual([]);
    expect(Object.keys(byStatus).every((s) => s === '200' || (Number(s) >= 400 && Number(s) < 500))).toBe(true);
    // The sample mixes both outcomes, or it tests nothing.
    expect(byStatus['200']?.length).toBeGreaterThan(COUNT / 10);
    expect(byStatus['400']?.length).toBeGreaterThan(COUNT / 10);
    const accepted = byStatus['200']!.map((r) => r.answeredId as string);
    const rows = await db.sql.query<{ notification_id: string }>('select notification_id from flux_webhook_notifications where notification_id = any($1)', [accepted]);
    expect(new Set(rows.map((r) => r.notification_id))).toEqual(new Set(accepted));
    const refused = await db.sql.query<{ n: number }>(`select count(*)::int as n from flux_webhook_notifications where status = 'error'`);
    // Every refusal is recorded, except a redelivered id (its first row stays) — ids are fresh here.
    expect(refused[0]!.n).toBe(byStatus['400']!.length);
  });
});
