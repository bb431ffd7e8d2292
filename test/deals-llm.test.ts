import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerDealPrompt, createDealsDomain, LlmDealAnalyzer } from '../src/deals/index.ts';
import { queueDailyBrief, queueDocumentProcessing, queueEmailProcessing } from '../src/deals/queues.ts';
import * as store from '../src/deals/store.ts';
import { LlmEmulator, type CompletionRequest } from '../src/emulators/llm/index.ts';
import { anthropicChatModel } from '../src/extraction/providers/anthropic.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

const LATENCY_MS = 150;
const respond = (r: CompletionRequest) => answerDealPrompt(r.system, r.messages.find((m) => m.role === 'user')?.content ?? '');
const task = (r: CompletionRequest) => /^Task: (\w+)/.exec(r.system)?.[1];

describe('the LLM deal analyzer on the Anthropic wire format', () => {
  const llm = new LlmEmulator({ respond, latencyMs: LATENCY_MS, apiKey: 'sk-ant-test' });
  afterAll(() => llm.stop());

  it('asks through a forced tool call whose schema is the task\'s, and parses the tool input', async () => {
    const url = await llm.start();
    const model = await anthropicChatModel({ apiKey: 'sk-ant-test', baseUrl: url.replace(/\/v1$/, ''), model: 'claude-test' });
    const analyzer = new LlmDealAnalyzer({
      model, limits: { requestsPerMinute: 1000, tokensPerMinute: 1_000_000 }, maxOutputTokens: 500, maxRetries: 1, timeoutMs: 5000, maxInputChars: 8000,
    });
    const started = performance.now();
    const risks = await analyzer.extractRisks({ name: 'SPA.txt', text: 'The seller faces pending litigation. Customers may churn after the change of control.' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(LATENCY_MS);
    expect(risks).toMatchObject({ risks: expect.arrayContaining([expect.objectContaining({ title: 'Legal exposure', severity: 'high' })]) });
    const [request] = llm.received;
    expect(request).toMatchObject({ api: 'anthropic', model: 'claude-test', tool: 'record_extract_risks', json: true });
    expect(request!.system).toMatch(/^Task: extract_risks\n/);
  });
});

describe.each(backends)('deals with LLM_PROVIDER=openai against the LLM emulator on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let queue: QueueClient;
  let dealId: string;
  const llm = new LlmEmulator({ respond, latencyMs: LATENCY_MS, apiKey: 'sk-test' });

  beforeAll(async () => {
    db = await backend.create();
    queue = new QueueClient(db.sql);
    const url = await llm.start();
    runtime = await startRuntime(db, [createDealsDomain()], {
      WORKER_TYPE: 'daily-brief,documents,emails', LLM_PROVIDER: 'openai', OPENAI_BASE_URL: url, OPENAI_API_KEY: 'sk-test', OPENAI_MODEL: 'gpt-test',
      DEALS_RETRY_BASE_MS: '100', POLL_INTERVAL_MS: '50', DEALS_OCR: 'false',
    });
    dealId = (await store.insertDeal(db.sql, { name: 'Project Osprey' })).id;
  });
  afterAll(async () => {
    await runtime?.stop();
    await llm.stop();
    await db?.drop();
  });

  const finished = async (id: number) => {
    await until(async () => ['completed', 'dead'].includes((await queue.getJob(id))!.state), 20_000, `job ${id}`);
    return (await queue.getJob(id))!;
  };

  it('summarizes, extracts risks and classifies a document through the model, in JSON mode', async () => {
    const text = 'This share purchase agreement covers the sale of Osprey. The seller discloses pending litigation. Revenue declined 4% last year.';
    const docId = await store.insertDocument(db.sql, { dealId, name: 'SPA legal.txt', sourceType: 'upload', content: text });
    const before = llm.received.length;
    for (const op of ['summarize', 'extract_risks', 'classify'] as const) {
      const job = await finished(await queueDocumentProcessing(queue, docId, dealId, op));
      expect(job).toMatchObject({ state: 'completed', result: { provider: 'openai' } });
    }
    const doc = (await store.getDocument(db.sql, docId))!;
    expect(doc.summary).toMatch(/share purchase agreement/);
    expect(doc.risks).toEqual(expect.arrayContaining([expect.objectContaining({ title: 'Legal exposure' })]));
    expect(doc.workstream).toBe('Legal');
    const asked = llm.received.slice(before);
    expect(asked.map(task).sort()).toEqual(['classify', 'extract_risks', 'summarize']);
    expect(asked.every((r) => r.api === 'openai' && r.json && r.model === 'gpt-test')).toBe(true);
    expect(asked.find((r) => task(r) === 'summarize')!.messages[0]!.content).toContain('pending litigation');
  });

  it('repairs an answer outside the schema once, and fails the attempt when the repair is bad too', async () => {
    const docId = await store.insertDocument(db.sql, { dealId, name: 'memo.txt', sourceType: 'upload', content: 'A short memo on the closing timetable.' });
    llm.inject('invalid', 1);
    const before = llm.received.length;
    const repaired = await finished(await queueDocumentProcessing(queue, docId, dealId, 'summarize'));
    expect(repaired).toMatchObject({ state: 'completed', attempts: 1 });
    const [first, repair] = llm.received.slice(before);
    expect(repair!.messages).toHaveLength(3);
    expect(repair!.messages[2]!.content).toMatch(/did not match the required JSON Schema:\n- summary: /);
    expect(first!.messages).toHaveLength(1);
    // Two bad answers: the attempt fails with the schema's complaint, and the job retries it.
    const other = await store.insertDocument(db.sql, { dealId, name: 'memo 2.txt', sourceType: 'upload', content: 'Another memo.' });
    llm.inject('invalid', 2);
    const retried = await finished(await queueDocumentProcessing(queue, other, dealId, 'summarize'));
    expect(retried).toMatchObject({ state: 'completed', attempts: 2, last_error: { name: 'LlmOutputError' } });
  });

  it('analyzes an email with the model when no extraction exists', async () => {
    const emailId = await store.insertCommunication(db.sql, { dealId, subject: 'Lender review', sender: 'counsel@seller.example', body: 'We cannot proceed until the NDA is signed.', receivedAt: new Date() });
    const job = await finished(await queueEmailProcessing(queue, emailId, dealId, 'analyze_sentiment'));
    expect(job).toMatchObject({ state: 'completed', result: { source: 'openai', sentiment: 'blocker', isBlocker: true } });
    expect(llm.received.at(-1)!.messages[0]!.content).toContain('Subject: Lender review');
  });

  it('opens the daily brief with the model\'s headline and summary, written from the computed sections', async () => {
    const date = new Date().toISOString().slice(0, 10);
    const job = await finished(await queueDailyBrief(queue, dealId, date));
    expect(job).toMatchObject({ state: 'completed', result: { provider: 'openai' } });
    const brief = (await store.getBrief(db.sql, dealId, date))!;
    const narrative = brief.narrative as { headline: string; summary: string };
    expect(narrative.headline).toMatch(/^Project Osprey: \d+% reviewed, 1 blocker/);
    expect(brief.markdown).toContain(`**${narrative.headline}**`);
    expect(brief.markdown).toContain('## Blockers');
    const asked = llm.received.at(-1)!;
    expect(task(asked)).toBe('write_brief');
    expect(asked.messages[0]!.content).toContain('"blockers"');
  });
});
