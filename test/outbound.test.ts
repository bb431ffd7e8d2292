import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadNovaConfig as loadConfig } from '../src/domains.ts';
import { LlmEmulator } from '../src/emulators/llm/index.ts';
import { createExtractor, EXTRACTION_SCHEMA_VERSION, extractFromPrompt, extractMessage, findMessage } from '../src/extraction/index.ts';
import { Defer, PermanentFailure, RetryLater } from '../src/queue/errors.ts';
import { fetchAnswer, Outbound, parseAnswer, ProviderError, toJobControl, type OutboundOptions } from '../src/runtime/outbound.ts';
import { RateLimiter, type RateLimit } from '../src/runtime/rate-limit.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { insertMessage } from './helpers/extraction.ts';

/** What the scripted server does with one request. */
type Act =
  | { status: number; headers?: Record<string, string>; body?: string }
  | 'reset' // the connection is destroyed before any answer
  | 'cut' // a 200 whose body stops half-way (the socket closes)
  | 'truncated' // a 200 whose complete body is JSON cut short
  | 'hang'; // never answers

/** No kept-alive sockets: a test must not start on a socket the previous one left to die. */
const CLOSE = { connection: 'close' };
const OK_BODY = JSON.stringify({ data: { id: 'x1', name: 'ok' } });
const ok = (): Act => ({ status: 200, body: OK_BODY });

/** A local HTTP server that plays a script, one act per request (then 200s), noting arrival times. */
class ScriptedServer {
  readonly arrivals: number[] = [];
  private script: Act[] = [];
  private server: Server | undefined;
  url = '';

  play(...acts: Act[]): void {
    this.script = acts;
    this.arrivals.length = 0;
  }

  async start(forward?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<void>): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.arrivals.push(Date.now());
        const act = this.script.shift();
        if (act === undefined && forward) return void forward(req, res, Buffer.concat(chunks));
        this.act(act ?? ok(), req, res);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private act(act: Act, req: IncomingMessage, res: ServerResponse): void {
    if (act === 'hang') return;
    if (act === 'reset') return void req.socket.destroy();
    if (act === 'cut') {
      res.writeHead(200, { ...CLOSE, 'content-type': 'application/json', 'content-length': String(OK_BODY.length) });
      res.write(OK_BODY.slice(0, 10));
      setTimeout(() => req.socket.destroy(), 10);
      return;
    }
    if (act === 'truncated') {
      res.writeHead(200, { ...CLOSE, 'content-type': 'application/json', 'x-request-id': 'req-truncated' });
      return void res.end(OK_BODY.slice(0, OK_BODY.length - 7));
    }
    res.writeHead(act.status, { ...CLOSE, 'content-type': 'application/json', 'x-request-id': `req-${this.arrivals.length}`, ...act.headers });
    res.end(act.body ?? JSON.stringify({ error: { type: `status_${act.status}`, message: 'scripted' } }));
  }

  /** Drops hung requests between tests. */
  reset(): void {
    this.server?.closeAllConnections();
    this.script = [];
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const answer = z.object({ data: z.object({ id: z.string(), name: z.string() }) });
const LIMIT: RateLimit = { capacity: 100, perSecond: 100 };

describe.each(backends)('the outbound layer against a local HTTP server on $name', (backend) => {
  let db: TestDb;
  let server: ScriptedServer;
  let key = 0;

  beforeAll(async () => {
    db = await backend.create();
    server = new ScriptedServer();
    await server.start();
  });
  afterEach(() => server.reset());
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  const outbound = (options: Partial<OutboundOptions> = {}) =>
    new Outbound({ provider: 'test', rateLimiter: new RateLimiter(db.sql), timeoutMs: 2000, maxRetries: 3, backoff: { baseDelayMs: 20, maxDelayMs: 50 }, ...options });
  /** One GET of the scripted server: the body is parsed inside the try, as the clients do. */
  const get = (client: Outbound, options: { signal?: AbortSignal; bucket?: string } = {}) =>
    client.call(async (signal) => parseAnswer('test', answer, await fetchAnswer({ provider: 'test' }, `${server.url}/thing`, { signal }), '/thing').data, {
      signal: options.signal,
      budgets: [{ key: options.bucket ?? `test:${++key}`, limit: LIMIT }],
    });
  const failure = async (promise: Promise<unknown>) => {
    const err = await promise.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  };

  it('retries a truncated JSON body, a connection reset and a body cut off mid-way, then succeeds', async () => {
    server.play('truncated', 'reset', 'cut', ok());
    expect(await get(outbound())).toEqual({ id: 'x1', name: 'ok' });
    expect(server.arrivals).toHaveLength(4);
  });

  it('reports the last transient fault, retryable, once the retries run out', async () => {
    server.play('truncated', 'truncated');
    const err = await failure(get(outbound({ maxRetries: 1 })));
    expect(err).toMatchObject({ status: 200, code: 'invalid_response', retryable: true, requestId: 'req-truncated' });
    expect(server.arrivals).toHaveLength(2);
    // No Retry-After: the job retries on the queue's own backoff, an attempt spent.
    expect(toJobControl(err)).toBe(err);
    server.play({ status: 502, headers: { 'retry-after': '3' } });
    expect(toJobControl(await failure(get(outbound({ maxRetries: 0 }))))).toBeInstanceOf(RetryLater);
  });

  it('does not retry a 400, which fails the job for good', async () => {
    server.play({ status: 400, body: JSON.stringify({ error: { message: 'bad cursor' } }) });
    const err = await failure(get(outbound()));
    expect(err).toMatchObject({ provider: 'test', status: 400, retryable: false, requestId: 'req-1' });
    expect(server.arrivals).toHaveLength(1);
    expect(toJobControl(err)).toBeInstanceOf(PermanentFailure);
  });

  it('honours retry-after-ms on a 503', async () => {
    server.play({ status: 503, headers: { 'retry-after-ms': '400' } }, ok());
    await get(outbound({ backoff: { baseDelayMs: 1, maxDelayMs: 1 } }));
    expect(server.arrivals[1]! - server.arrivals[0]!).toBeGreaterThanOrEqual(380);
  });

  it('waits out a 429\'s Retry-After, and so does every other client on the database', async () => {
    const bucket = `test:shared:${++key}`;
    const other = new RateLimiter(await db.connect());
    server.play({ status: 429, headers: { 'retry-after': '1' } }, ok(), ok());
    const first = get(outbound(), { bucket });
    // The block is visible through another client's limiter before the second client starts.
    const probe = new RateLimiter(await db.connect());
    let blocked = false;
    for (let i = 0; i < 40 && !blocked; i++) {
      blocked = (await probe.tryTake(bucket, LIMIT)) > 0;
      if (!blocked) await new Promise((r) => setTimeout(r, 10));
    }
    expect(blocked).toBe(true);
    const second = get(new Outbound({ provider: 'test', rateLimiter: other, timeoutMs: 2000, maxRetries: 0 }), { bucket });
    await Promise.all([first, second]);
    expect(server.arrivals).toHaveLength(3);
    const blockedAt = server.arrivals[0]!;
    expect(Math.min(server.arrivals[1]!, server.arrivals[2]!) - blockedAt).toBeGreaterThanOrEqual(900);
  });

  it('hands back a call whose pause is longer than it may wait: Defer, with the bucket blocked for everyone', async () => {
    const bucket = `test:long:${++key}`;
    server.play({ status: 429, headers: { 'retry-after': '120' } });
    const started = Date.now();
    const err = await failure(get(outbound({ maxWaitMs: 5000 }), { bucket }));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 120_000 });
    expect(toJobControl(err)).toMatchObject({ name: 'Defer', delayMs: 120_000 });
    expect(await new RateLimiter(await db.connect()).tryTake(bucket, LIMIT)).toBeGreaterThan(100_000);

    // A call that finds the bucket spent gives up after maxWaitMs without asking the provider.
    server.play();
    const spent = await failure(get(outbound({ maxWaitMs: 200 }), { bucket }));
    expect(spent).toMatchObject({ code: 'rate_limited', retryable: true });
    expect(toJobControl(spent)).toBeInstanceOf(Defer);
    expect(server.arrivals).toHaveLength(0);
  });

  it('times out a try that gets no answer, retries it, then reports the timeout', async () => {
    server.play('hang', 'hang');
    let tries = 0;
    const started = Date.now();
    const err = await failure(outbound({ timeoutMs: 200, maxRetries: 1 }).call(async (signal) => {
      tries++;
      return fetchAnswer({ provider: 'test' }, `${server.url}/thing`, { signal });
    }));
    expect(err).toMatchObject({ status: 0, code: 'timeout', retryable: true });
    expect(tries).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('stops at once when the caller aborts, during a request or a wait between tries', async () => {
    server.play('hang');
    const during = new AbortController();
    const hanging = get(outbound({ timeoutMs: 5000 }), { signal: during.signal });
    // Aborted once the request is at the server (a fixed 100 ms could pass before it got there
    // on a loaded machine: the budget draw comes first).
    while (server.arrivals.length === 0) await new Promise((r) => setTimeout(r, 10));
    let started = Date.now();
    during.abort(new Error('job cancelled'));
    await expect(hanging).rejects.toThrow('job cancelled');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(server.arrivals).toHaveLength(1);

    server.play({ status: 503, headers: { 'retry-after': '10' } });
    const waiting = new AbortController();
    started = Date.now();
    const call = get(outbound(), { signal: waiting.signal });
    while (server.arrivals.length === 0) await new Promise((r) => setTimeout(r, 10));
    waiting.abort(new Error('shutting down'));
    await expect(call).rejects.toThrow('shutting down');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(server.arrivals).toHaveLength(1);
  });

  it('lets an error that is not the service\'s escape untouched and unretried', async () => {
    let tries = 0;
    const bug = new TypeError('x is undefined');
    await expect(outbound().call(async () => {
      tries++;
      throw bug;
    })).rejects.toBe(bug);
    expect(tries).toBe(1);
  });
});

describe('the LLM providers on the outbound layer', () => {
  const KEY = 'sk-outbound';
  let db: TestDb;
  let llm: LlmEmulator;
  let proxy: ScriptedServer;

  beforeAll(async () => {
    db = await backends[0]!.create();
    llm = new LlmEmulator({ apiKey: KEY, respond: (r) => extractFromPrompt(r.messages.find((m) => m.role === 'user')?.content ?? '') ?? {} });
    await llm.start();
    // Faults first, then every request goes through to the emulator.
    proxy = new ScriptedServer();
    await proxy.start(async (req, res, body) => {
      const upstream = await fetch(`${new URL(llm.url).origin}${req.url}`, {
        method: req.method, body: new Uint8Array(body), headers: Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length') as [string, string][],
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await llm?.stop();
    await db?.drop();
  });

  it.each([
    ['openai', (url: string) => ({ LLM_PROVIDER: 'openai', OPENAI_BASE_URL: `${url}/v1`, OPENAI_API_KEY: KEY })],
    ['anthropic', (url: string) => ({ LLM_PROVIDER: 'anthropic', ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: KEY })],
  ])('%s: a truncated body and a reset are retried inside the call, a 400 is not', async (_name, env) => {
    const config = loadConfig({ ...env(proxy.url), LLM_MAX_RETRIES: '3' });
    const extractor = await createExtractor(config, new RateLimiter(db.sql));
    const message = (await findMessage(db.sql, await insertMessage(db.sql, { subject: 'Flaky', body: 'The total is $300.' })))!;
    proxy.play('truncated', 'reset');
    const outcome = await extractMessage(message, extractor, config, EXTRACTION_SCHEMA_VERSION);
    expect(outcome).toMatchObject({ status: 'succeeded', calls: 1 });
    expect(proxy.arrivals).toHaveLength(3);

    proxy.play({ status: 400, body: JSON.stringify({ error: { type: 'invalid_request_error', message: 'too long' } }) });
    const err = await extractMessage(message, extractor, config, EXTRACTION_SCHEMA_VERSION).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 400, retryable: false, code: 'invalid_request_error' });
    expect(proxy.arrivals).toHaveLength(1);
  });
});
