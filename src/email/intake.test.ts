import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { emailConfig } from './config.ts';
import { silentLogger } from '../log.ts';
import { startApiServer, type ApiServer } from '../runtime/api-server.ts';
import type { Services } from '../runtime/domain.ts';
import type { EmailDeps } from './deps.ts';
import { signatureMatches, webhookRoutes } from './intake.ts';

describe('signatureMatches', () => {
  const body = Buffer.from('{"id":"evt-1","type":"message.created"}');
  const sign = (secret: string, raw = body) => createHmac('sha256', secret).update(raw).digest('hex');

  it('accepts the lowercase hex HMAC-SHA256 of the raw body under the secret', () => {
    expect(signatureMatches(body, sign('s3cret'), 's3cret')).toBe(true);
    expect(signatureMatches(body, sign('s3cret').toUpperCase(), 's3cret')).toBe(true);
  });

  it('refuses another secret, another body, a missing, truncated or repeated header', () => {
    expect(signatureMatches(body, sign('other'), 's3cret')).toBe(false);
    expect(signatureMatches(Buffer.from(`${body} `), sign('s3cret'), 's3cret')).toBe(false);
    expect(signatureMatches(body, undefined, 's3cret')).toBe(false);
    expect(signatureMatches(body, sign('s3cret').slice(0, 32), 's3cret')).toBe(false);
    expect(signatureMatches(body, [sign('s3cret'), sign('s3cret')], 's3cret')).toBe(false);
  });
});

describe('webhook intake during a database outage', () => {
  const SECRET = 'whsec-outage';
  let server: ApiServer;
  let behaviour: 'hang' | 'refuse' = 'hang';
  let statements = 0;

  beforeAll(async () => {
    const config = loadConfig({ NYLAS_WEBHOOK_SECRET: SECRET, WEBHOOK_INTAKE_TIMEOUT_MS: '300' }, [emailConfig]);
    // A database that never answers, or refuses connections as postgres.js reports it.
    const query = () => {
      statements++;
      if (behaviour === 'hang') return new Promise<never>(() => {});
      // After a moment, as a connection attempt takes: deliveries arriving meanwhile share a batch.
      return new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })), 50));
    };
    const services = {
      config, log: silentLogger, sql: { kind: 'postgres', query, exec: query },
      queue: { enqueueFromSql: () => 'enqueued as (select 1 as id)', announce: () => {} },
    } as unknown as Services;
    const deps = { config } as unknown as EmailDeps;
    server = await startApiServer({ domains: [{ domain: { name: 'email', roles: [], routes: (app) => webhookRoutes(app, services, deps) }, deps }], services, port: 0, host: '127.0.0.1', log: silentLogger });
  });
  afterAll(async () => server?.close());

  const deliver = async () => {
    const body = JSON.stringify({ id: `evt-${Math.random()}`, type: 'message.created', data: { object: {} } });
    const started = Date.now();
    const res = await fetch(`http://127.0.0.1:${server.port}/webhooks/nylas`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-nylas-signature': createHmac('sha256', SECRET).update(body).digest('hex') }, body,
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started, body: (await res.json()) as any };
  };

  it('answers 503 with Retry-After within the intake timeout when the database hangs, then refuses at once for a moment', async () => {
    behaviour = 'hang';
    const first = await deliver();
    expect(first).toMatchObject({ status: 503, retryAfter: '1', body: { error: { code: 'unavailable' } } });
    expect(first.ms).toBeLessThan(2000);
    const before = statements;
    const next = await deliver();
    expect(next.status).toBe(503);
    expect(next.ms).toBeLessThan(200);
    expect(statements).toBe(before);
  });

  it('answers 503 at once when the database refuses connections, without retrying a batch row by row', async () => {
    behaviour = 'refuse';
    await new Promise((r) => setTimeout(r, 1100));
    const before = statements;
    const answers = await Promise.all(Array.from({ length: 20 }, () => deliver()));
    for (const res of answers) {
      expect(res).toMatchObject({ status: 503, retryAfter: '1' });
      expect(res.ms).toBeLessThan(500);
    }
    // Deliveries that shared a batch are not retried one statement each: the database is not there.
    expect(statements - before).toBeLessThanOrEqual(5);
  });
});
