import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNovaConfig as loadConfig } from '../src/domains.ts';
import { domains } from '../src/domains.ts';
import { LlmEmulator } from '../src/emulators/llm/index.ts';
import { createExtractor, EXTRACTION_SCHEMA_VERSION, extractFromPrompt, extractMessage, findMessage } from '../src/extraction/index.ts';
import { EXTRACTION_QUEUE, extractionDeadHook, extractionHandler, setupExtraction, type ExtractionDeps, type ExtractionJob } from '../src/extraction/worker.ts';
import { silentLogger } from '../src/log.ts';
import { Defer } from '../src/queue/errors.ts';
import { EventHub } from '../src/queue/events.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Job } from '../src/queue/types.ts';
import type { JobContext, Services } from '../src/runtime/domain.ts';
import { RateLimiter } from '../src/runtime/rate-limit.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { openPglite } from '../src/storage/index.ts';
import { backends, pgliteAt, type TestDb } from './helpers/db.ts';
import { extractionRows, insertMessage } from './helpers/extraction.ts';
import { nodeArgs } from './helpers/process.ts';
import { startRuntime, until } from './helpers/runtime.ts';

const KEY = 'sk-test-extraction';
const BODY = '<p>Hi Sam,</p><p>Could you send the signed order form by 2025-03-14? The total is $12,500. We are blocked until legal signs off.</p>';

/** An emulated model that answers as the builtin rules would, so valid answers are real extractions. */
const newEmulator = () =>
  new LlmEmulator({
    apiKey: KEY,
    retryAfterSeconds: 1,
    respond: (r) => extractFromPrompt(r.messages.find((m) => m.role === 'user')?.content ?? '') ?? {},
  });

describe.each(backends)('extraction through the openai provider and the LLM emulator on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let llm: LlmEmulator;

  beforeAll(async () => {
    db = await backend.create();
    llm = newEmulator();
    await llm.start();
    runtime = await startRuntime(db, domains, {
      WORKER_TYPE: 'extraction-queue,extraction',
      EXTRACTION_QUEUE_INTERVAL_MS: '50',
      LLM_PROVIDER: 'openai', OPENAI_BASE_URL: llm.url, OPENAI_API_KEY: KEY, OPENAI_MODEL: 'emulated-4o',
    });
  });
  afterAll(async () => {
    await runtime?.stop();
    await llm?.stop();
    await db?.drop();
  });

  const settled = async (id: string) => {
    await until(async () => ['succeeded', 'failed'].includes((await extractionRows(db.sql, id))[0]?.status ?? ''), 20_000, 'extraction settled');
    return (await extractionRows(db.sql, id))[0]!;
  };

  it('parses a valid answer and records model, prompt version and token counts', async () => {
    const id = await insertMessage(db.sql, { subject: 'Order form', body: BODY });
    const row = await settled(id);
    expect(row).toMatchObject({ status: 'succeeded', provider: 'openai', calls: 1 });
    expect(row.input_tokens).toBeGreaterThan(100);
    expect(row.output_tokens).toBeGreaterThan(10);
    expect(row.result.meta).toMatchObject({ provider: 'openai', model: 'emulated-4o', promptVersion: 'extract-v1', schemaVersion: EXTRACTION_SCHEMA_VERSION });
    expect(row.result.amounts).toEqual([{ text: '$12,500', value: 12500, currency: 'USD' }]);
    expect(row.result.blocker.isBlocker).toBe(true);
    // The request went out in JSON mode, with the schema in the system prompt and the email as text.
    const sent = llm.received.at(-1)!;
    expect(sent.json).toBe(true);
    expect(sent.system).toContain('"blocker"');
    expect(sent.messages[0]!.content).toContain('Could you send the signed order form');
    expect(sent.messages[0]!.content).not.toContain('<p>');
  });

  it('repairs one invalid answer by sending the validation errors back', async () => {
    llm.inject('invalid');
    const id = await insertMessage(db.sql, { subject: 'Repair me', body: BODY });
    const row = await settled(id);
    expect(row).toMatchObject({ status: 'succeeded', calls: 2 });
    const repair = llm.received.at(-1)!;
    expect(repair.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(repair.messages[1]!.content).toContain('"summary":42');
    expect(repair.messages[2]!.content).toMatch(/did not match[\s\S]*- summary: /);
    expect(row.result.summary).toMatch(/^Repair me\./);
  });

  it('stores a second invalid answer as failed, with the raw output', async () => {
    llm.inject('invalid');
    llm.inject('malformed');
    const id = await insertMessage(db.sql, { subject: 'Hopeless', body: BODY });
    const row = await settled(id);
    expect(row).toMatchObject({ status: 'failed', calls: 2, result: null, provider: 'openai' });
    expect(row.error).toMatch(/after a repair attempt[\s\S]*not valid JSON/);
    expect(row.raw_output).toMatch(/^\{"summary":"Hopeless/);
    expect(() => JSON.parse(row.raw_output!)).toThrow();
    // Failed is final for this schema version: the queue does not pick the message up again.
    const before = llm.stats().requests;
    await new Promise((r) => setTimeout(r, 200));
    expect(llm.stats().requests).toBe(before);
  });

  it('retries a 429 after its Retry-After and succeeds', async () => {
    const limited = llm.stats().rateLimited;
    llm.inject('rate_limit');
    const started = Date.now();
    const id = await insertMessage(db.sql, { subject: 'Busy model', body: BODY });
    const row = await settled(id);
    expect(row.status).toBe('succeeded');
    expect(llm.stats().rateLimited).toBe(limited + 1);
    // Retry-After: 1 — the retry waited for it (the shared bucket was emptied for a second).
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });
});

/**
 * The handler's provider-failure path, called directly (the queue's own retry delays run to
 * minutes): a provider error leaves no row and goes back to the queue on every attempt; once the
 * job is dead, its onDead hook stores the error as `failed`; a 429 past the in-call retries
 * becomes a retry after the provider's Retry-After; a refused key is never stored by the handler.
 */
describe.each(backends)('extraction when the provider fails, on $name', (backend) => {
  let db: TestDb;
  let llm: LlmEmulator;
  let services: Services;
  let deps: ExtractionDeps;
  const handle = extractionHandler(EXTRACTION_SCHEMA_VERSION);

  const servicesWith = (env: Record<string, string>): Services => {
    const events = new EventHub();
    return {
      config: loadConfig({ LLM_PROVIDER: 'openai', OPENAI_BASE_URL: llm.url, OPENAI_API_KEY: KEY, LLM_MAX_RETRIES: '0', ...env }),
      sql: db.sql, queue: new QueueClient(db.sql, events), events, rateLimiter: new RateLimiter(db.sql),
      processId: 'test-extraction', log: silentLogger,
    };
  };
  beforeAll(async () => {
    db = await backend.create();
    llm = newEmulator();
    await llm.start();
    services = servicesWith({});
    deps = await setupExtraction(services);
  });
  afterAll(async () => {
    await llm?.stop();
    await db?.drop();
  });

  const jobFor = (messageId: string, attempt: number) =>
    ({ id: 1, queue: EXTRACTION_QUEUE, token: 1, attempt, maxAttempts: 5, payload: { messageId } }) as unknown as Job<ExtractionJob>;

  /** Runs the handler as attempt `attempt` of 5 for the message. */
  const run = (messageId: string, attempt: number, on: { services: Services; deps: ExtractionDeps } = { services, deps }) => {
    const ctx: JobContext<ExtractionJob, ExtractionDeps> = {
      job: jobFor(messageId, attempt), attempt: { number: attempt, max: 5, isLast: attempt === 5 },
      signal: new AbortController().signal, log: silentLogger, progress: async () => {}, checkpoint: async () => true, ...on,
    };
    return handle({ messageId }, ctx);
  };

  it('hands a 5xx back to the queue, even on the last attempt, and stores it as failed once the job is dead', async () => {
    const id = await insertMessage(db.sql, { subject: 'Model down', body: BODY });
    llm.inject('server_error');
    await expect(run(id, 1)).rejects.toMatchObject({ name: 'ProviderError', status: 500 });
    expect(await extractionRows(db.sql, id)).toEqual([]);
    llm.inject('server_error');
    const last = (await run(id, 5).catch((e: unknown) => e)) as Error;
    expect(last).toMatchObject({ status: 500 });
    expect(await extractionRows(db.sql, id)).toEqual([]);

    // The queue dead-letters the job and runs the hook in that transaction.
    await db.sql.transaction((tx) => extractionDeadHook(EXTRACTION_SCHEMA_VERSION)(jobFor(id, 5), {
      error: { name: last.name, message: last.message }, tx, services, deps, log: silentLogger,
    }));
    const [row] = await extractionRows(db.sql, id);
    expect(row).toMatchObject({ status: 'failed', provider: 'openai', result: null, calls: 1 });
    expect(row!.error).toMatch(/500/);

    // The next run (a redrive, say) replaces the failure with the result.
    await run(id, 1);
    expect((await extractionRows(db.sql, id))[0]).toMatchObject({ status: 'succeeded' });
  });

  it("defers a 429 past the in-call retries until the provider's Retry-After, spending no attempt", async () => {
    const id = await insertMessage(db.sql, { subject: 'Rate limited', body: BODY });
    llm.inject('rate_limit');
    const err = await run(id, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Defer);
    expect((err as Defer).delayMs).toBe(1000);
    expect(await extractionRows(db.sql, id)).toEqual([]);
  });

  it('keeps retrying a refused key rather than failing the message', async () => {
    const id = await insertMessage(db.sql, { subject: 'Wrong key', body: BODY });
    const badKey = servicesWith({ OPENAI_API_KEY: 'sk-wrong' });
    const on = { services: badKey, deps: await setupExtraction(badKey) };
    await expect(run(id, 1, on)).rejects.toMatchObject({ status: 401 });
    await expect(run(id, 5, on)).rejects.toMatchObject({ status: 401 });
    expect(await extractionRows(db.sql, id)).toEqual([]);
  });
});

describe('the anthropic provider against the emulator\'s /v1/messages', () => {
  let llm: LlmEmulator;
  let db: TestDb;
  beforeAll(async () => {
    llm = newEmulator();
    await llm.start();
    db = await backends[0]!.create();
  });
  afterAll(async () => {
    await llm?.stop();
    await db?.drop();
  });

  it('extracts through a forced tool call, and repairs an invalid one', async () => {
    const config = loadConfig({ LLM_PROVIDER: 'anthropic', ANTHROPIC_BASE_URL: llm.url.replace(/\/v1$/, ''), ANTHROPIC_API_KEY: KEY, ANTHROPIC_MODEL: 'emulated-haiku' });
    const extractor = await createExtractor(config, new RateLimiter(db.sql));
    expect(extractor.provider).toBe('anthropic');
    const message = (await findMessage(db.sql, await insertMessage(db.sql, { subject: 'Claude', body: BODY })))!;
    const ok = await extractMessage(message, extractor, config, EXTRACTION_SCHEMA_VERSION);
    expect(ok.status).toBe('succeeded');
    if (ok.status !== 'succeeded') return;
    expect(ok.result.meta).toMatchObject({ provider: 'anthropic', model: 'emulated-haiku' });
    expect(ok.result.actionItems[0]).toMatchObject({ owner: 'Sam Carter', dueDate: '2025-03-14' });
    expect(llm.received.at(-1)!).toMatchObject({ api: 'anthropic', json: true });

    llm.inject('invalid');
    const repaired = await extractMessage(message, extractor, config, EXTRACTION_SCHEMA_VERSION);
    expect(repaired).toMatchObject({ status: 'succeeded', calls: 2 });
  });

  it('refuses to start with no key for the chosen provider (at boot, not at the first job), and defaults to builtin with none', async () => {
    expect(() => loadConfig({ LLM_PROVIDER: 'anthropic' })).toThrow(/ANTHROPIC_API_KEY: required for LLM_PROVIDER=anthropic/);
    expect(() => loadConfig({ LLM_PROVIDER: 'openai' })).toThrow(/OPENAI_API_KEY: required for LLM_PROVIDER=openai/);
    expect((await createExtractor(loadConfig({}))).provider).toBe('builtin');
    expect((await createExtractor(loadConfig({ OPENAI_API_KEY: 'sk-x' }))).provider).toBe('openai');
  });
});

describe('nova extract', () => {
  it('extracts one message through the configured provider and prints the result', async () => {
    const llm = newEmulator();
    await llm.start();
    const dir = mkdtempSync(join(tmpdir(), 'nova-extract-'));
    try {
      // PGlite has one owner: fill the database, close it, then hand it to the CLI process.
      const sql = await pgliteAt(join(dir, 'db'));
      const id = await insertMessage(sql, { subject: 'CLI run', body: BODY });
      await sql.close();
      const root = fileURLToPath(new URL('../', import.meta.url));
      const child = spawn(process.execPath, [...nodeArgs('src/cli/main.ts'), 'extract', id], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', NOVA_DATA_DIR: join(dir, 'db'), OPENAI_API_KEY: KEY, OPENAI_BASE_URL: llm.url, NOVA_LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, out).toBe(0);
      const printed = JSON.parse(out.slice(out.indexOf('{')));
      expect(printed).toMatchObject({ messageId: id, status: 'succeeded', extraction: { meta: { provider: 'openai' } } });
      expect(printed.extraction.amounts[0].value).toBe(12500);

      const check = await openPglite(join(dir, 'db'));
      const rows = await extractionRows(check, id);
      await check.close();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.status).toBe('succeeded');
    } finally {
      await llm.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
