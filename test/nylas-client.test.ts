import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NylasClient } from '../src/email/nylas/client.ts';
import { NylasEmulator } from '../src/emulators/nylas/index.ts';
import { ProviderError } from '../src/runtime/outbound.ts';
import { RateLimiter } from '../src/runtime/rate-limit.ts';
import { migrate, openPglite, type Sql } from '../src/storage/index.ts';

describe('Nylas client against the emulator', () => {
  let sql: Sql;
  let emulator: NylasEmulator;
  let client: NylasClient;
  const GRANT = 'grant-client';

  beforeAll(async () => {
    sql = await openPglite();
    await migrate(sql);
    emulator = new NylasEmulator({ apiKey: 'key-c', threadsPerGrant: 73, messagesPerThread: 3, maxThreadPageSize: 50 });
    await emulator.start();
    client = new NylasClient({
      apiKey: 'key-c', apiUri: emulator.url, rateLimiter: new RateLimiter(sql),
      rateLimit: { capacity: 100, perSecond: 100 }, maxRetries: 2, timeoutMs: 2000,
    });
  });
  afterAll(async () => {
    await emulator.stop();
    await sql.close();
  });

  it('pages through every thread with next_cursor, and reads a thread with all its messages', async () => {
    const ids: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await client.listThreads(GRANT, { limit: 50, ...(pageToken && { pageToken }) });
      ids.push(...page.data.map((t) => t.id));
      pageToken = page.nextCursor ?? undefined;
    } while (pageToken);
    expect(ids).toEqual(emulator.listThreads(GRANT).map((t) => t.id));
    const messages = await client.listThreadMessages(GRANT, ids[5]!);
    expect(messages.map((m) => m.id).sort()).toEqual(emulator.listMessages(GRANT, ids[5]!).map((m) => m.id).sort());
    expect((await client.getThread(GRANT, ids[5]!)).message_ids).toHaveLength(3);
  });

  it('waits out a 429 for its Retry-After and then succeeds', async () => {
    const thread = emulator.listThreads(GRANT)[0]!;
    emulator.injectFailures({ status: 429, count: 1, retryAfterSeconds: 1, pathIncludes: thread.id });
    const started = Date.now();
    expect((await client.getThread(GRANT, thread.id)).id).toBe(thread.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('retries a body that stays truncated, then reports a retryable error that names the request', async () => {
    emulator.setFaults({ truncateRate: 1 });
    try {
      const before = emulator.stats().requests;
      const err = await client.getGrant(GRANT).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({ provider: 'nylas', status: 200, code: 'invalid_response', retryable: true });
      expect((err as ProviderError).requestId).toEqual(expect.any(String));
      expect((err as Error).message).toContain((err as ProviderError).requestId);
      // The first try and maxRetries (2) more: a cut-off answer is a transient fault, like a 5xx.
      expect(emulator.stats().requests - before).toBe(3);
    } finally {
      emulator.setFaults({});
    }
  });

  it('pages through a mailbox whose answers are often cut off, reset or failing, retrying inside each call', async () => {
    const patient = new NylasClient({
      apiKey: 'key-c', apiUri: emulator.url, rateLimiter: new RateLimiter(sql),
      rateLimit: { capacity: 100, perSecond: 100 }, maxRetries: 6, timeoutMs: 2000,
    });
    emulator.setFaults({ truncateRate: 0.2, errorRate: 0.2, resetRate: 0.2 });
    try {
      const before = emulator.stats();
      const ids: string[] = [];
      let pageToken: string | undefined;
      do {
        const page = await patient.listThreads(GRANT, { limit: 10, ...(pageToken && { pageToken }) });
        ids.push(...page.data.map((t) => t.id));
        pageToken = page.nextCursor ?? undefined;
      } while (pageToken);
      expect(ids).toEqual(emulator.listThreads(GRANT).map((t) => t.id));
      // The faults did happen, and were absorbed by the calls' own retries.
      const after = emulator.stats();
      for (const kind of ['truncated', 'errors', 'resets'] as const) expect(after.byKind[kind]).toBeGreaterThan(before.byKind[kind]);
      const thread = ids[7]!;
      const messages = await patient.listThreadMessages(GRANT, thread);
      expect(messages.map((m) => m.id).sort()).toEqual(emulator.listMessages(GRANT, thread).map((m) => m.id).sort());
    } finally {
      emulator.setFaults({});
    }
  });

  it('reports a grant that stopped working as an auth failure, and a missing object as not found', async () => {
    await emulator.expireGrant('grant-gone', { deliver: false });
    const auth = await client.listThreads('grant-gone').catch((e: unknown) => e);
    expect(auth).toBeInstanceOf(ProviderError);
    expect(auth).toMatchObject({ provider: 'nylas', status: 401, retryable: false });
    expect((auth as ProviderError).isAuthFailure).toBe(true);
    const missing = await client.getMessage(GRANT, 'no-such-message').catch((e: unknown) => e);
    expect((missing as ProviderError).isNotFound).toBe(true);
  });
});
