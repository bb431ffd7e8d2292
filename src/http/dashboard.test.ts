import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dashboardRoutes } from './dashboard.ts';

describe('dashboard static serving', () => {
  let dir: string;
  let app: FastifyInstance;
  const script = `console.log(${JSON.stringify('x'.repeat(4000))});`;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nova-dash-'));
    app = Fastify();
    await app.register(async (scope) => dashboardRoutes(scope, dir));
    app.get('/api/queues', async () => ({ queues: [] }));
  });
  afterEach(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const build = () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>');
    writeFileSync(join(dir, 'assets', 'app-1a2b.js'), script);
  };

  it('answers 503 until the dashboard is built, then serves it without a restart', async () => {
    expect((await app.inject({ url: '/' })).statusCode).toBe(503);
    build();
    const res = await app.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('app-1a2b.js');
  });

  it('answers client routes with index.html, revalidated, behind a CSP that forbids framing', async () => {
    build();
    const res = await app.inject({ url: '/queues/emails?state=dead' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('answers client routes whose names have dots (queue names) with index.html too', async () => {
    build();
    for (const url of ['/queues/ops.flaky', '/queues/ops.flaky/jobs/12', '/queues/a.b?state=dead']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
    }
  });

  it('caches hashed assets for a year and sends them gzipped to clients that accept it', async () => {
    build();
    const plain = await app.inject({ url: '/assets/app-1a2b.js' });
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(script);
    const gz = await app.inject({ url: '/assets/app-1a2b.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.rawPayload.length).toBeLessThan(script.length / 10);
    expect(gunzipSync(gz.rawPayload).toString()).toBe(script);
    const again = await app.inject({ url: '/assets/app-1a2b.js', headers: { 'if-none-match': String(plain.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('keeps API, WebSocket and webhook paths and missing files out of the app (JSON 404)', async () => {
    build();
    for (const url of ['/api/nope', '/ws', '/webhooks/other', '/assets/missing.js', '/favicon.ico', '/assets/../index.html.bak']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await app.inject({ url: '/api/queues' })).json()).toEqual({ queues: [] });
  });
});
