import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDealsDomain } from '../src/deals/index.ts';
import { EMAIL_QUEUE, queueSourceSync } from '../src/deals/queues.ts';
import * as sources from '../src/deals/sources-store.ts';
import * as store from '../src/deals/store.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

const GRANT = 'deal-inbox-grant';

describe.each(backends)('deals Gmail and Outlook sources through Nylas on $name', (backend) => {
  let db: TestDb;
  let nylas: NylasEmulator;
  let runtime: Runtime;
  let queue: QueueClient;
  let dealId: string;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    db = await backend.create();
    queue = new QueueClient(db.sql);
    nylas = new NylasEmulator({ apiKey: 'nylas-key', threadsPerGrant: 30, messagesPerThread: 2 });
    await nylas.start();
    runtime = await startRuntime(db, [createDealsDomain()], {
      WORKER_TYPE: 'source-sync', NYLAS_API_KEY: 'nylas-key', NYLAS_API_URI: nylas.url, NYLAS_RATE_LIMIT_PER_SECOND: '1000',
      NYLAS_RATE_LIMIT_BURST: '1000', DEALS_RETRY_BASE_MS: '50', POLL_INTERVAL_MS: '50',
    });
    dealId = (await store.insertDeal(db.sql, { name: 'Kestrel' })).id;
  });
  afterAll(async () => {
    await runtime?.stop();
    await nylas?.stop();
    await db?.drop();
  });

  const finished = async (id: number) => {
    await until(async () => ['completed', 'dead'].includes((await queue.getJob(id))!.state), 30_000, `sync job ${id}`);
    return (await queue.getJob(id))!;
  };
  const emailJobs = async () => (await db.sql.query<{ email_id: string }>(
    `select payload->>'emailId' as email_id from nova_jobs where queue = $1`, [EMAIL_QUEUE],
  )).map((r) => r.email_id);
  const mails = () => store.listCommunications(db.sql, dealId, 1000);

  it('stores the deal\'s mails (by participant or domain) from the grant and queues their analysis', async () => {
    await nylas.createMessage(GRANT, { subject: 'LOI draft', from: [{ email: 'banker@advisor.example' }], body: 'Draft attached.', date: now - 3600 });
    await nylas.createMessage(GRANT, { subject: 'Disclosure schedule', from: [{ email: 'a.partner@seller-law.example' }], body: 'We are blocked on schedule 4.', date: now - 1800 });
    await nylas.createMessage(GRANT, { subject: 'Lunch?', from: [{ email: 'friend@elsewhere.example' }], body: 'Not the deal.', date: now - 1200 });
    await sources.upsertSource(db.sql, { dealId, sourceType: 'gmail', folderId: null, configuration: { grantId: GRANT, participants: ['banker@advisor.example'], domains: ['seller-law.example'] } });
    const job = await finished(await queueSourceSync(queue, dealId, 'gmail', 'incremental'));
    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ newEmails: 2 });
    const stored = await mails();
    expect(stored.map((m) => m.subject).sort()).toEqual(['Disclosure schedule', 'LOI draft']);
    expect(stored.find((m) => m.subject === 'LOI draft')).toMatchObject({ sender: 'banker@advisor.example', thread_id: expect.any(String) });
    expect(new Set(await emailJobs())).toEqual(new Set(stored.map((m) => m.id)));
    expect(Number((await sources.activeSource(db.sql, dealId, 'gmail'))!.page_token)).toBe(now - 1200);
  });

  it('after a crash before the cursor was saved, lists the window again and stores nothing twice', async () => {
    // The run that crashed: its mails were committed, its cursor was not.
    await nylas.createMessage(GRANT, { subject: 'Signing date', from: [{ email: 'banker@advisor.example' }], body: 'Friday.', date: now - 60 });
    const source = (await sources.activeSource(db.sql, dealId, 'gmail'))!;
    const first = await finished(await queueSourceSync(queue, dealId, 'gmail', 'incremental'));
    expect(first.result).toMatchObject({ newEmails: 1 });
    await sources.savePageToken(db.sql, source.id, source.page_token!);
    const jobsBefore = (await emailJobs()).length;
    const again = await finished(await queueSourceSync(queue, dealId, 'gmail', 'incremental'));
    expect(again).toMatchObject({ state: 'completed', result: { newEmails: 0 } });
    expect((await mails()).filter((m) => m.subject === 'Signing date')).toHaveLength(1);
    expect((await emailJobs()).length).toBe(jobsBefore);
  });

  it('keeps Outlook apart from Gmail: the same grant\'s mail is stored once per source type', async () => {
    await sources.upsertSource(db.sql, { dealId, sourceType: 'outlook', folderId: null, configuration: { grantId: GRANT, participants: ['banker@advisor.example'], domains: [] } });
    const job = await finished(await queueSourceSync(queue, dealId, 'outlook', 'full'));
    expect(job.result).toMatchObject({ newEmails: 2 });
    const outlook = (await mails()).filter((m) => (m as { source_type?: string }).source_type === 'outlook');
    expect(outlook.map((m) => m.subject).sort()).toEqual(['LOI draft', 'Signing date']);
  });

  it('fails a mail source at once when no Nylas key is configured', async () => {
    const other = await startRuntime(db, [createDealsDomain()], { WORKER_TYPE: 'source-sync', POLL_INTERVAL_MS: '50' });
    await runtime.stop();
    try {
      const job = await finished(await queueSourceSync(queue, dealId, 'gmail', 'incremental'));
      expect(job).toMatchObject({ state: 'dead', attempts: 1, last_error: { name: 'NylasNotConfigured' } });
      expect((await sources.activeSource(db.sql, dealId, 'gmail'))!.last_error).toMatch(/no Nylas is configured/);
    } finally {
      await other.stop();
    }
  });
});
