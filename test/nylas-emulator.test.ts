import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import Nylas from 'nylas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NylasEmulator, type WebhookEnvelope, type WireMessage, type WireThread } from '../src/emulators/nylas/index.ts';
import { nodeArgs } from './helpers/process.ts';

// The SDK ships its .d.ts in a package without "type": "module", so under NodeNext TypeScript
// types the default import as the CommonJS namespace; at runtime (the ESM build) it is the class.
const NylasClient = Nylas as unknown as typeof Nylas.default;
type NylasClient = InstanceType<typeof NylasClient>;

/** Pinned so every run generates the same mailbox. */
const NOW = Date.UTC(2026, 0, 1);

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

/** Pages through a list endpoint with raw fetch, returning every object in order. */
async function collect<T>(url: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await get(cursor ? `${url}&page_token=${cursor}` : url);
    expect(page.status).toBe(200);
    items.push(...(page.body.data as T[]));
    cursor = page.body.next_cursor;
  } while (cursor);
  return items;
}

describe('the official nylas SDK against the emulator', () => {
  const emulator = new NylasEmulator({ apiKey: 'test-key', threadsPerGrant: 120, now: NOW });
  let nylas: NylasClient;
  beforeAll(async () => {
    nylas = new NylasClient({ apiKey: 'test-key', apiUri: await emulator.start() });
  });
  afterAll(() => emulator.stop());

  it('lists every thread of a 120-thread mailbox across pages, without duplicates', async () => {
    const ids: string[] = [];
    let pages = 0;
    for await (const page of nylas.threads.list({ identifier: 'grant-a', queryParams: { limit: 50 } })) {
      pages++;
      ids.push(...page.data.map((t) => t.id));
    }
    expect(pages).toBe(3);
    expect(ids).toHaveLength(120);
    expect(new Set(ids).size).toBe(120);
    expect(ids).toEqual(emulator.listThreads('grant-a').map((t) => t.id));
  });

  it('finds a thread, lists its messages, gets a message and the grant', async () => {
    const expected = emulator.listThreads('grant-a')[7]!;
    const thread = await nylas.threads.find({ identifier: 'grant-a', threadId: expected.id });
    expect(thread.data.messageIds).toEqual(expected.message_ids);
    expect(thread.data.latestMessageReceivedDate).toBe(expected.latest_message_received_date);
    expect(thread.data.latestDraftOrMessage.id).toBe(expected.message_ids.at(-1));

    const messages = await nylas.messages.list({ identifier: 'grant-a', queryParams: { threadId: expected.id } });
    expect(messages.data.map((m) => m.id)).toEqual([...expected.message_ids].reverse());

    const message = await nylas.messages.find({ identifier: 'grant-a', messageId: expected.message_ids[0]! });
    expect(message.data).toMatchObject({ threadId: expected.id, grantId: 'grant-a', object: 'message' });
    expect(message.data.body).toMatch(/^<div/);

    const grant = await nylas.grants.find({ grantId: 'grant-a' });
    expect(grant.data).toMatchObject({ id: 'grant-a', grantStatus: 'valid', email: 'grant-a@example.com', provider: 'google' });
  });

  it('raises NylasApiError with type and request id for error envelopes', async () => {
    const wrongKey = new NylasClient({ apiKey: 'wrong', apiUri: emulator.url });
    await expect(wrongKey.threads.list({ identifier: 'grant-a' })).rejects.toMatchObject({ statusCode: 401, type: 'unauthorized' });
    const missing = nylas.threads.find({ identifier: 'grant-a', threadId: 'nope' });
    await expect(missing).rejects.toMatchObject({ statusCode: 404, type: 'not_found_error', requestId: expect.any(String) });
  });
});

describe('the wire format', () => {
  const emulator = new NylasEmulator({ threadsPerGrant: 120, now: NOW });
  let base: string;
  let threads: WireThread[];
  beforeAll(async () => {
    base = `${await emulator.start()}/v3/grants/g1`;
    threads = emulator.listThreads('g1');
  });
  afterAll(() => emulator.stop());

  it('answers lists with a snake_case envelope, a flat data array and next_cursor', async () => {
    const res = await get(`${base}/threads`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(res.body.request_id);
    expect(Object.keys(res.body).sort()).toEqual(['data', 'next_cursor', 'request_id']);
    expect(res.body.data).toHaveLength(20);
    expect(typeof res.body.next_cursor).toBe('string');
    expect(Object.keys(res.body.data[0]).sort()).toEqual([
      'draft_ids', 'earliest_message_date', 'folders', 'grant_id', 'has_attachments', 'has_drafts', 'id',
      'latest_draft_or_message', 'latest_message_received_date', 'message_ids', 'object', 'participants',
      'snippet', 'starred', 'subject', 'unread',
      ...(res.body.data[0].latest_message_sent_date === undefined ? [] : ['latest_message_sent_date']),
    ].sort());
    const last = await get(`${base}/threads?limit=50&latest_message_before=${threads[100]!.latest_message_received_date}`);
    expect(last.body.data).toHaveLength(19);
    expect(last.body).not.toHaveProperty('next_cursor');
  });

  it('keeps its place when the page size changes mid-list (the SDK shrinks limit)', async () => {
    const first = await get(`${base}/threads?limit=7`);
    const rest = await get(`${base}/threads?limit=3&page_token=${first.body.next_cursor}`);
    const ids = [...first.body.data, ...rest.body.data].map((t: WireThread) => t.id);
    expect(ids).toEqual(threads.slice(0, 10).map((t) => t.id));
  });

  it('filters threads on latest_message_after / latest_message_before as [after, before)', async () => {
    const after = threads[30]!.latest_message_received_date!;
    const before = threads[10]!.latest_message_received_date!;
    const found = await collect<WireThread>(`${base}/threads?limit=6&latest_message_after=${after}&latest_message_before=${before}`);
    expect(found.map((t) => t.id)).toEqual(threads.slice(11, 31).map((t) => t.id));
  });

  it('lists every message newest first and filters on received_after / received_before', async () => {
    const all = await collect<WireMessage>(`${base}/messages?limit=200`);
    expect(all).toHaveLength(360);
    expect(new Set(all.map((m) => m.id)).size).toBe(360);
    expect(all.every((m, k) => k === 0 || all[k - 1]!.date >= m.date)).toBe(true);
    const after = all[250]!.date;
    const before = all[40]!.date;
    const window = await collect<WireMessage>(`${base}/messages?limit=17&received_after=${after}&received_before=${before}`);
    expect(window.map((m) => m.id)).toEqual(all.filter((m) => m.date >= after && m.date < before).map((m) => m.id));
  });

  it('rejects a limit above the maximum and a forged page_token with 400', async () => {
    const threadsRes = await get(`${base}/threads?limit=51`);
    expect(threadsRes.status).toBe(400);
    expect(threadsRes.body.error).toEqual({ type: 'invalid_request_error', message: 'limit must be lower than or equal to 50' });
    expect((await get(`${base}/messages?limit=201`)).body.error.message).toBe('limit must be lower than or equal to 200');
    expect((await get(`${base}/threads?page_token=garbage`)).status).toBe(400);
  });

  it('answers unknown routes and missing objects with a 404 envelope and x-request-id', async () => {
    for (const url of [`${base}/calendars`, `${base}/threads/missing`, `${base}/messages/missing`]) {
      const res = await get(url);
      expect(res.status).toBe(404);
      expect(res.body.error.type).toBe('not_found_error');
      expect(res.headers.get('x-request-id')).toBe(res.body.request_id);
    }
  });

  it('accepts URL-encoded grant ids and the grant email in place of its id', async () => {
    const byEmail = await get(`${emulator.url}/v3/grants/g1%40example.com/threads?limit=1`);
    expect(byEmail.body.data[0].id).toBe(threads[0]!.id);
    const own = await get(`${emulator.url}/v3/grants/${encodeURIComponent('ana@corp.example')}`);
    expect(own.body.data).toMatchObject({ id: 'ana@corp.example', email: 'ana@corp.example', grant_status: 'valid' });
  });

  it('adds threading headers only with fields=include_headers', async () => {
    const thread = threads[3]!;
    const plain = await get(`${base}/messages/${thread.message_ids[1]}`);
    expect(plain.body.data).not.toHaveProperty('headers');
    const full = await get(`${base}/messages/${thread.message_ids[1]}?fields=include_headers`);
    const headers = new Map(full.body.data.headers.map((h: { name: string; value: string }) => [h.name, h.value]));
    expect(headers.get('Message-ID')).toContain(thread.message_ids[1]);
    expect(headers.get('In-Reply-To')).toContain(thread.message_ids[0]);
    expect(headers.get('References')).toContain(thread.message_ids[0]);
  });

  it('derives every thread field from its messages', () => {
    for (const thread of threads) {
      const messages = emulator.listMessages('g1', thread.id);
      expect(messages).toHaveLength(3);
      expect(messages.map((m) => m.id).reverse()).toEqual(thread.message_ids);
      expect(thread.unread).toBe(messages.some((m) => m.unread));
      expect(thread.has_attachments).toBe(messages.some((m) => m.attachments.length > 0));
      expect(thread.earliest_message_date).toBe(messages.at(-1)!.date);
      expect(thread.latest_message_received_date).toBe(messages[0]!.date);
      expect(Array.from(thread.snippet).length).toBeLessThanOrEqual(100);
      expect(thread.snippet).not.toMatch(/<\/?(div|p|br)\b/);
    }
    const text = JSON.stringify(threads);
    expect(text).toMatch(/[\u4e00-\u9fff]/);
    expect(text).toMatch(/\p{Extended_Pictographic}/u);
    expect(threads.some((t) => t.latest_draft_or_message.attachments.some((a) => a.is_inline === false))).toBe(true);
    expect(threads.some((t) => !t.folders.includes('INBOX'))).toBe(true);
  });
});

describe('the generated mailbox', () => {
  it('is identical for the same seed and grant, and differs across grants and seeds', () => {
    const a = new NylasEmulator({ seed: 7, now: NOW });
    const b = new NylasEmulator({ seed: 7, now: NOW });
    const snapshot = (e: NylasEmulator, grant: string) =>
      JSON.stringify(e.listThreads(grant).map((t) => [t, e.listMessages(grant, t.id)]));
    expect(snapshot(a, 'g1')).toBe(snapshot(b, 'g1'));
    const other = new Set(a.listThreads('g2').map((t) => t.id));
    expect(a.listThreads('g1').some((t) => other.has(t.id))).toBe(false);
    expect(snapshot(a, 'g2')).not.toBe(snapshot(a, 'g1').replaceAll('g1', 'g2'));
    expect(snapshot(new NylasEmulator({ seed: 8, now: NOW }), 'g1')).not.toBe(snapshot(a, 'g1'));
  });

  it('serves a 5,000-thread x 4-message mailbox without building it up front', async () => {
    const started = performance.now();
    const emulator = new NylasEmulator({ threadsPerGrant: 5_000, messagesPerThread: 4, now: NOW });
    const base = `${await emulator.start()}/v3/grants/big`;
    try {
      const oldest = await get(`${base}/threads?limit=1&latest_message_before=${NOW / 1000 - 547 * 86_400}`);
      expect(oldest.body.data[0].message_ids).toHaveLength(4);
      expect((await get(`${base}/threads/${oldest.body.data[0].id}`)).status).toBe(200);
      expect(performance.now() - started).toBeLessThan(1_000);
      const ids = await collect<WireThread>(`${base}/threads?limit=50&select=id`);
      expect(new Set(ids.map((t) => t.id)).size).toBe(5_000);
    } finally {
      await emulator.stop();
    }
  });
});

describe('faults', () => {
  const emulator = new NylasEmulator({ threadsPerGrant: 10, now: NOW });
  let url: string;
  beforeAll(async () => {
    url = await emulator.start();
  });
  afterAll(() => emulator.stop());

  it('answers 429 with Retry-After once a grant exceeds its rate, leaving other grants alone', async () => {
    emulator.setRateLimit(1);
    try {
      expect((await get(`${url}/v3/grants/busy/threads`)).status).toBe(200);
      const limited = await get(`${url}/v3/grants/busy/threads`);
      expect(limited.status).toBe(429);
      expect(limited.body.error.type).toBe('rate_limit_error');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number.isInteger(Number(limited.headers.get('retry-after')))).toBe(true);
      expect((await get(`${url}/v3/grants/calm/threads`)).status).toBe(200);
      expect(emulator.stats().rateLimited).toBe(1);
      expect(emulator.stats().byGrant).toMatchObject({ busy: 2, calm: 1 });
    } finally {
      emulator.setRateLimit(undefined);
    }
  });

  it('answers the next injected failures, only on matching paths', async () => {
    emulator.injectFailures({ status: 503, count: 2, pathIncludes: '/messages' });
    expect((await get(`${url}/v3/grants/g/threads`)).status).toBe(200);
    const failed = await get(`${url}/v3/grants/g/messages`);
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ request_id: expect.any(String), error: { type: expect.any(String) } });
    expect((await get(`${url}/v3/grants/g/messages`)).status).toBe(503);
    expect((await get(`${url}/v3/grants/g/messages`)).status).toBe(200);

    emulator.injectFailures({ status: 429, retryAfterSeconds: 7 });
    const throttled = await get(`${url}/v3/grants/g`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');
  });

  it('cuts successful bodies in half when truncating, and fails requests at the error rate', async () => {
    emulator.setFaults({ truncateRate: 1 });
    const cut = await get(`${url}/v3/grants/g/threads`);
    expect(cut.status).toBe(200);
    expect(Number(cut.headers.get('content-length'))).toBe(Buffer.byteLength(cut.text));
    expect(cut.body).toBeUndefined();
    emulator.setFaults({ errorRate: 1 });
    const failed = await get(`${url}/v3/grants/g/threads`);
    expect([500, 503]).toContain(failed.status);
    expect(failed.body.error.type).toEqual(expect.any(String));
    emulator.setFaults({});
    expect((await get(`${url}/v3/grants/g/threads`)).body.data).toHaveLength(10);
  });

  it('resets connections at the reset rate, before the answer or part-way through its body', async () => {
    const local = new NylasEmulator({ threadsPerGrant: 10, now: NOW, faults: { resetRate: 1 } });
    const localUrl = await local.start();
    try {
      // With every request reset the seeded dice give both shapes within a few requests.
      const outcomes = new Set<string>();
      for (let i = 0; i < 40 && outcomes.size < 2; i++) {
        try {
          const res = await fetch(`${localUrl}/v3/grants/g/threads`);
          outcomes.add(`headers ${res.status}`);
          await expect(res.text()).rejects.toThrow('terminated');
        } catch (error) {
          if (!String((error as Error).message).includes('terminated')) {
            expect(error).toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNRESET' } });
            outcomes.add('no answer');
          }
        }
      }
      expect(outcomes).toEqual(new Set(['no answer', 'headers 200']));
      const stats = local.stats();
      expect(stats.byKind.resets).toBe(stats.requests);
      expect(stats.faults).toBe(stats.requests);
    } finally {
      await local.stop();
    }
  });

  it('throttles at the throttle rate with 429 and Retry-After, and counts faults by kind', async () => {
    const before = emulator.stats();
    emulator.setFaults({ throttleRate: 1 });
    const throttled = await get(`${url}/v3/grants/g/threads`);
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.type).toBe('rate_limit_error');
    expect(throttled.headers.get('retry-after')).toBe('1');
    emulator.setFaults({ truncateRate: 1 });
    await get(`${url}/v3/grants/g/threads`);
    emulator.setFaults({});
    const after = emulator.stats();
    expect(after.byKind.throttled - before.byKind.throttled).toBe(1);
    expect(after.byKind.truncated - before.byKind.truncated).toBe(1);
    expect(after.faults - before.faults).toBe(2);
    expect(after.rateLimited).toBe(before.rateLimited);
  });

  it('rejects fault rates outside [0, 1]', () => {
    expect(() => emulator.setFaults({ resetRate: 1.5 })).toThrow(/resetRate/);
    expect(() => new NylasEmulator({ faults: { throttleRate: -0.1 } })).toThrow(/throttleRate/);
  });

  it('holds requests open at the timeout rate and still stops promptly', async () => {
    const local = new NylasEmulator({ now: NOW, faults: { timeoutRate: 1, latencyMs: 50 } });
    const localUrl = await local.start();
    await expect(fetch(`${localUrl}/v3/grants/g`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const held = fetch(`${localUrl}/v3/grants/g`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await local.stop();
    await expect(held).rejects.toThrow();
  });

  it('adds latency to every response', async () => {
    emulator.setFaults({ latencyMs: 120 });
    const started = performance.now();
    await get(`${url}/v3/grants/g`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
    emulator.setFaults({});
  });
});

describe('mutations and webhooks', () => {
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  let receiver: Server;
  let emulator: NylasEmulator;
  const secret = 'whsec-test';

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/nylas`;
    emulator = new NylasEmulator({ threadsPerGrant: 20, now: NOW, webhookUrl, webhookSecret: secret, applicationId: 'app-1' });
    await emulator.start();
  });
  afterAll(async () => {
    await emulator.stop();
    await new Promise((resolve) => receiver.close(resolve));
  });

  /** The last delivery, after checking its signature the way a receiver must. */
  function lastDelivery(): WebhookEnvelope<any> {
    const last = received.at(-1)!;
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers['x-nylas-signature']).toBe(createHmac('sha256', secret).update(last.body).digest('hex'));
    return JSON.parse(last.body);
  }

  it('delivers a signed message.created and shows the reply on top of the thread list', async () => {
    const old = emulator.listThreads('w')[12]!;
    const { message, delivery } = await emulator.createMessage('w', { threadId: old.id, body: '<p>Ça marche 👍</p>' });
    expect(delivery?.status).toBe(200);
    const envelope = lastDelivery();
    expect(envelope).toMatchObject({
      specversion: '1.0', type: 'message.created', source: '/google/emails/realtime', id: delivery!.id,
      webhook_delivery_attempt: 1, data: { application_id: 'app-1', object: message },
    });
    expect(message).toMatchObject({ thread_id: old.id, unread: true, snippet: 'Ça marche 👍', subject: `Re: ${old.subject}` });

    const top = (await get(`${emulator.url}/v3/grants/w/threads?limit=1`)).body.data[0] as WireThread;
    expect(top.id).toBe(old.id);
    expect(top.message_ids).toEqual([...old.message_ids, message.id]);
    expect(top.unread).toBe(true);
    expect((await get(`${emulator.url}/v3/grants/w/messages/${message.id}`)).body.data.body).toBe('<p>Ça marche 👍</p>');
  });

  it('sends the .truncated variant without a body, and message.updated on flag changes', async () => {
    const { message } = await emulator.createMessage('w', { subject: 'Large one' }, { truncated: true });
    const created = lastDelivery();
    expect(created.type).toBe('message.created.truncated');
    expect(created.data.object).not.toHaveProperty('body');
    expect(created.data.object.id).toBe(message.id);
    expect(emulator.getThread('w', message.thread_id)?.message_ids).toEqual([message.id]);

    await emulator.updateMessage('w', message.id, { unread: false, starred: true });
    expect(lastDelivery()).toMatchObject({ type: 'message.updated', data: { object: { id: message.id, unread: false, starred: true } } });
    expect(emulator.getThread('w', message.thread_id)).toMatchObject({ unread: false, starred: true });

    const before = received.length;
    await emulator.createMessage('w', {}, { deliver: false });
    expect(received).toHaveLength(before);
  });

  it('keeps paginated lists exact and ordered after mutations', async () => {
    const threads = emulator.listThreads('mixed');
    const quiet = { deliver: false };
    await emulator.createMessage('mixed', { threadId: threads[15]!.id }, quiet);
    await emulator.createMessage('mixed', { threadId: threads[3]!.id, date: threads[9]!.earliest_message_date - 5 }, quiet);
    await emulator.createMessage('mixed', { threadId: threads[5]!.id, from: [{ email: 'mixed@example.com' }] }, quiet);
    await emulator.createMessage('mixed', { date: threads[11]!.latest_message_received_date! }, quiet);
    const base = `${emulator.url}/v3/grants/mixed`;

    const messages = await collect<WireMessage>(`${base}/messages?limit=13`);
    const byKey = (a: { date: number; id: string }, b: { date: number; id: string }) => b.date - a.date || (a.id < b.id ? -1 : 1);
    const expected = emulator.listThreads('mixed').flatMap((t) => emulator.listMessages('mixed', t.id)).sort(byKey);
    expect(messages).toHaveLength(20 * 3 + 4);
    expect(messages.map((m) => m.id)).toEqual(expected.map((m) => m.id));

    const listed = await collect<WireThread>(`${base}/threads?limit=4`);
    const threadIds = [...new Set(messages.map((m) => m.thread_id))];
    const keyed = threadIds.map((id) => emulator.getThread('mixed', id)!).map((t) => ({
      id: t.id, date: t.latest_message_received_date ?? t.latest_draft_or_message.date,
    }));
    expect(listed.map((t) => t.id)).toEqual(keyed.sort(byKey).map((t) => t.id));
    expect(listed[0]!.id).toBe(threads[15]!.id);
  });

  it('expires a grant: mail endpoints answer 401, the grant reads invalid, grant.expired is sent', async () => {
    await emulator.expireGrant('doomed');
    expect(lastDelivery()).toMatchObject({
      type: 'grant.expired', source: '/nylas/system',
      data: { object: { code: 25009, grant_id: 'doomed', email: 'doomed@example.com' } },
    });
    const denied = await get(`${emulator.url}/v3/grants/doomed/threads`);
    expect(denied.status).toBe(401);
    expect(denied.body.error.type).toBe('unauthorized');
    expect((await get(`${emulator.url}/v3/grants/doomed`)).body.data.grant_status).toBe('invalid');
    expect((await get(`${emulator.url}/v3/grants/w/threads`)).status).toBe(200);
  });

  it('builds signed envelopes for load generators and reports unreachable receivers', async () => {
    const built = emulator.buildWebhook('thread.replied', { thread_id: 't' }, { id: 'evt-1' });
    expect(built.id).toBe('evt-1');
    expect(built.signature).toBe(createHmac('sha256', secret).update(built.body).digest('hex'));
    const unreachable = await emulator.sendWebhook('message.deleted', { id: 'm' }, { url: 'http://127.0.0.1:9/' });
    expect(unreachable.status).toBe(0);
  });
});

describe('nova emulator nylas', () => {
  it('prints the base URL, serves the API and exits 0 on SIGTERM', async () => {
    const script = [
      "import { Command } from 'commander';",
      `import { registerEmulatorCommands } from ${JSON.stringify(pathToFileURL(nodeArgs('src/cli/emulator.ts')[0]!).href)};`,
      "const program = new Command('nova');",
      'registerEmulatorCommands(program);',
      "await program.parseAsync(process.argv.slice(1), { from: 'user' });",
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', 'emulator', 'nylas', '--port', '0', '--threads', '2'], {
      cwd: new URL('..', import.meta.url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let hint = '';
    child.stderr.on('data', (chunk: Buffer) => (hint += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const baseUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', () => reject(new Error(`exited before printing a URL: ${out}`)));
    });
    expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get(`${baseUrl}/v3/grants/cli/threads`)).body.data).toHaveLength(2);
    // stdout is the URL alone; stderr tells the person how to point Nova at it.
    expect(hint).toContain(`NYLAS_API_URI=${baseUrl} NYLAS_API_KEY=any-key NOVA_DEMO=false nova start`);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
