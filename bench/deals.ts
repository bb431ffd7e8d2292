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
 * - Drive: an incremental sync of BENCH_CHANGES changes from the emulator's changes feed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDealsDomain, queueAllDailyBriefs } from '../src/deals/index.ts';
import { queueDailyBrief, queueEmailProcessing, queueSourceSync } from '../src/deals/queues.ts';
import * as sources from '../src/deals/sources-store.ts';
import * as store from '../src/deals/store.ts';
import { loadNovaConfig } from '../src/domains.ts';
import { GdriveEmulator } from '../src/emulators/gdrive/index.ts';
import { silentLogger } from '../src/log.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { migrate, openPglite, type Sql } from '../src/storage/index.ts';
import { scratchDatabase } from './support.ts';

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

async function main(): Promise<void> {
  const db = await open();
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
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
