import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { signWebhook } from '../src/emulators/nylas/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime } from './helpers/runtime.ts';

const SECRET = 'whsec-intake';

/** Deliveries that each got a 500 and no audit row before intake validated them (issue 11, item 1). */
const poison = (id: string) => [
  { name: 'a 40,000-character envelope id', envelope: envelope({ id: 'x'.repeat(40_000) }), status: 400 },
  { name: 'time 1e20', envelope: envelope({ id, time: 1e20 }), status: 400 },
  { name: 'webhook_delivery_attempt 1e10', envelope: envelope({ id, webhook_delivery_attempt: 1e10 }), status: 400 },
  { name: 'data.object nested 5,000 deep', envelope: envelope({ id, data: { application_id: 'app', object: NESTED } }), status: 400 },
  { name: 'a grant id of 10,000 characters', envelope: envelope({ id, data: { object: { grant_id: 'g'.repeat(10_000) } } }), status: 400 },
];

function envelope(over: Record<string, unknown> = {}) {
  return {
    specversion: '1.0', type: 'message.created', source: '/google/emails/realtime', id: randomUUID(),
    time: Math.floor(Date.now() / 1000), webhook_delivery_attempt: 1,
    data: { application_id: 'app-1', object: { id: `m-${randomUUID()}`, grant_id: 'grant-intake', thread_id: 't-1', date: 1, subject: 'hello' } },
    ...over,
  };
}

const NESTED = '__nested__';
/** The JSON text of a delivery; NESTED stands for an object 5,000 levels deep (too deep for JSON.stringify's stack here). */
const text = (e: Record<string, unknown>) => JSON.stringify(e).replace(`"${NESTED}"`, `${'{"child":'.repeat(5000)}1${'}'.repeat(5000)}`);

describe.each(backends)('webhook intake on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let hook: string;
  let port: number;

  beforeAll(async () => {
    db = await backend.create();
    port = await freePort();
    hook = `http://127.0.0.1:${port}/webhooks/nylas`;
    // Only the API: deliveries stay in the audit log as recorded, nothing processes them.
    runtime = await startRuntime(db, domains, { WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1', NYLAS_WEBHOOK_SECRET: SECRET, NOVA_DEMO: 'false' });
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const post = async (body: string, signature = signWebhook(body, SECRET)) => {
    const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-nylas-signature': signature }, body });
    return { status: res.status, body: (await res.json()) as any };
  };
  const audited = async (where: string, value: string) =>
    db.sql.query<any>(`select * from flux_webhook_notifications where ${where} = $1`, [value]);

  for (const { name, status } of poison('placeholder')) {
    it(`answers ${status} with an audit row for ${name}`, async () => {
      const id = randomUUID();
      const bad = poison(id).find((p) => p.name === name)!;
      const body = text(bad.envelope);
      const res = await post(body);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe('invalid_notification');
      const rows = await db.sql.query<any>(`select * from flux_webhook_notifications where status = 'error' and raw_body like $1`, [`${body.slice(0, 200)}%`]);
      expect(rows).toHaveLength(1);
      expect(rows[0].error_message).toMatch(/not a Nylas notification/);
      if (name !== 'a 40,000-character envelope id') expect(rows[0].notification_id).toBe(id);
    });
  }

  it('strips NUL characters and unpaired surrogates, records that it did, and accepts the delivery', async () => {
    const e = envelope({ data: { application_id: 'app', object: { id: 'm-nul', grant_id: 'grant-intake', thread_id: 't', date: 1, subject: 'a\u0000b\ud800c', 'k\u0000ey': ['\u0000'] } } });
    const res = await post(JSON.stringify(e));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('accepted');
    const [row] = await audited('notification_id', e.id);
    expect(row.payload.data.object.subject).toBe('ab\ufffdc');
    expect(row.payload.data.object.key).toEqual(['']);
    expect(row.payload.nova_intake_notes).toEqual(['3 NUL character(s) removed from strings', '1 unpaired UTF-16 surrogate(s) replaced with U+FFFD']);
  });

  it('records a raw NUL byte of malformed JSON without failing', async () => {
    const body = '{"id": "\u0000 broken';
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('malformed_json');
    const rows = await db.sql.query<any>(`select raw_body from flux_webhook_notifications where raw_body like '{"id": "%broken'`);
    expect(rows).toEqual([{ raw_body: '{"id": " broken' }]);
  });

  it('never fails a good delivery that shares a batch with a bad one', async () => {
    for (let round = 0; round < 3; round++) {
      const good = Array.from({ length: 200 }, () => envelope());
      const bad = poison(randomUUID()).map((p) => p.envelope);
      const results = await Promise.all([...good, ...bad].map((e) => post(text(e))));
      expect(results.slice(0, good.length).map((r) => r.status)).toEqual(good.map(() => 200));
      expect(results.slice(good.length).map((r) => r.status)).toEqual(bad.map(() => 400));
      const stored = await db.sql.query<{ n: number }>('select count(*)::int as n from flux_webhook_notifications where notification_id = any($1)', [good.map((e) => e.id)]);
      expect(stored[0]!.n).toBe(200);
    }
  });

  it('refuses an unsigned upload before reading it, and closes the connection', async () => {
    const before = await db.sql.query<{ n: number }>('select count(*)::int as n from flux_webhook_notifications');
    const res = await rawPost(port, { 'content-type': 'application/json', 'content-length': String(8 * 1024 * 1024) }, Buffer.alloc(64 * 1024, 'a'));
    expect(res.status).toBe(401);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body).error.code).toBe('invalid_signature');
    const after = await db.sql.query<{ n: number }>('select count(*)::int as n from flux_webhook_notifications');
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('refuses a signed body over the limit with 413, whether declared or streamed', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    const declared = await rawPost(port, { 'content-type': 'application/json', 'content-length': String(big.length), 'x-nylas-signature': signWebhook(big, SECRET) }, big.subarray(0, 1024));
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error.code).toBe('body_too_large');
    const streamed = await rawPost(port, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-nylas-signature': signWebhook(big, SECRET) }, big);
    expect(streamed.status).toBe(413);
    expect(streamed.headers.connection).toBe('close');
  });

  it('refuses a forged signature on a body within the limit with 401', async () => {
    const body = JSON.stringify(envelope());
    const res = await post(body, signWebhook(body, 'not-the-secret'));
    expect(res.status).toBe(401);
    const noBody = await fetch(hook, { method: 'POST', headers: { 'x-nylas-signature': signWebhook('', SECRET) } });
    expect(noBody.status).toBe(401);
  });
});

/** A POST written by hand, so a test controls the headers and can send less than it declares. */
function rawPost(port: number, headers: Record<string, string>, body: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/webhooks/nylas', method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    // The server may refuse and close before the body is sent: that is the point.
    req.on('error', () => {});
    req.write(body);
    if (!headers['content-length']) req.end();
  });
}
