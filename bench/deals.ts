/**
 * Deals benchmark (seed 003): prints numbers; asserts nothing.
 *
 *   npm run bench:deals                                             # embedded PGlite
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:deals   # a scratch database
 *
 * Reported, with the builtin analyzer (no network):
 * - brief: time from queueDailyBrief to the saved brief of a deal with BENCH_DOCS documents and
 *   BENCH_EMAILS emails, p50 / max over BENCH_BRIEFS runs;
 * - email analysis: BENCH_EMAIL_JOBS analyze_sentiment jobs queued at once, time until all are done;
 * - the 8:00 fire: queueAllDailyBriefs for BENCH_DEALS active deals (what the schedule's job runs);
 * - Drive: an incremental sync of BENCH_CHANGES changes from the emulator's changes feed;
 * - SharePoint: an incremental sync of BENCH_CHANGES changes from the Graph emulator's drive delta;
 * - OCR: one scanned page (the sample scan, and a letter page of six of them, about 30 lines) read
 *   by this process's OCR engine, cold (the worker starting) and warm (p50 of BENCH_OCR_PAGES);
 * - documents RSS (PostgreSQL only, needs `npm run build`): peak RSS of a `nova start documents`
 *   process (the built CLI, as production runs it) while it OCRs BENCH_OCR_DOCS scanned letter pages.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDealsDomain, queueAllDailyBriefs } from '../src/deals/index.ts';
import { queueDailyBrief, queueEmailProcessing, queueSourceSync } from '../src/deals/queues.ts';
import * as sources from '../src/deals/sources-store.ts';
import * as store from '../src/deals/store.ts';
import { loadNovaConfig } from '../src/domains.ts';
import { existsSync } from 'node:fs';
import { OcrEngine } from '../src/deals/ocr.ts';
import { extractText } from '../src/deals/text.ts';
import { GdriveEmulator } from '../src/emulators/gdrive/index.ts';
import { scannedPdfBytes } from '../src/emulators/gdrive/samples.ts';
import { GraphEmulator } from '../src/emulators/graph/index.ts';
import { silentLogger } from '../src/log.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { migrate, openPglite, type Sql } from '../src/storage/index.ts';
import { mb, peakRss, scratchDatabase, startNova } from './support.ts';

const int = (name: string, def: number) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : def;
};
const BRIEFS = int('BENCH_BRIEFS', 20);
const DOCS = int('BENCH_DOCS', 200);
const EMAILS = int('BENCH_EMAILS', 200);
const EMAIL_JOBS = int('BENCH_EMAIL_JOBS', 1000);
const DEALS = int('BENCH_DEALS', 1000);
const CHANGES = int('BENCH_CHANGES', 10_000);
const OCR_PAGES = int('BENCH_OCR_PAGES', 5);
const OCR_DOCS = int('BENCH_OCR_DOCS', 10);
/** BENCH_ONLY=ocr,rss,core,graph runs those parts only (core: brief, email, 8:00 fire, Drive). */
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const want = (part: string) => !ONLY || ONLY.includes(part);

const ms = (n: number) => `${n.toFixed(0)} ms`;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function open(): Promise<{ sql: Sql; env: Record<string, string>; close(): Promise<void> }> {
  if (process.env.DATABASE_URL) {
    const db = await scratchDatabase(process.env.DATABASE_URL);
    return { sql: db.sql, env: { DATABASE_URL: db.url }, close: () => db.drop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'nova-bench-deals-'));
  const sql = await openPglite(join(dir, 'db'));
  await migrate(sql);
  return { sql, env: { NOVA_DATA_DIR: join(dir, 'db') }, close: async () => { await sql.close(); rmSync(dir, { recursive: true, force: true }); } };
}

async function waitFor(queue: QueueClient, ids: number[]): Promise<void> {
  for (const id of ids) {
    for (;;) {
      const job = await queue.getJob(id);
      if (job && ['completed', 'dead'].includes(job.state)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** OCR of one scanned page in this process: the cold first page, then warm pages. */
async function benchOcr(): Promise<void> {
  const ocr = new OcrEngine({ languages: 'eng', maxPixels: 40_000_000 });
  try {
    for (const [label, pdf] of [['sample scan, 1400×480, 5 lines', scannedPdfBytes()], ['letter page, 6 scans, 30 lines', scannedPdfBytes(1, undefined, 6)]] as const) {
      const times: number[] = [];
      for (let i = 0; i <= OCR_PAGES; i++) {
        const t = performance.now();
        const read = await extractText(pdf, 'application/pdf', { maxChars: 1_000_000, ocr });
        times.push(performance.now() - t);
        if (!read.text.includes('asbestos')) throw new Error('OCR lost the known words');
      }
      const [cold, ...warm] = times;
      console.log(`OCR one scanned page (${label}): warm p50 ${ms(pct(warm, 0.5))}, max ${ms(Math.max(...warm))}; first page ${ms(cold!)} (starts the worker)`);
    }
    console.log(`  this process after OCR: RSS ${mb(process.memoryUsage().rss)}`);
  } finally {
    await ocr.close();
  }
}

/** Peak RSS of a `documents` process (built CLI) OCRing scanned letter pages, on PostgreSQL. */
async function benchDocumentsRss(): Promise<void> {
  if (!process.env.DATABASE_URL) return console.log('documents RSS: skipped (needs DATABASE_URL: the process must share the database)');
  if (!existsSync('dist/cli/main.js')) return console.log('documents RSS: skipped (run `npm run build` first: the built CLI is measured, as production runs it)');
  const db = await scratchDatabase(process.env.DATABASE_URL);
  const child = await startNova('documents', { DATABASE_URL: db.url, POLL_INTERVAL_MS: '50' });
  const rss = peakRss(() => [child.child.pid], 50);
  try {
    const queue = new QueueClient(db.sql);
    const deal = await store.insertDeal(db.sql, { name: 'OCR deal' });
    const page = scannedPdfBytes(1, undefined, 6);
    const ids: number[] = [];
    const t = performance.now();
    for (let i = 0; i < OCR_DOCS; i++) {
      const docId = await store.insertDocument(db.sql, { dealId: deal.id, name: `scan ${i}.pdf`, sourceType: 'upload', fileData: page });
      ids.push(await queue.send('document-processing', { documentId: docId, dealId: deal.id, operation: 'summarize' }));
    }
    await waitFor(queue, ids);
    const failed = (await Promise.all(ids.map((id) => queue.getJob(id)))).filter((j) => j?.state !== 'completed').length;
    console.log(`documents process: ${OCR_DOCS} scanned letter pages summarized in ${ms(performance.now() - t)} (${failed} failed), peak RSS ${mb(rss.stop())} (concurrency 5, one OCR worker)`);
  } finally {
    rss.stop();
    await child.stop();
    await db.drop();
  }
}

/** Incremental SharePoint sync of CHANGES changes from the Graph emulator's drive delta. */
async function benchGraph(db: { sql: Sql; env: Record<string, string> }): Promise<void> {
  const graph = new GraphEmulator({ maxPageSize: 1000 });
  await graph.start();
  const config = loadNovaConfig({
    ...db.env, WORKER_TYPE: 'source-sync', WORKER_HEALTH_PORT: '0', POLL_INTERVAL_MS: '50',
    GRAPH_API_URL: graph.url, GRAPH_RATE_LIMIT_PER_SECOND: '1000', NOVA_RETAIN_COMPLETED: '100000',
  });
  const runtime = new Runtime({ config, domains: [createDealsDomain()], logger: silentLogger, health: false, ...(process.env.DATABASE_URL ? {} : { sql: db.sql }) });
  await runtime.start();
  const queue = new QueueClient(db.sql);
  try {
    const deal = await store.insertDeal(db.sql, { name: 'SharePoint deal', status: 'paused' });
    const drive = 'b!bench';
    graph.put(drive, { id: 'seed', name: 'seed.txt', content: 'Seed.' });
    const source = await sources.upsertSource(db.sql, { dealId: deal.id, sourceType: 'sharepoint', folderId: drive, configuration: { driveId: drive } });
    await sources.savePageToken(db.sql, source.id, graph.latestDeltaLink(drive, 500));
    // As for Drive: 70% new files, 20% edits of them, 10% deletions.
    const created = Math.round(CHANGES * 0.7);
    const edited = Math.round(CHANGES * 0.2);
    for (let i = 0; i < created; i++) graph.put(drive, { id: `i${i}`, name: `file ${i}.txt`, content: `File ${i}.` });
    for (let i = 0; i < edited; i++) graph.put(drive, { id: `i${i}`, name: `file ${i} v2.txt`, content: `Edited ${i}.` });
    for (let i = 0; i < CHANGES - created - edited; i++) graph.remove(drive, `i${created - 1 - i}`);
    const t = performance.now();
    const id = await queueSourceSync(queue, deal.id, 'sharepoint', 'incremental');
    await waitFor(queue, [id]);
    const syncMs = performance.now() - t;
    const job = await queue.getJob(id);
    console.log(`SharePoint (Graph delta) incremental sync: ${CHANGES} changes in ${ms(syncMs)} (${(CHANGES / (syncMs / 1000)).toFixed(0)} changes/s, pages of 500); result ${JSON.stringify(job?.result)}`);
  } finally {
    await runtime.stop();
    await graph.stop();
  }
}

async function main(): Promise<void> {
  if (want('ocr')) await benchOcr();
  if (want('rss')) await benchDocumentsRss();
  const db = await open();
  if (!want('core')) {
    try {
      if (want('graph')) await benchGraph(db);
    } finally {
      await db.close();
    }
    return;
  }
  const drive = new GdriveEmulator({ maxPageSize: 1000 });
  await drive.start();
  const config = loadNovaConfig({
    ...db.env, WORKER_TYPE: 'daily-brief,emails,source-sync', WORKER_HEALTH_PORT: '0', POLL_INTERVAL_MS: '50',
    GDRIVE_API_URL: drive.url, GDRIVE_RATE_LIMIT_PER_SECOND: '1000', NOVA_RETAIN_COMPLETED: '100000',
  });
  const runtime = new Runtime({ config, domains: [createDealsDomain()], logger: silentLogger, health: false, ...(process.env.DATABASE_URL ? {} : { sql: db.sql }) });
  await runtime.start();
  const queue = new QueueClient(db.sql);
  let stopped = false;
  console.log(`deals bench on ${db.sql.kind}`);
  try {
    // --- brief
    const deal = await store.insertDeal(db.sql, { name: 'Bench deal' });
    for (let i = 0; i < DOCS; i++) {
      await store.insertDocument(db.sql, { dealId: deal.id, name: `doc ${i}${i % 10 === 0 ? ' legal' : ''}.txt`, sourceType: 'upload', content: 'Text.' });
    }
    for (let i = 0; i < EMAILS; i++) {
      await store.insertCommunication(db.sql, { dealId: deal.id, subject: i % 7 === 0 ? 'Urgent review' : `Update ${i}`, sender: 'a@b.example', body: 'Body.', receivedAt: new Date() });
    }
    const briefMs: number[] = [];
    for (let i = 0; i < BRIEFS; i++) {
      const t = performance.now();
      await waitFor(queue, [await queueDailyBrief(queue, deal.id, `2026-01-${String((i % 28) + 1).padStart(2, '0')}`)]);
      briefMs.push(performance.now() - t);
    }
    console.log(`brief (${DOCS} documents, ${EMAILS} emails, builtin): p50 ${ms(pct(briefMs, 0.5))}, max ${ms(Math.max(...briefMs))} over ${BRIEFS} (queue to saved brief)`);

    // --- email analysis
    const ids: string[] = [];
    for (let i = 0; i < EMAIL_JOBS; i++) {
      ids.push(await store.insertCommunication(db.sql, { dealId: deal.id, subject: `Mail ${i}`, sender: 's@x.example', body: i % 3 ? 'We are blocked on the NDA.' : 'Thanks, great progress.', receivedAt: new Date() }));
    }
    let t = performance.now();
    const jobIds = await db.sql.transaction(async (tx) => Promise.all(ids.map((id) => queueEmailProcessing(queue, id, deal.id, 'analyze_sentiment', tx))));
    await waitFor(queue, jobIds);
    const emailMs = performance.now() - t;
    console.log(`email analysis: ${EMAIL_JOBS} jobs in ${ms(emailMs)} (${(EMAIL_JOBS / (emailMs / 1000)).toFixed(0)}/s, ${(emailMs / EMAIL_JOBS).toFixed(2)} ms per email, one process, concurrency 10)`);

    // --- the 8:00 fire
    for (let i = 0; i < DEALS; i += 500) {
      await db.sql.transaction(async (tx) => {
        for (let j = i; j < Math.min(DEALS, i + 500); j++) await store.insertDeal(tx, { name: `Deal ${j}`, ...(j % 4 === 0 && { timezone: 'Europe/London' }) });
      });
    }
    // The fire alone, with no consumer taking the briefs as they arrive.
    await runtime.stop();
    stopped = true;
    t = performance.now();
    const fired = await queueAllDailyBriefs({ sql: db.sql, queue }, new Date(), 'America/New_York');
    console.log(`8:00 fire: ${fired.queued} briefs queued for ${fired.deals} active deals in ${ms(performance.now() - t)} (one statement)`);
  } finally {
    if (!stopped) await runtime.stop();
  }

  // --- Drive incremental sync (a runtime with source-sync only, so no brief competes)
  const syncConfig = loadNovaConfig({
    ...db.env, WORKER_TYPE: 'source-sync', WORKER_HEALTH_PORT: '0', POLL_INTERVAL_MS: '50',
    GDRIVE_API_URL: drive.url, GDRIVE_RATE_LIMIT_PER_SECOND: '1000', NOVA_RETAIN_COMPLETED: '100000',
  });
  const syncRuntime = new Runtime({ config: syncConfig, domains: [createDealsDomain()], logger: silentLogger, health: false, ...(process.env.DATABASE_URL ? {} : { sql: db.sql }) });
  await syncRuntime.start();
  try {
    const deal = await store.insertDeal(db.sql, { name: 'Drive deal', status: 'paused' });
    const source = await sources.upsertSource(db.sql, { dealId: deal.id, sourceType: 'gdrive', folderId: 'bench' });
    await sources.savePageToken(db.sql, source.id, drive.startPageToken);
    // 10,000 changes: 7,000 new files, 2,000 edits of them, 1,000 removals.
    const created = Math.round(CHANGES * 0.7);
    for (let i = 0; i < created; i++) drive.put({ id: `f${i}`, name: `file ${i}.txt`, folderId: 'bench', content: `File ${i}.` });
    for (let i = 0; i < Math.round(CHANGES * 0.2); i++) drive.put({ id: `f${i}`, name: `file ${i} v2.txt`, folderId: 'bench', content: `Edited ${i}.` });
    for (let i = 0; i < CHANGES - created - Math.round(CHANGES * 0.2); i++) drive.remove(`f${created - 1 - i}`);
    const t = performance.now();
    const id = await queueSourceSync(queue, deal.id, 'gdrive', 'incremental');
    await waitFor(queue, [id]);
    const job = await queue.getJob(id);
    const syncMs = performance.now() - t;
    console.log(`Drive incremental sync: ${CHANGES} changes in ${ms(syncMs)} (${(CHANGES / (syncMs / 1000)).toFixed(0)} changes/s); result ${JSON.stringify(job?.result)}`);
  } finally {
    await syncRuntime.stop();
    await drive.stop();
  }
  try {
    if (want('graph')) await benchGraph(db);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
