import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDealsDomain } from '../src/deals/index.ts';
import { DOCUMENT_QUEUE, queueSourceSync, SOURCE_SYNC_QUEUE } from '../src/deals/queues.ts';
import * as sources from '../src/deals/sources-store.ts';
import * as store from '../src/deals/store.ts';
import { GdriveEmulator } from '../src/emulators/gdrive/index.ts';
import { apiDomain } from '../src/http/index.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

const FOLDER = 'folder-falcon';

describe.each(backends)('deals Drive sync on $name', (backend) => {
  let db: TestDb;
  let drive: GdriveEmulator;
  let runtime: Runtime;
  let queue: QueueClient;
  let dealId: string;
  let port: number;

  beforeAll(async () => {
    db = await backend.create();
    queue = new QueueClient(db.sql);
    drive = new GdriveEmulator({ token: 'drive-token', maxPageSize: 1000 });
    await drive.start();
    port = await freePort();
    runtime = await startRuntime(db, [apiDomain, createDealsDomain()], {
      WORKER_TYPE: 'api,source-sync', PORT: String(port), API_HOST: '127.0.0.1', GDRIVE_API_URL: drive.url, GDRIVE_ACCESS_TOKEN: 'drive-token',
      GDRIVE_RATE_LIMIT_PER_SECOND: '1000', DEALS_RETRY_BASE_MS: '50', POLL_INTERVAL_MS: '50', NOVA_RETAIN_COMPLETED: '1000',
    });
    dealId = (await store.insertDeal(db.sql, { name: 'Falcon' })).id;
  });
  afterAll(async () => {
    await runtime?.stop();
    await drive?.stop();
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

  it('lists the folder on a full sync, queues a summary per file and saves the changes cursor', async () => {
    for (let i = 0; i < 1_200; i++) drive.put({ id: `a${i}`, name: `doc ${i}.txt`, folderId: FOLDER, content: `Document ${i}.` });
    drive.put({ id: 'elsewhere', name: 'other.txt', folderId: 'another-folder', content: 'Not this deal.' });
    await sources.upsertSource(db.sql, { dealId, sourceType: 'gdrive', folderId: FOLDER, channelId: 'chan-1', channelToken: 'secret-token' });
    const job = await finished(await queueSourceSync(queue, dealId, 'gdrive', 'incremental'));
    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ newDocuments: 1_200, filesScanned: 1_200, pages: 2 });
    const docs = await docsBySource();
    expect(docs.size).toBe(1_200);
    expect(docs.has('elsewhere')).toBe(false);
    expect(new Set(await summarizeJobs()).size).toBe(1_200);
    expect((await sources.activeSource(db.sql, dealId, 'gdrive'))!.page_token).toBe(drive.startPageToken);
  });

  it('resumes the changes feed from the saved cursor after a failed attempt: no change missed, none applied twice', async () => {
    // Forget the summaries queued so far: what follows must queue exactly the new and changed files.
    await db.sql.query(`delete from nova_jobs where queue = $1`, [DOCUMENT_QUEUE]);
    const before = await docsBySource();
    for (let i = 0; i < 1_500; i++) drive.put({ id: `b${i}`, name: `new ${i}.txt`, folderId: FOLDER, content: `New ${i}.` });
    for (let i = 0; i < 300; i++) drive.put({ id: `a${i}`, name: `doc ${i} v2.txt`, folderId: FOLDER, content: `Edited ${i}.` });
    for (let i = 300; i < 500; i++) drive.remove(`a${i}`);
    drive.put({ id: 'a600', name: 'moved.txt', folderId: 'another-folder', content: 'Moved away.' });
    // 2,001 changes = 3 pages. The first page commits, then Drive fails past the call's own retries.
    const requestsBefore = drive.requests.changes;
    drive.outageAfter(1, 4);
    const job = await finished(await queueSourceSync(queue, dealId, 'gdrive', 'incremental'));
    expect(job.state).toBe('completed');
    const after = await docsBySource();
    expect(after.size).toBe(1_200 + 1_500);
    for (let i = 0; i < 1_500; i++) expect(after.get(`b${i}`)?.status, `b${i}`).toBe('new');
    for (let i = 0; i < 300; i++) expect(after.get(`a${i}`)?.name).toBe(`doc ${i} v2.txt`);
    for (let i = 300; i < 500; i++) expect(after.get(`a${i}`)?.status).toBe('deleted');
    expect(after.get('a600')?.status).toBe('deleted');
    expect(after.get('a700')?.updated_at).toEqual(before.get('a700')?.updated_at);
    // One summary per new or changed file; unchanged and deleted files queue none.
    const queued = await summarizeJobs();
    expect(queued.length).toBe(1_500 + 300);
    expect(new Set(queued).size).toBe(queued.length);
    // Page 1, four failed tries of page 2 (one attempt), then pages 2 and 3: the committed page was
    // not fetched again, the retry started from the saved cursor.
    expect(job.attempts).toBe(2);
    expect(job.last_error?.message).toMatch(/gdrive answered 503/);
    expect(drive.requests.changes - requestsBefore).toBe(1 + 4 + 2);
    expect((await sources.activeSource(db.sql, dealId, 'gdrive'))!.page_token).toBe(drive.startPageToken);
  });

  it('starts an incremental sync on a Drive push notification that carries the channel token', async () => {
    drive.watch('chan-1', `http://127.0.0.1:${port}/webhooks/gdrive`, 'secret-token');
    drive.watch('forged', `http://127.0.0.1:${port}/webhooks/gdrive`, 'wrong-token');
    drive.put({ id: 'c1', name: 'pushed.txt', folderId: FOLDER, content: 'Pushed.' });
    expect(await drive.notify('chan-1', 'sync')).toBe(200);
    expect(await drive.notify('forged')).toBe(404);
    expect(await drive.notify('chan-1')).toBe(200);
    // The third sync job (after the two above) is the one the push queued; the `sync` handshake
    // and the forged channel queued none.
    const finishedSyncs = async () => (await db.sql.query<{ n: number }>(
      `select count(*)::int as n from nova_job_results where queue = $1`, [SOURCE_SYNC_QUEUE]))[0]!.n;
    await until(async () => (await finishedSyncs()) === 3, 20_000, 'pushed sync finished');
    expect((await docsBySource()).has('c1')).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(await finishedSyncs()).toBe(3);
    expect((await db.sql.query(`select 1 from nova_jobs where queue = $1`, [SOURCE_SYNC_QUEUE])).length).toBe(0);
  });
});
