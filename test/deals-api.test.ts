import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAILY_BRIEF_QUEUE, DOCUMENT_QUEUE } from '../src/deals/queues.ts';
import * as store from '../src/deals/store.ts';
import { domains } from '../src/domains.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime } from './helpers/runtime.ts';

describe.each(backends)('deals HTTP API on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let base: string;
  let queue: QueueClient;

  beforeAll(async () => {
    db = await backend.create();
    queue = new QueueClient(db.sql);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // The API role alone: jobs stay queued, so the test sees exactly what each route queued.
    runtime = await startRuntime(db, domains, { WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1' });
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method, ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('answers the seed\'s queue stats keys for the deals queues, even before their first job', async () => {
    const { status, body } = await api('GET', '/api/queue/stats');
    expect(status).toBe(200);
    expect(body.success).toBe(true);
    for (const key of ['dailyBrief', 'documentProcessing', 'emailProcessing', 'sourceSync']) {
      expect(body.stats[key], key).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0 });
    }
  });

  it('creates a deal and a document, queues its processing, and reads them back in camelCase', async () => {
    const created = await api('POST', '/api/deals', { name: 'Project Osprey', timezone: 'Europe/London' });
    expect(created.status).toBe(201);
    expect(created.body.deal).toMatchObject({ name: 'Project Osprey', status: 'active', timezone: 'Europe/London' });
    const dealId = created.body.deal.id;
    expect((await api('POST', '/api/deals', { name: 'Bad zone', timezone: 'Nowhere/Land' })).status).toBe(400);

    const doc = await api('POST', `/api/deals/${dealId}/documents`, { name: 'loi.txt', content: 'Letter of intent.' });
    expect(doc.status).toBe(201);
    const processed = await api('POST', `/api/documents/${doc.body.documentId}/process`, { operation: 'classify' });
    expect(processed.status).toBe(202);
    expect(await queue.getJob(processed.body.jobId)).toMatchObject({ queue: DOCUMENT_QUEUE, payload: { documentId: doc.body.documentId, dealId, operation: 'classify' } });
    expect((await api('POST', `/api/documents/${crypto.randomUUID()}/process`, {})).status).toBe(404);
    expect((await api('POST', `/api/documents/${doc.body.documentId}/process`, { operation: 'translate' })).status).toBe(400);

    const read = await api('GET', `/api/deals/${dealId}`);
    expect(read.status).toBe(200);
    expect(read.body.documents).toEqual([expect.objectContaining({ id: doc.body.documentId, dealId, name: 'loi.txt', sourceType: 'upload', hasText: true })]);
    // summarize, extract_risks and classify from the upload; the classify asked above joined the live one.
    expect((await api('GET', `/api/queue/stats`)).body.stats.documentProcessing.waiting).toBe(3);
  });

  it('triggers one brief per active deal with the seed\'s answer, and serves briefs', async () => {
    await store.insertDeal(db.sql, { name: 'Paused', status: 'paused' });
    const { status, body } = await api('POST', '/api/queue/trigger-daily-briefs');
    expect(status).toBe(200);
    expect(body).toMatchObject({ success: true, message: 'Queued briefs for 1/1 deals', queued: 1 });
    const [result] = body.results;
    expect(result).toMatchObject({ dealName: 'Project Osprey', success: true });
    expect(await queue.getJob(result.jobId)).toMatchObject({ queue: DAILY_BRIEF_QUEUE, dedup_key: `brief-${result.dealId}-${result.date}` });
    // Triggered again while queued: the same jobs.
    expect((await api('POST', '/api/queue/trigger-daily-briefs')).body.results[0].jobId).toBe(result.jobId);

    await store.upsertBrief(db.sql, result.dealId, '2026-01-02', {
      progress_snapshot: { overall: 50 }, changes: {}, blockers: { items: [] }, risks: { items: [] }, communications: { notable: [] }, markdown: '# Brief',
    });
    const brief = await api('GET', `/api/deals/${result.dealId}/briefs/2026-01-02`);
    expect(brief.status).toBe(200);
    expect(brief.body.brief).toMatchObject({ dealId: result.dealId, briefDate: '2026-01-02', status: 'published', progressSnapshot: { overall: 50 }, markdown: '# Brief' });
    expect((await api('GET', `/api/deals/${result.dealId}/briefs`)).body.briefs).toHaveLength(1);
    expect((await api('GET', `/api/deals/${result.dealId}/briefs/2026-01-03`)).status).toBe(404);
  });

  it('refuses a Drive notification with an unknown channel token', async () => {
    const res = await fetch(`${base}/webhooks/gdrive`, { method: 'POST', headers: { 'x-goog-channel-id': 'x', 'x-goog-channel-token': 'nope', 'x-goog-resource-state': 'change' } });
    expect(res.status).toBe(404);
  });
});
