import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.ts';
import { domains } from '../src/domains.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime } from './helpers/runtime.ts';

const TOKEN = 'defaults-token-0123456789';

/** Sends raw bytes and resolves with everything the server answered once it closes the socket. */
function rawExchange(port: number, chunks: string[], gapMs = 0): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => resolve({ text, ms: Date.now() - started }));
    socket.on('error', () => {});
    let i = 0;
    const next = () => {
      if (socket.destroyed || i >= chunks.length) return;
      socket.write(chunks[i++]!);
      setTimeout(next, gapMs);
    };
    socket.on('connect', next);
  });
}

const errorOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));

describe.each(backends)('safe HTTP defaults on $name', (backend) => {
  let db: TestDb;
  let open: Runtime;
  let locked: Runtime;
  let base: string;
  let lockedBase: string;
  let port: number;

  beforeAll(async () => {
    db = await backend.create();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    open = await startRuntime(db, domains, { WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1', NOVA_HTTP_REQUEST_TIMEOUT_MS: '1000', NOVA_ALLOWED_ORIGINS: 'http://dev.example:5173' });
    const lockedPort = await freePort();
    lockedBase = `http://127.0.0.1:${lockedPort}`;
    locked = await startRuntime(db, domains, { WORKER_TYPE: 'api', PORT: String(lockedPort), API_HOST: '127.0.0.1', NOVA_API_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await open?.stop();
    await locked?.stop();
    await db?.drop();
  });

  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string, at = base) => {
    const res = await fetch(`${at}${path}`, { method, headers, ...(body !== undefined && { body }) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  describe('without a token', () => {
    it('refuses a mutating request from a page of another origin', async () => {
      const evil = await call('POST', '/api/queues/thread_sync_jobs/redrive', { origin: 'https://evil.example' });
      expect(evil).toEqual({ status: 403, body: { error: { code: 'cross_origin', message: expect.stringMatching(/evil\.example/) } } });
      const site = await call('POST', '/api/inboxes', { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, '{"grantId":"g-x"}');
      expect(site.status).toBe(403);
      const form = await call('DELETE', '/api/jobs/1', { origin: 'null' });
      expect(form.status).toBe(403);
    });

    it('refuses a same-origin body that is not JSON (a form post)', async () => {
      const res = await call('POST', '/api/inboxes', { origin: base, 'content-type': 'application/x-www-form-urlencoded' }, 'grantId=g-1');
      expect(res).toEqual({ status: 415, body: { error: { code: 'unsupported_media_type', message: expect.any(String) } } });
      const text = await call('POST', '/api/inboxes', { 'content-type': 'text/plain' }, '{"grantId":"g-1"}');
      expect(text.status).toBe(415);
    });

    it('serves same-origin JSON, allowed origins, and clients that are no browser', async () => {
      const same = await call('POST', '/api/inboxes', { origin: base, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, '{"grantId":"g-same"}');
      expect(same.status).toBe(201);
      const dev = await call('POST', '/api/inboxes', { origin: 'http://dev.example:5173', 'content-type': 'application/json' }, '{"grantId":"g-dev"}');
      expect(dev.status).toBe(201);
      const cli = await call('POST', '/api/queues/no-such-queue/redrive');
      expect(cli).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'no queue no-such-queue' } } });
      expect((await call('GET', '/api/queues', { origin: 'https://evil.example' })).status).toBe(200);
    });

    it('refuses a WebSocket handshake from another origin and accepts its own', async () => {
      const refused = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { origin: 'https://evil.example' });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      });
      expect(refused).toBe(403);
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { origin: base });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      ws.close();
    });

    it('answers 400 for a grant id or queue name with a NUL, not 500', async () => {
      const grant = await call('POST', '/api/inboxes', { 'content-type': 'application/json' }, JSON.stringify({ grantId: 'g\u0000x' }));
      expect(grant.status).toBe(400);
      expect(grant.body.error.code).toBe('invalid_request');
      const queue = await call('GET', '/api/queues/a%00b');
      expect(queue.status).toBe(400);
      expect(queue.body.error.code).toBe('invalid_request');
    });
  });

  describe('with a token', () => {
    it('takes it as a bearer header on REST, never from ?token=', async () => {
      expect((await call('GET', '/api/queues', { authorization: `Bearer ${TOKEN}` }, undefined, lockedBase)).status).toBe(200);
      const query = await call('GET', `/api/queues?token=${TOKEN}`, {}, undefined, lockedBase);
      expect(query).toEqual({ status: 401, body: { error: { code: 'unauthorized', message: expect.any(String) } } });
    });
  });

  describe('one error shape and bounded requests', () => {
    it('answers framework errors in the one shape', async () => {
      const json = await call('POST', '/api/inboxes', { 'content-type': 'application/json' }, '{"grantId": ');
      expect(json).toEqual({ status: 400, body: { error: { code: 'malformed_json', message: expect.any(String) } } });
      const big = await call('POST', '/api/inboxes', { 'content-type': 'application/json' }, JSON.stringify({ grantId: 'x'.repeat(2 * 1024 * 1024) }));
      expect(big).toEqual({ status: 413, body: { error: { code: 'body_too_large', message: expect.any(String) } } });
      const empty = await call('POST', '/api/inboxes', { 'content-type': 'application/json' }, '');
      expect(empty.body.error.code).toMatch(/^(empty_body|bad_request)$/);
      const url = await call('GET', '/api/queues/%E0%A4%A');
      expect(url).toEqual({ status: 400, body: { error: { code: 'bad_url', message: expect.any(String) } } });
      const missing = await call('GET', '/api/nowhere');
      expect(missing).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'no route for GET /api/nowhere' } } });
      const garbage = await rawExchange(port, ['NOT HTTP AT ALL\r\n\r\n']);
      expect(garbage.text).toMatch(/^HTTP\/1\.1 400/);
      expect(errorOf(garbage.text)).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
    });

    it('cuts off a request whose body trickles in past NOVA_HTTP_REQUEST_TIMEOUT_MS with a 408', async () => {
      const head = `POST /api/inboxes HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n`;
      const res = await rawExchange(port, [head, ...Array.from({ length: 40 }, () => ' ')], 250);
      expect(res.ms).toBeLessThan(4000);
      expect(res.text).toMatch(/^HTTP\/1\.1 408/);
      expect(errorOf(res.text)).toEqual({ error: { code: 'request_timeout', message: expect.any(String) } });
    });
  });
});

describe('health server defaults', () => {
  it('listens on loopback unless NOVA_HEALTH_HOST says otherwise', () => {
    expect(loadConfig({}).NOVA_HEALTH_HOST).toBe('127.0.0.1');
    expect(loadConfig({ NOVA_HEALTH_HOST: '0.0.0.0' }).NOVA_HEALTH_HOST).toBe('0.0.0.0');
  });
});
