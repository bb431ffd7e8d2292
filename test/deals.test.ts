import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltinAnalyzer, createDealsDomain, type DealsDeps, type DocumentInput, type EmailInput } from '../src/deals/index.ts';
import { onBriefDead } from '../src/deals/brief.ts';
import type { Job } from '../src/queue/types.ts';
import type { DeadContext } from '../src/runtime/domain.ts';
import { dealsDomain } from '../src/deals/index.ts';
import * as store from '../src/deals/store.ts';
import { retryDelayMs } from '../src/queue/backoff.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { declared, type QueueDefinition } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { loadNovaConfig } from '../src/domains.ts';
import {
  DAILY_BRIEF_QUEUE, DOCUMENT_QUEUE, EMAIL_QUEUE, SOURCE_SYNC_QUEUE, queueDailyBrief, queueDocumentProcessing, queueEmailProcessing, queueSourceSync,
} from '../src/deals/queues.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';
import { docxBytes, pdfBytes } from './helpers/documents.ts';

/** The builtin analyzer, with failures a test can switch on and a log of the calls. */
class ScriptedAnalyzer extends BuiltinAnalyzer {
  failSummaries = false;
  summaryCalls: number[] = [];
  emailCalls = 0;
  override async summarize(doc: DocumentInput) {
    this.summaryCalls.push(Date.now());
    if (this.failSummaries) throw new Error('provider overloaded');
    return super.summarize(doc);
  }
  override async analyzeEmail(email: EmailInput) {
    this.emailCalls++;
    return super.analyzeEmail(email);
  }
}

const jobState = async (queue: QueueClient, id: number) => (await queue.getJob(id))!;

describe('deals queue policies', () => {
  it('declare the seed queues with their concurrency, attempts and 5 s / 25 s / 125 s backoff', () => {
    const config = loadNovaConfig({});
    const queues = declared<QueueDefinition>(dealsDomain.queues, config);
    const byName = Object.fromEntries(queues.map((q) => [q.name, q]));
    expect(Object.fromEntries(queues.map((q) => [q.name, [q.role, q.concurrency, q.retry?.maxAttempts]]))).toMatchObject({
      'daily-brief': ['daily-brief', 2, 3],
      'document-processing': ['documents', 5, 3],
      'email-processing': ['emails', 10, 3],
      'source-sync': ['source-sync', 3, 5],
      'daily-brief-fanout': ['scheduler', 1, 3],
    });
    const policy = { maxDelayMs: 300_000, ...byName['daily-brief']!.retry } as Parameters<typeof retryDelayMs>[0];
    expect([1, 2, 3].map((n) => retryDelayMs(policy, n))).toEqual([5_000, 25_000, 125_000]);
    expect(dealsDomain.roles).toEqual(['daily-brief', 'documents', 'emails', 'source-sync', 'scheduler']);
    expect(dealsDomain.group).toBe('deals');
  });
});

describe.each(backends)('deals domain on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let queue: QueueClient;
  let dealId: string;
  const analyzer = new ScriptedAnalyzer();

  beforeAll(async () => {
    db = await backend.create();
    queue = new QueueClient(db.sql);
    runtime = await startRuntime(db, [createDealsDomain({ analyzer })], {
      WORKER_TYPE: 'deals', DEALS_RETRY_BASE_MS: '150', POLL_INTERVAL_MS: '50', NOVA_RETAIN_COMPLETED: '10000',
    });
    dealId = (await store.insertDeal(db.sql, { name: 'Project Falcon' })).id;
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const finished = async (id: number, timeoutMs = 20_000) => {
    await until(async () => ['completed', 'dead'].includes((await jobState(queue, id)).state), timeoutMs, `job ${id} finished`);
    return jobState(queue, id);
  };

  it('dedups each producer while its job is live, with the seed job ids as keys', async () => {
    const other = (await store.insertDeal(db.sql, { name: 'Paused deal', status: 'paused' })).id;
    const docId = await store.insertDocument(db.sql, { dealId: other, name: 'a.txt', sourceType: 'upload', content: 'Text.' });
    const emailId = await store.insertCommunication(db.sql, { dealId: other, subject: 's', sender: 'a@b.c', receivedAt: new Date() });
    // Sent twice within one transaction, so that no consumer can finish the first before the second.
    const ids = await db.sql.transaction(async (tx) => [
      await queueDailyBrief(queue, other, '2026-01-02', tx), await queueDailyBrief(queue, other, '2026-01-02', tx),
      await queueDailyBrief(queue, other, '2026-01-03', tx),
      await queueDocumentProcessing(queue, docId, other, 'summarize', tx), await queueDocumentProcessing(queue, docId, other, 'summarize', tx),
      await queueDocumentProcessing(queue, docId, other, 'classify', tx),
      await queueEmailProcessing(queue, emailId, other, 'analyze_sentiment', tx), await queueEmailProcessing(queue, emailId, other, 'analyze_sentiment', tx),
      await queueSourceSync(queue, other, 'gdrive', 'full', tx), await queueSourceSync(queue, other, 'gdrive', 'incremental', tx),
    ]);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
    expect(ids[3]).toBe(ids[4]);
    expect(ids[5]).not.toBe(ids[3]);
    expect(ids[6]).toBe(ids[7]);
    expect(ids[8]).toBe(ids[9]);
    const brief = await jobState(queue, ids[0]!);
    expect(brief).toMatchObject({ queue: DAILY_BRIEF_QUEUE, dedup_key: `brief-${other}-2026-01-02`, max_attempts: 3, payload: { dealId: other, date: '2026-01-02' } });
    expect((await jobState(queue, ids[3]!)).queue).toBe(DOCUMENT_QUEUE);
    expect((await jobState(queue, ids[6]!)).queue).toBe(EMAIL_QUEUE);
    expect(await jobState(queue, ids[8]!)).toMatchObject({ queue: SOURCE_SYNC_QUEUE, max_attempts: 5, dedup_key: `sync-${other}-gdrive` });
    for (const id of new Set(ids)) await finished(id!);
    // Once finished, the key is free: a regeneration of the same day is a new job.
    expect(await queueDailyBrief(queue, other, '2026-01-02')).not.toBe(ids[0]);
  });

  it('summarizes, extracts risks and classifies a plain-text document, storing schema-checked results', async () => {
    const text = 'This share purchase agreement covers the sale. The seller faces pending litigation in Delaware. Revenue declined 4% last year.';
    const docId = await store.insertDocument(db.sql, { dealId, name: 'SPA legal.txt', sourceType: 'upload', mimeType: 'text/plain', content: text });
    const jobs = await Promise.all((['summarize', 'extract_risks', 'classify'] as const).map((op) => queueDocumentProcessing(queue, docId, dealId, op)));
    for (const id of jobs) expect((await finished(id)).state).toBe('completed');
    const doc = (await store.getDocument(db.sql, docId))!;
    expect(doc.summary).toContain('share purchase agreement');
    expect(doc.risks).toEqual(expect.arrayContaining([expect.objectContaining({ title: 'Legal exposure', severity: 'high' })]));
    expect(doc.workstream).toBe('Legal');
    expect(doc.classification).toMatchObject({ workstream: 'Legal' });
    expect(doc.error).toBeNull();
  });

  it('reads the text of PDF and DOCX uploads once, then processes them', async () => {
    const pdf = await store.insertDocument(db.sql, { dealId, name: 'cim.pdf', sourceType: 'upload', mimeType: 'application/pdf', fileData: pdfBytes('Confidential information memorandum for Falcon.') });
    const docx = await store.insertDocument(db.sql, { dealId, name: 'board.docx', sourceType: 'upload', fileData: await docxBytes('Board minutes approving the merger.') });
    for (const id of [pdf, docx]) expect((await finished(await queueDocumentProcessing(queue, id, dealId, 'summarize'))).state).toBe('completed');
    expect((await store.getDocument(db.sql, pdf))!.summary).toContain('Confidential information memorandum for Falcon');
    expect((await store.getDocument(db.sql, docx))!.summary).toContain('Board minutes approving the merger');
    expect(await store.fileData(db.sql, pdf)).toBeNull();
  });

  it('fails an unreadable document at once, with the reason on the row and no retries', async () => {
    const docId = await store.insertDocument(db.sql, { dealId, name: 'scan.pdf', sourceType: 'upload', mimeType: 'application/pdf', fileData: new TextEncoder().encode('not a pdf at all') });
    const calls = analyzer.summaryCalls.length;
    const job = await finished(await queueDocumentProcessing(queue, docId, dealId, 'summarize'));
    expect(job.state).toBe('dead');
    expect(job.attempts).toBe(1);
    expect(job.last_error?.name).toBe('UnreadableDocument');
    expect(analyzer.summaryCalls.length).toBe(calls);
    expect((await store.getDocument(db.sql, docId))!.error).toMatch(/^summarize failed: unreadable PDF/);
  });

  it('retries a failing analysis on the 1×, 5× backoff, then dead-letters it and records the failure', async () => {
    const docId = await store.insertDocument(db.sql, { dealId, name: 'memo.txt', sourceType: 'upload', content: 'A memo.' });
    analyzer.failSummaries = true;
    const before = analyzer.summaryCalls.length;
    try {
      const job = await finished(await queueDocumentProcessing(queue, docId, dealId, 'summarize'), 30_000);
      expect(job.state).toBe('dead');
      expect(job.attempts).toBe(3);
    } finally {
      analyzer.failSummaries = false;
    }
    const calls = analyzer.summaryCalls.slice(before);
    expect(calls).toHaveLength(3);
    // Base 150 ms in this test: 150 ms before the 2nd attempt, 750 ms before the 3rd.
    expect(calls[1]! - calls[0]!).toBeGreaterThanOrEqual(150);
    expect(calls[2]! - calls[1]!).toBeGreaterThanOrEqual(750);
    const doc = (await store.getDocument(db.sql, docId))!;
    expect(doc.error).toBe('summarize failed: provider overloaded');
    expect(doc.summary).toBeNull();
  });

  it('analyzes an email with the builtin analyzer and flags a blocker across its thread', async () => {
    const first = await store.insertCommunication(db.sql, { dealId, subject: 'Data room access', sender: 'counsel@seller.com', body: 'We are blocked until the NDA is countersigned.', threadId: 't1', receivedAt: new Date(Date.now() - 3_600_000) });
    const reply = await store.insertCommunication(db.sql, { dealId, subject: 'Re: Data room access', sender: 'vp@buyer.com', body: 'Thanks, we will look at it.', threadId: 't1', receivedAt: new Date() });
    expect((await finished(await queueEmailProcessing(queue, first, dealId, 'analyze_sentiment'))).state).toBe('completed');
    expect(await store.getCommunication(db.sql, first)).toMatchObject({ sentiment: 'blocker', is_blocker: true });
    expect((await finished(await queueEmailProcessing(queue, reply, dealId, 'detect_blocker'))).state).toBe('completed');
    expect(await store.getCommunication(db.sql, reply)).toMatchObject({ sentiment: 'blocker', is_blocker: true });
  });

  it('builds the daily brief from the day\'s documents, risks and emails, and a rerun of the day replaces it', async () => {
    const date = new Date().toISOString().slice(0, 10);
    const job = await finished(await queueDailyBrief(queue, dealId, date));
    expect(job.state).toBe('completed');
    const brief = (await store.getBrief(db.sql, dealId, date))!;
    expect(brief.status).toBe('published');
    expect(brief.changes).toMatchObject({ new_documents: expect.arrayContaining(['SPA legal.txt', 'cim.pdf']) });
    expect((brief.risks as { items: { title: string }[] }).items.map((r) => r.title)).toContain('Legal exposure: SPA legal.txt');
    expect((brief.blockers as { items: { title: string }[] }).items.map((b) => b.title)).toContain('Data room access');
    expect(brief.markdown).toContain('# Project Falcon: daily brief');
    expect(brief.markdown).toContain('## Blockers');
    const docId = await store.insertDocument(db.sql, { dealId, name: 'late addition.txt', sourceType: 'upload', content: 'Added later.' });
    expect(docId).toBeTruthy();
    expect((await finished(await queueDailyBrief(queue, dealId, date))).state).toBe('completed');
    const again = await store.listBriefs(db.sql, dealId);
    expect(again.filter((b) => b.brief_date === date)).toHaveLength(1);
    expect(again[0]!.changes).toMatchObject({ new_documents: expect.arrayContaining(['late addition.txt']) });
  });

  it('dead-letters a brief of an impossible date at once', async () => {
    const job = await finished(await queue.send(DAILY_BRIEF_QUEUE, { dealId, date: '2026-02-30' }));
    expect(job.state).toBe('dead');
    expect(job.attempts).toBe(1);
    expect(await store.getBrief(db.sql, dealId, '2026-03-02')).toBeUndefined();
  });

  it('records a failed day on the brief row, keeping a published brief\'s content', async () => {
    const date = '2026-01-05';
    const dead = (payload: unknown, message: string) => db.sql.transaction((tx) => onBriefDead(
      { payload } as Job<unknown>, { tx, error: { name: 'Error', message } } as unknown as DeadContext<DealsDeps>,
    ));
    await dead({ dealId, date }, 'database went away');
    expect(await store.getBrief(db.sql, dealId, date)).toMatchObject({ status: 'failed', error: 'database went away' });
    const today = new Date().toISOString().slice(0, 10);
    await dead({ dealId, date: today }, 'later failure');
    expect(await store.getBrief(db.sql, dealId, today)).toMatchObject({ status: 'published', error: 'later failure' });
    // An invalid payload's hook writes nothing and does not throw (the job must still reach the dead letters).
    await dead({ dealId: 'nope', date }, 'x');
    await dead({ dealId, date: '2026-02-30' }, 'x');
  });
});
