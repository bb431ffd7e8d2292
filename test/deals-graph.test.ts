import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDealsDomain } from '../src/deals/index.ts';
import { DOCUMENT_QUEUE, queueSourceSync } from '../src/deals/queues.ts';
import * as sources from '../src/deals/sources-store.ts';
import * as store from '../src/deals/store.ts';
import { GraphEmulator } from '../src/emulators/graph/index.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

const DRIVE = 'b!deal-library';

describe.each(backends)('deals SharePoint sync (Graph drive delta) on $name', (backend) => {
  let db: TestDb;
  let graph: GraphEmulator;
  let runtime: Runtime;
  let queue: QueueClient;
  let dealId: string;

  beforeAll(async () => {
    db = await backend.create();
    queue = new QueueClient(db.sql);
    graph = new GraphEmulator({ token: 'graph-token', maxPageSize: 1000 });
    await graph.start();
    runtime = await startRuntime(db, [createDealsDomain()], {
      WORKER_TYPE: 'source-sync', GRAPH_API_URL: graph.url, GRAPH_ACCESS_TOKEN: 'graph-token', GRAPH_DELTA_PAGE_SIZE: '100',
      GRAPH_RATE_LIMIT_PER_SECOND: '1000', DEALS_RETRY_BASE_MS: '50', POLL_INTERVAL_MS: '50', NOVA_RETAIN_COMPLETED: '1000',
    });
    dealId = (await store.insertDeal(db.sql, { name: 'Heron' })).id;
  });
  afterAll(async () => {
    await runtime?.stop();
    await graph?.stop();
    await db?.drop();
  });

  const finished = async (id: number) => {
    await until(async () => ['completed', 'dead'].includes((await queue.getJob(id))!.state), 60_000, `sync job ${id}`);
    return (await queue.getJob(id))!;
  };
  const summarizeJobs = async () => (await db.sql.query<{ document_id: string }>(
    `select payload->>'documentId' as document_id from nova_jobs where queue = $1 and payload->>'operation' = 'summarize'`, [DOCUMENT_QUEUE],
  )).map((r) => r.document_id);
  const docsBySource = async () => new Map((await store.listDocuments(db.sql, dealId, 100_000)).map((d) => [d.source_id!, d]));
  const cursor = async () => (await sources.activeSource(db.sql, dealId, 'sharepoint'))!.page_token;

  it('enumerates the drive folder on the first sync, queues each file\'s analyses and saves the delta link', async () => {
    for (let i = 0; i < 250; i++) graph.put(DRIVE, { id: `a${i}`, name: `doc ${i}.txt`, folder: 'Data Room', content: `Document ${i}.` });
    graph.put(DRIVE, { id: 'outside', name: 'other.txt', folder: 'Data Room Archive', content: 'Not this folder.' });
    await sources.upsertSource(db.sql, { dealId, sourceType: 'sharepoint', folderId: DRIVE, configuration: { driveId: DRIVE, folderPath: 'Data Room' } });
    const job = await finished(await queueSourceSync(queue, dealId, 'sharepoint', 'incremental'));
    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ newDocuments: 250, filesScanned: 251, pages: 3 });
    const docs = await docsBySource();
    expect(docs.size).toBe(250);
    expect(docs.has('outside')).toBe(false);
    expect(docs.get('a7')).toMatchObject({ source_type: 'sharepoint', name: 'doc 7.txt', status: 'new' });
    expect(new Set(await summarizeJobs()).size).toBe(250);
    expect(await cursor()).toBe(graph.latestDeltaLink(DRIVE, 100));
  });

  it('resumes from the saved link after a failed attempt: no file missed, none processed twice, deletions kept as rows', async () => {
    await db.sql.query(`delete from nova_jobs where queue = $1`, [DOCUMENT_QUEUE]);
    await db.sql.query(`update documents set summary = 'read before' where deal_id = $1 and source_id = 'a150'`, [dealId]);
    const before = await docsBySource();
    for (let i = 0; i < 200; i++) graph.put(DRIVE, { id: `b${i}`, name: `new ${i}.txt`, folder: 'Data Room', content: `New ${i}.` });
    for (let i = 0; i < 50; i++) graph.put(DRIVE, { id: `a${i}`, name: `doc ${i} v2.txt`, folder: 'Data Room', content: `Edited ${i}.` });
    for (let i = 150; i < 200; i++) graph.remove(DRIVE, `a${i}`);
    // 300 changes = 3 pages of 100. The first commits; the second fails past the call's own retries.
    const requestsBefore = graph.requests.delta;
    graph.outageAfter(1, 4);
    const job = await finished(await queueSourceSync(queue, dealId, 'sharepoint', 'incremental'));
    expect(job.state).toBe('completed');
    expect(job.attempts).toBe(2);
    expect(job.last_error?.message).toMatch(/graph answered 503/);
    // Page 1, four failed tries of page 2, then pages 2 and 3 from the saved nextLink.
    expect(graph.requests.delta - requestsBefore).toBe(1 + 4 + 2);
    const after = await docsBySource();
    expect(after.size).toBe(450);
    for (let i = 0; i < 200; i++) expect(after.get(`b${i}`)?.status, `b${i}`).toBe('new');
    for (let i = 0; i < 50; i++) expect(after.get(`a${i}`)?.name).toBe(`doc ${i} v2.txt`);
    for (let i = 150; i < 200; i++) expect(after.get(`a${i}`)?.status).toBe('deleted');
    // Marked, not lost: the deleted document keeps what was read from it.
    expect(after.get('a150')?.summary).toBe('read before');
    expect(after.get('a220')?.updated_at).toEqual(before.get('a220')?.updated_at);
    const queued = await summarizeJobs();
    expect(queued.length).toBe(200 + 50);
    expect(new Set(queued).size).toBe(queued.length);
    expect(await cursor()).toBe(graph.latestDeltaLink(DRIVE, 100));
  });

  it('replays nothing when the same delta link is synced again', async () => {
    await db.sql.query(`delete from nova_jobs where queue = $1`, [DOCUMENT_QUEUE]);
    const job = await finished(await queueSourceSync(queue, dealId, 'sharepoint', 'incremental'));
    expect(job.result).toMatchObject({ synced: 0, filesScanned: 0, pages: 1 });
    expect(await summarizeJobs()).toEqual([]);
  });

  it('starts over from a full enumeration on 410 resyncRequired, marking files it no longer lists', async () => {
    graph.put(DRIVE, { id: 'c1', name: 'after expiry.txt', folder: 'Data Room', content: 'New.' });
    graph.expireTokens(DRIVE);
    // Deleted while the token was expired: only the enumeration's absence tells.
    graph.remove(DRIVE, 'a220');
    // A stale row that the drive no longer has at all.
    await store.upsertSyncedDocument(db.sql, { dealId, name: 'ghost.txt', sourceType: 'sharepoint', sourceId: 'ghost', sourceModifiedAt: new Date() });
    const job = await finished(await queueSourceSync(queue, dealId, 'sharepoint', 'incremental'));
    expect(job.state).toBe('completed');
    const docs = await docsBySource();
    expect(docs.get('c1')?.status).toBe('new');
    expect(docs.get('ghost')?.status).toBe('deleted');
    expect(docs.get('a220')?.status).toBe('deleted');
    expect(docs.get('a221')?.status).not.toBe('deleted');
  });

  it('refuses a saved link that points outside Graph, without retrying', async () => {
    const source = (await sources.activeSource(db.sql, dealId, 'sharepoint'))!;
    await sources.savePageToken(db.sql, source.id, 'https://attacker.example/v1.0/drives/x/root/delta?token=abc');
    const job = await finished(await queueSourceSync(queue, dealId, 'sharepoint', 'incremental'));
    expect(job).toMatchObject({ state: 'dead', attempts: 1 });
    expect(job.last_error?.message).toMatch(/refusing a delta link outside/);
  });
});
