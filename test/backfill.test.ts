import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { BACKFILL_QUEUE } from '../src/email/index.ts';
import { completeIfDone } from '../src/email/sync-state.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

const DAY = 86_400_000;
// Yesterday at midnight UTC: every window below reaches back at most 300 days from the real now.
const NOW = Math.floor(Date.now() / DAY) * DAY - DAY;

describe.each(backends)('Backfill on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let emulator: NylasEmulator;
  let api: string;

  beforeAll(async () => {
    db = await backend.create();
    emulator = new NylasEmulator({ apiKey: 'key-1', threadsPerGrant: 60, messagesPerThread: 3, now: NOW });
    await emulator.start();
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    runtime = await startRuntime(db, domains, {
      WORKER_TYPE: 'api,backfill,threads,completion',
      PORT: String(port),
      API_HOST: '127.0.0.1',
      NYLAS_API_KEY: 'key-1',
      NYLAS_API_URI: emulator.url,
      NYLAS_MAX_RETRIES: '1',
      NYLAS_RATE_LIMIT_PER_SECOND: '1000',
      NYLAS_RATE_LIMIT_BURST: '1000',
      BACKFILL_PAGE_SIZE: '10',
      THREADS_CONCURRENCY: '4',
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
  /** The threads (and their messages) of `grant` the emulator lists in [since, until). */
  const expected = (grant: string, since: number, untilMs: number) => {
    const threads = emulator.listThreads(grant).filter((t) => {
      const at = t.latest_message_received_date! * 1000;
      return at >= Math.floor(since / 1000) * 1000 && at < Math.floor(untilMs / 1000) * 1000;
    });
    return { threads: threads.length, messages: threads.reduce((n, t) => n + t.message_ids.length, 0) };
  };
  const progress = async (configId: string) => (await call('GET', `/api/backfills/${configId}`)).body;
  const completed = (configId: string, timeoutMs = 30_000) =>
    until(async () => (await progress(configId)).backfillStatus === 'completed', timeoutMs, `backfill ${configId} completed`);
  const window = (days: number) => ({ since: new Date(NOW - days * DAY).toISOString(), until: new Date(NOW).toISOString() });

  it('syncs a generated mailbox to completed with exact thread and message counts', async () => {
    const grant = 'grant-exact';
    const { inbox, configId } = await connect(grant);
    const range = window(300);
    const start = await call('POST', `/api/inboxes/${inbox.id}/backfill`, range);
    expect(start.status).toBe(202);
    expect(start.body.configId).toBe(configId);
    await completed(configId);

    const want = expected(grant, Date.parse(range.since), Date.parse(range.until));
    expect(want.threads).toBeGreaterThan(20);
    const p = await progress(configId);
    expect(p).toMatchObject({ threadsTotal: want.threads, threadsCompleted: want.threads, threadsFailed: 0, messagesSynced: want.messages });
    expect(p.percentComplete).toBe(100);
    const [stored] = await db.sql.query<{ threads: number; messages: number }>(
      `select (select count(*) from flux_email_threads where grant_id = $1)::int as threads,
              (select count(*) from flux_email_messages where grant_id = $1)::int as messages`, [grant]);
    expect(stored).toEqual(want);
    // The seed's monitoring queries run unchanged.
    const [stats] = await db.sql.query<any>(`SELECT config_id, backfill_status, threads_queued, threads_completed, threads_failed, messages_synced, sync_completed_at FROM inbox_sync_stats WHERE config_id = $1`, [configId]);
    expect(stats).toMatchObject({ backfill_status: 'completed', threads_queued: want.threads, threads_completed: want.threads, messages_synced: want.messages });
    expect(stats.sync_completed_at).toBeInstanceOf(Date);
    const byStatus = await db.sql.query<any>(`SELECT status, COUNT(*) FROM queued_threads WHERE config_id = $1 GROUP BY status`, [configId]);
    expect(byStatus).toEqual([{ status: 'completed', count: want.threads }]);
    await db.sql.query(`SELECT backfill_status, backfill_started_at, backfill_progress FROM flux_inbox_configurations WHERE id = $1`, [configId]);
    await db.sql.query(`SELECT * FROM queued_threads WHERE status = 'failed' ORDER BY processed_at DESC LIMIT 10`);
    await db.sql.query(`SELECT config_id, backfill_status, threads_queued, threads_completed, threads_processing, threads_failed, messages_synced,
      ROUND((threads_completed::NUMERIC / threads_queued) * 100, 2) as percent_complete FROM inbox_sync_stats WHERE sync_completed_at IS NULL`);
  });

  it('answers inboxes, backfills, threads and messages in camelCase, provider data as stored', async () => {
    const grant = 'grant-views';
    const { inbox, configId } = await connect(grant);
    expect(inbox).toEqual({ id: inbox.id, grantId: grant, email: `${grant}@example.com`, provider: null, status: 'active' });
    expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, window(100))).status).toBe(202);
    await completed(configId);

    const listed = (await call('GET', '/api/inboxes')).body.inboxes.find((i: any) => i.id === inbox.id);
    expect(Object.keys(listed).sort()).toEqual(['backfillCompletedAt', 'backfillStartedAt', 'backfillStatus', 'configId',
      'createdAt', 'email', 'grantId', 'id', 'provider', 'status']);
    expect(listed).toMatchObject({ configId, grantId: grant, backfillStatus: 'completed' });

    const backfill = (await call('GET', '/api/backfills')).body.backfills.find((b: any) => b.configId === configId);
    expect(Object.keys(backfill).sort()).toEqual(['backfillCompletedAt', 'backfillError', 'backfillProgress', 'backfillSince',
      'backfillStartedAt', 'backfillStatus', 'backfillUntil', 'configId', 'email', 'grantId', 'messagesAlreadySynced', 'messagesSynced',
      'percentComplete', 'run', 'threadsAlreadySynced', 'threadsCompleted', 'threadsFailed', 'threadsProcessing', 'threadsQueued', 'threadsTotal']);
    expect(backfill).toMatchObject({ grantId: grant, percentComplete: 100 });

    const [thread] = (await call('GET', `/api/inboxes/${inbox.id}/threads?limit=1`)).body.threads;
    expect(Object.keys(thread).sort()).toEqual(['hasAttachments', 'id', 'latestMessageReceivedDate', 'messageIds', 'nylasThreadId',
      'participants', 'snippet', 'starred', 'subject', 'unread']);
    const wire = emulator.listThreads(grant).find((t) => t.id === thread.nylasThreadId)!;
    expect(thread.messageIds).toEqual(wire.message_ids);

    const [message] = (await call('GET', `/api/threads/${thread.id}/messages`)).body.messages;
    expect(Object.keys(message).sort()).toEqual(['attachments', 'body', 'ccParticipants', 'date', 'folders', 'fromParticipants', 'id',
      'nylasMessageId', 'snippet', 'starred', 'subject', 'toParticipants', 'unread']);
    // Participants are the provider's objects, passed through as stored.
    const [wireMessage] = emulator.listMessages(grant, wire.id).filter((m) => m.id === message.nylasMessageId);
    expect(message.fromParticipants).toEqual(wireMessage!.from);
  });

  it('publishes progress events for the backfill: discovered, queued, completed, messages', async () => {
    const grant = 'grant-events';
    const { inbox, configId } = await connect(grant);
    const seen: any[] = [];
    const off = runtime.service.events.on((e) => {
      if (e.topic === `backfill:${configId}`) seen.push(e);
    });
    try {
      const range = window(200);
      expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, range)).status).toBe(202);
      await completed(configId);
      await until(() => seen.some((e) => e.data.status === 'completed'), 5000, 'completed event');
      const want = expected(grant, Date.parse(range.since), Date.parse(range.until));
      expect(seen.every((e) => e.type === 'backfill.progress' && e.data.configId === configId)).toBe(true);
      expect(seen.some((e) => e.data.status === 'discovering' || (e.data.status === 'thread_sync' && e.data.discovered === want.threads))).toBe(true);
      expect(seen.at(-1).data).toMatchObject({ status: 'completed', queued: want.threads, completed: want.threads, failed: 0, messages: want.messages });
    } finally {
      off();
    }
  });

  it('refuses a window reaching back more than a year, an inverted one, and a second run while one is under way', async () => {
    const { inbox } = await connect('grant-ranges');
    const tooWide = await call('POST', `/api/inboxes/${inbox.id}/backfill`, { since: new Date(Date.now() - 400 * DAY).toISOString() });
    expect(tooWide.status).toBe(400);
    expect(tooWide.body.error.message).toMatch(/one year/);
    const inverted = await call('POST', `/api/inboxes/${inbox.id}/backfill`, { since: new Date(Date.now() - DAY).toISOString(), until: new Date(Date.now() - 2 * DAY).toISOString() });
    expect(inverted.status).toBe(400);
    const garbage = await call('POST', `/api/inboxes/${inbox.id}/backfill`, { since: 'last tuesday' });
    expect(garbage.status).toBe(400);
    expect(await db.sql.query(`select 1 from nova_jobs where queue = 'inbox_backfill_jobs' and payload->>'configId' = $1`, [inbox.id])).toEqual([]);

    emulator.setFaults({ latencyMs: 50 });
    try {
      const first = await call('POST', `/api/inboxes/${inbox.id}/backfill`, window(200));
      expect(first.status).toBe(202);
      const second = await call('POST', `/api/inboxes/${inbox.id}/backfill`, window(200));
      expect(second.status).toBe(409);
      // The message names the inbox, not two ids.
      expect(second.body.error.message).toMatch(/^a backfill of \S+ is already running/);
      expect(second.body.error.message).not.toContain(inbox.id);
      await completed(first.body.configId);
    } finally {
      emulator.setFaults({});
    }
  });

  it('completes despite injected 429s and 5xx answers', async () => {
    const grant = 'grant-faults';
    const { inbox, configId } = await connect(grant);
    emulator.injectFailures({ status: 429, count: 3, retryAfterSeconds: 1, pathIncludes: '/threads' });
    emulator.injectFailures({ status: 503, count: 4, pathIncludes: '/messages' });
    const range = window(250);
    expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, range)).status).toBe(202);
    await completed(configId);
    const want = expected(grant, Date.parse(range.since), Date.parse(range.until));
    expect(await progress(configId)).toMatchObject({ threadsCompleted: want.threads, threadsFailed: 0, messagesSynced: want.messages });
  });

  it('marks a thread that fails 5 times failed with its error, and still completes the backfill', async () => {
    const grant = 'grant-poison';
    const { inbox, configId } = await connect(grant);
    const range = window(250);
    const want = expected(grant, Date.parse(range.since), Date.parse(range.until));
    const poison = emulator.listThreads(grant).find((t) => t.latest_message_received_date! * 1000 > Date.parse(range.since))!;
    // Every request for this thread's messages fails: 5 attempts of 2 tries each (NYLAS_MAX_RETRIES=1).
    emulator.injectFailures({ status: 500, count: 10, pathIncludes: `thread_id=${poison.id}` });
    expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, range)).status).toBe(202);
    await completed(configId);

    const [failed] = await db.sql.query<any>(`SELECT * FROM queued_threads WHERE status = 'failed' and config_id = $1 ORDER BY processed_at DESC LIMIT 10`, [configId]);
    expect(failed).toMatchObject({ thread_id: poison.id, attempts: 5 });
    expect(failed.error).toMatch(/500/);
    expect(await progress(configId)).toMatchObject({
      threadsTotal: want.threads, threadsCompleted: want.threads - 1, threadsFailed: 1,
      messagesSynced: want.messages - poison.message_ids.length,
    });

    // The provider recovered (the injected failures are used up): retrying the dead job syncs it.
    const dead = (await call('GET', '/api/queues/thread_sync_jobs/jobs?state=dead')).body.jobs.find((j: any) => j.payload.threadId === poison.id);
    expect((await call('POST', `/api/jobs/${dead.id}/retry`)).status).toBe(200);
    await until(async () => (await progress(configId)).threadsCompleted === want.threads, 20_000, 'retried thread synced');
    expect(await progress(configId)).toMatchObject({ threadsFailed: 0, messagesSynced: want.messages });
    const [stats] = await db.sql.query<any>(`select threads_completed, threads_failed, messages_synced from inbox_sync_stats where config_id = $1`, [configId]);
    expect(stats).toEqual({ threads_completed: want.threads, threads_failed: 0, messages_synced: want.messages });
  });

  it('fails a run whose discovery died during its last attempt (onDead), so the inbox can be backfilled again', async () => {
    const { inbox, configId } = await connect('grant-lost-job');
    // As the reaper leaves a discovery whose process died during its last attempt: back in the
    // queue with every attempt spent. The next claimer dead-letters it and runs the onDead hook.
    await db.sql.query(`update flux_inbox_configurations set backfill_status = 'discovering', backfill_run = 1,
      backfill_since = now() - interval '10 days', backfill_until = now() where id = $1`, [configId]);
    await db.sql.query(`insert into nova_jobs (queue, payload, attempts, max_attempts, last_error)
      values ($1, $2::text::jsonb, 3, 3, '{"name": "LeaseExpired", "message": "lease expired before the job was acknowledged"}')`,
    [BACKFILL_QUEUE, JSON.stringify({ configId, run: 1 })]);
    await until(async () => (await progress(configId)).backfillStatus === 'failed', 10_000, 'lost run failed');
    expect((await progress(configId)).backfillError).toMatch(/attempts used up: lease expired/);
    const [deadJob] = await db.sql.query(`select state from nova_job_results where queue = $1 and payload->>'configId' = $2`, [BACKFILL_QUEUE, configId]);
    expect(deadJob).toEqual({ state: 'dead' });
    const again = await call('POST', `/api/inboxes/${inbox.id}/backfill`, window(100));
    expect(again.status).toBe(202);
    expect(again.body.run).toBe(2);
    await completed(configId);
  });

  it('fails only the thread that cannot be stored, not the threads synced in the same batch', async () => {
    const grant = 'grant-unstorable';
    const { inbox, configId } = await connect(grant);
    const range = window(250);
    const want = expected(grant, Date.parse(range.since), Date.parse(range.until));
    const bad = emulator.listThreads(grant).find((t) => t.latest_message_received_date! * 1000 > Date.parse(range.since))!;
    // PostgreSQL refuses a NUL character in jsonb: this thread's store fails on every attempt.
    await emulator.createMessage(grant, { threadId: bad.id, body: 'broken \u0000 body', date: bad.latest_message_received_date! - 60 }, { deliver: false });
    expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, range)).status).toBe(202);
    await completed(configId);
    const rows = await db.sql.query<{ thread_id: string; status: string; attempts: number }>(
      `select thread_id, status, attempts from queued_threads where config_id = $1`, [configId]);
    expect(rows).toHaveLength(want.threads);
    expect(rows.filter((r) => r.status === 'failed')).toEqual([{ thread_id: bad.id, status: 'failed', attempts: 5 }]);
    // Every other thread was stored on its first attempt, though some shared a batch with the bad one.
    expect(rows.filter((r) => r.thread_id !== bad.id).every((r) => r.status === 'completed' && r.attempts === 1)).toBe(true);
  });

  it('resumes discovery from its checkpoint after a failed attempt, with no duplicates', async () => {
    const grant = 'grant-resume';
    const { inbox, configId } = await connect(grant);
    // The second list page fails past the client's retry: the attempt fails after one saved page.
    emulator.injectFailures({ status: 503, count: 2, pathIncludes: 'page_token' });
    const before = emulator.stats().requests;
    const range = window(300);
    expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, range)).status).toBe(202);
    await completed(configId);
    const want = expected(grant, Date.parse(range.since), Date.parse(range.until));
    const p = await progress(configId);
    expect(p).toMatchObject({ threadsTotal: want.threads, threadsCompleted: want.threads, messagesSynced: want.messages });
    const [stored] = await db.sql.query<{ n: number }>(`select count(*)::int as n from flux_email_messages where grant_id = $1`, [grant]);
    expect(stored?.n).toBe(want.messages);
    const pages = Math.ceil(want.threads / 10);
    expect(p.backfillProgress.discovery.pages).toBe(pages);
    // Every page once, the two failed tries, and one request per thread (its messages; the
    // thread itself comes from the listing): no page was listed again.
    expect(emulator.stats().requests - before).toBe(pages + 2 + want.threads);
    const [job] = await db.sql.query<{ attempts: number }>(`select attempts from nova_job_results where queue = 'inbox_backfill_jobs' and payload->>'configId' = $1`, [configId]);
    expect(job?.attempts).toBe(2);
  });

  it('reopens a backfill marked completed while threads are pending, then completes it', async () => {
    const grant = 'grant-recovery';
    const { inbox, configId } = await connect(grant);
    emulator.setFaults({ latencyMs: 150 });
    try {
      expect((await call('POST', `/api/inboxes/${inbox.id}/backfill`, window(300))).status).toBe(202);
      await until(async () => (await progress(configId)).backfillStatus === 'thread_sync', 20_000, 'thread_sync');
      // A premature completion, as a bug or a hand-run UPDATE would leave it.
      await db.sql.query(`update flux_inbox_configurations set backfill_status = 'completed', backfill_completed_at = now() where id = $1`, [configId]);
      await until(async () => (await db.sql.query(`select 1 from backfill_history where config_id = $1 and event = 'recovered'`, [configId])).length > 0, 20_000, 'recovery');
    } finally {
      emulator.setFaults({});
    }
    await completed(configId);
    const p = await progress(configId);
    expect(p.threadsCompleted).toBe(p.threadsTotal);
    const events = await db.sql.query<{ event: string }>(`select event from backfill_history where config_id = $1 order by id`, [configId]);
    expect(events.map((e) => e.event)).toEqual(['started', 'discovered', 'recovered', 'completed']);
  });

  it('completes a backfill once when two monitors decide at the same moment', async () => {
    const { inbox, configId } = await connect('grant-double');
    await db.sql.query(`update flux_inbox_configurations set backfill_status = 'thread_sync', backfill_run = 1 where id = $1`, [configId]);
    await db.sql.query(`insert into queued_threads (config_id, grant_id, thread_id, status) values ($1, 'grant-double', 't1', 'completed')`, [configId]);
    const other = await db.connect();
    const decisions = await Promise.all([db.sql, other].map((sql, i) => sql.transaction((tx) => completeIfDone(tx, configId, `monitor-${i}`))));
    expect(decisions.filter((d) => d !== undefined)).toHaveLength(1);
    const marks = await db.sql.query(`select actor from backfill_history where config_id = $1 and event = 'completed'`, [configId]);
    expect(marks).toHaveLength(1);
    expect(inbox.id).toBeTruthy();
  });

  it('starts a backfill from the CLI and follows it to completion, then prints its status', async () => {
    const start = spawnNova(['backfill', 'start', '--grant', 'grant-cli', '--since', '200d', '--follow'], { NOVA_API_URL: api }, 'src/cli/main.ts');
    expect(await start.exited, start.output()).toBe(0);
    const configId = /backfill ([0-9a-f-]{36}) \(run 1\) started for grant-cli/.exec(start.output())?.[1];
    expect(configId, start.output()).toBeDefined();
    expect(start.output()).toMatch(/\[#{30}\] 100\.00%  (\d+)\/\1 threads  \d+ messages  completed/);

    const status = spawnNova(['backfill', 'status', configId!, '--json'], { NOVA_API_URL: api }, 'src/cli/main.ts');
    expect(await status.exited).toBe(0);
    expect(JSON.parse(status.output())).toMatchObject({ configId, backfillStatus: 'completed' });

    const refused = spawnNova(['backfill', 'start', '--grant', 'grant-cli', '--since', '500d'], { NOVA_API_URL: api }, 'src/cli/main.ts');
    expect(await refused.exited).toBe(1);
    expect(refused.output()).toMatch(/400 a backfill reaches back at most 365 days/);
  });

  it('fetches the thread itself when discovery left no listing for it', async () => {
    const grant = 'grant-fallback';
    const { configId } = await connect(grant);
    const thread = emulator.listThreads(grant)[0]!;
    await db.sql.query(`update flux_inbox_configurations set backfill_status = 'thread_sync', backfill_run = 1 where id = $1`, [configId]);
    await db.sql.query(`insert into queued_threads (config_id, grant_id, thread_id) values ($1, $2, $3)`, [configId, grant, thread.id]);
    await runtime.service.queue.send('thread_sync_jobs', { configId, threadId: thread.id });
    await completed(configId);
    const [stored] = await db.sql.query<any>(`select subject, message_ids from flux_email_threads where grant_id = $1 and nylas_thread_id = $2`, [grant, thread.id]);
    expect(stored).toEqual({ subject: thread.subject, message_ids: thread.message_ids });
    const [{ n }] = (await db.sql.query<{ n: number }>(`select count(*)::int as n from flux_email_messages where grant_id = $1`, [grant])) as [{ n: number }];
    expect(n).toBe(thread.message_ids.length);
  });
});
