import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { THREAD_QUEUE } from '../src/email/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/**
 * Backfill outcomes (issue 12): every run is kept, a re-run counts what was already synced
 * instead of reading "0/0", and a run completed with failed threads names them, links their
 * dead jobs and can retry them.
 */

const DAY = 86_400_000;
const NOW = Math.floor(Date.now() / DAY) * DAY - DAY;

describe.each(backends)('Backfill runs on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let emulator: NylasEmulator;
  let api: string;

  beforeAll(async () => {
    db = await backend.create();
    emulator = new NylasEmulator({ apiKey: 'key-runs', threadsPerGrant: 24, messagesPerThread: 3, now: NOW });
    await emulator.start();
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    runtime = await startRuntime(db, domains, {
      WORKER_TYPE: 'api,backfill,threads,completion',
      PORT: String(port),
      API_HOST: '127.0.0.1',
      NYLAS_API_KEY: 'key-runs',
      NYLAS_API_URI: emulator.url,
      NYLAS_MAX_RETRIES: '1',
      NYLAS_RATE_LIMIT_PER_SECOND: '1000',
      NYLAS_RATE_LIMIT_BURST: '1000',
      BACKFILL_PAGE_SIZE: '10',
      THREAD_RETRY_DELAY_MS: '20',
      COMPLETION_CHECK_INTERVAL_MS: '100',
      RECOVERY_CHECK_INTERVAL_MS: '200',
      POLL_INTERVAL_MS: '200',
    });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.stop();
    await db?.drop();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const connect = async (grantId: string) => (await call('POST', '/api/inboxes', { grantId, email: `${grantId}@example.com` })).body;
  const progress = async (configId: string) => (await call('GET', `/api/backfills/${configId}`)).body;
  const completed = (configId: string) =>
    until(async () => (await progress(configId)).backfillStatus === 'completed', 30_000, `backfill ${configId} completed`);
  const range = { since: new Date(NOW - 300 * DAY).toISOString(), until: new Date(NOW).toISOString() };
  const inWindow = (grant: string) => emulator.listThreads(grant).filter((t) => {
    const at = t.latest_message_received_date! * 1000;
    return at >= Date.parse(range.since) && at < Date.parse(range.until);
  });

  it('keeps every run; a re-run reports the threads and messages already synced instead of 0/0', async () => {
    const grant = 'grant-rerun';
    const { inbox, configId } = await connect(grant);
    const threads = inWindow(grant);
    const messages = threads.reduce((n, t) => n + t.message_ids.length, 0);
    expect(threads.length).toBeGreaterThan(5);

    expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, range)).status).toBe(202);
    await completed(configId);
    const again = await call('POST', `/api/inboxes/${inbox.id}/backfill`, range);
    expect(again.status).toBe(202);
    expect(again.body.run).toBe(2);
    await until(async () => (await progress(configId)).backfillProgress?.discovery !== undefined
      && (await progress(configId)).backfillStatus === 'completed', 30_000, 'second run completed');

    // The current run: nothing new to fetch, and it says why.
    expect(await progress(configId)).toMatchObject({
      run: 2, backfillStatus: 'completed', threadsTotal: 0, threadsAlreadySynced: threads.length, messagesAlreadySynced: messages,
    });
    const { body: { backfills } } = await call('GET', '/api/backfills');
    expect(backfills.find((b: any) => b.configId === configId)).toMatchObject({ run: 2, threadsAlreadySynced: threads.length });

    // Both runs are kept: the first with its counts intact.
    const { status, body } = await call('GET', `/api/backfills/${configId}/runs`);
    expect(status).toBe(200);
    expect(body.runs).toHaveLength(2);
    expect(body.runs[0]).toMatchObject({
      run: 2, current: true, status: 'completed', outcome: 'completed', email: `${grant}@example.com`,
      threadsListed: threads.length, threadsAlreadySynced: threads.length, messagesAlreadySynced: messages,
      threadsTotal: 0, threadsCompleted: 0, threadsFailed: 0, messagesSynced: 0,
    });
    expect(body.runs[1]).toMatchObject({
      run: 1, current: false, status: 'completed', outcome: 'completed',
      threadsListed: threads.length, threadsAlreadySynced: 0, threadsTotal: threads.length,
      threadsCompleted: threads.length, threadsFailed: 0, messagesSynced: messages,
    });
    expect(Date.parse(body.runs[1].endedAt)).toBeGreaterThanOrEqual(Date.parse(body.runs[1].startedAt));
    expect(body.runs[1].since).toBe(range.since);

    // Across inboxes, filtered and limited.
    const all = await call('GET', `/api/backfill-runs?configId=${configId}&limit=1`);
    expect(all.body.runs.map((r: any) => r.run)).toEqual([2]);

    // The CLI lists the history, one line per run.
    const list = spawnNova(['backfill', 'list', '--config', configId], { NOVA_API_URL: api }, 'src/cli/main.ts');
    expect(await list.exited, list.output()).toBe(0);
    const lines = list.output().split('\n').filter((l) => l.startsWith(configId));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${configId}\\s+2\\s+${grant}@example\\.com\\s+completed\\s+0/0\\s+0\\s+0\\s+${threads.length} threads, ${messages} messages`));
    expect(lines[1]).toMatch(new RegExp(`^${configId}\\s+1\\s+${grant}@example\\.com\\s+completed\\s+${threads.length}/${threads.length}\\s+0\\s+${messages}\\s+0 threads`));

    const bad = await call('GET', '/api/backfill-runs?limit=0');
    expect(bad.status).toBe(400);
    expect((await call('GET', '/api/backfills/00000000-0000-4000-8000-000000000000/runs')).status).toBe(404);
  });

  it('names the failed threads of a run completed with failures, links their dead jobs, and retries them', async () => {
    const grant = 'grant-partial';
    const { inbox, configId } = await connect(grant);
    const threads = inWindow(grant);
    const [poisoned, pruned] = threads;
    // Each of the two threads fails every attempt: 5 attempts of 2 tries (NYLAS_MAX_RETRIES=1).
    for (const t of [poisoned!, pruned!]) emulator.injectFailures({ status: 500, count: 10, pathIncludes: `thread_id=${t.id}` });
    expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, range)).status).toBe(202);
    await completed(configId);
    expect(await progress(configId)).toMatchObject({ threadsFailed: 2, threadsCompleted: threads.length - 2 });

    const failedThreads = (await call('GET', `/api/backfills/${configId}/failed-threads`)).body.threads;
    expect(failedThreads.map((t: any) => t.threadId).sort()).toEqual([poisoned!.id, pruned!.id].sort());
    for (const t of failedThreads) {
      expect(t.error).toMatch(/500/);
      expect(t.attempts).toBe(5);
      const job = (await call('GET', `/api/jobs/${t.deadJobId}`)).body;
      expect(job).toMatchObject({ queue: THREAD_QUEUE, state: 'dead', payload: { configId, threadId: t.threadId } });
    }
    const [current] = (await call('GET', `/api/backfills/${configId}/runs`)).body.runs;
    expect(current).toMatchObject({ outcome: 'completed_with_failures', threadsFailed: 2 });

    // While the run is going, retrying is refused with the inbox's name.
    const other = await connect('grant-busy');
    emulator.setFaults({ latencyMs: 100 });
    try {
      expect((await call('POST', `/api/inboxes/${other.inbox.id}/backfill`, range)).status).toBe(202);
      const busy = await call('POST', `/api/backfills/${other.configId}/retry-failed`);
      expect(busy.status).toBe(409);
      expect(busy.body.error.message).toMatch(/^the backfill of grant-busy@example\.com is (pending|discovering|thread sync)/);
    } finally {
      emulator.setFaults({});
    }

    // One dead job was pruned: its thread gets a new job; the other's dead job is redriven.
    const gone = failedThreads.find((t: any) => t.threadId === pruned!.id);
    await db.sql.query('delete from nova_job_results where id = $1', [gone.deadJobId]);
    const retried = await call('POST', `/api/backfills/${configId}/retry-failed`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ configId, run: 1, retried: 2, redriven: 1 });
    await until(async () => {
      const p = await progress(configId);
      return p.backfillStatus === 'completed' && p.threadsFailed === 0;
    }, 30_000, 'retried threads synced');
    const messages = threads.reduce((n, t) => n + t.message_ids.length, 0);
    expect(await progress(configId)).toMatchObject({ threadsTotal: threads.length, threadsCompleted: threads.length, messagesSynced: messages });
    const [after] = (await call('GET', `/api/backfills/${configId}/runs`)).body.runs;
    expect(after).toMatchObject({ run: 1, outcome: 'completed', threadsFailed: 0, threadsCompleted: threads.length, messagesSynced: messages });
    expect((await call('GET', `/api/backfills/${configId}/failed-threads`)).body.threads).toEqual([]);
    const events = await db.sql.query<{ event: string; detail: any }>(
      `select event, detail from backfill_history where config_id = $1 order by id`, [configId]);
    expect(events.map((e) => e.event).slice(0, 3)).toEqual(['started', 'discovered', 'completed']);
    expect(events.at(-1)!.event).toBe('completed');
    // Reopened by the retry (and, if the redriven job claimed its thread first, by auto-recovery too).
    expect(events.some((e) => e.event === 'recovered' && e.detail.retryFailed >= 1)).toBe(true);

    // Nothing left to retry: said so, nothing changes.
    const none = await call('POST', `/api/backfills/${configId}/retry-failed`);
    expect(none.body).toMatchObject({ retried: 0, redriven: 0 });
    expect((await progress(configId)).backfillStatus).toBe('completed');
    await completed(other.configId);
  });
});
