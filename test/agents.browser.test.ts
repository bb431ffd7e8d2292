import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LlmEmulator, type AgentTurnRequest } from '../src/emulators/llm/index.ts';
import { dashboardDomain } from '../src/http/dashboard.ts';
import { apiDomain, fanoutDomain } from '../src/http/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { defineWorkflow, startRun, workflowsDomain, type WorkflowEngine } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { CHROMIUM, dashboardBuild, launchChromium } from './helpers/browser.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

/**
 * The run page's AgentPanel in headless Chromium: an agent step against the LLM emulator (OpenAI
 * and Anthropic streaming) shows its answer growing token by token over /ws while the emulator holds the stream
 * mid-answer, then the stored final answer, and the tool call of the turn before with its result.
 */
if (!existsSync(CHROMIUM) && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)`);

const ANSWER = 'Nova ships agents, say the news of today.';

const browse = defineWorkflow({ name: 't.browse' }, async ({ input, step }) =>
  step.agent('browse', {
    model: `${(input as { provider: string }).provider}:live`, input: 'What is new in Nova?',
    tools: { search: { description: 'Search the news', parameters: z.object({ query: z.string() }), run: (a: { query: string }) => ({ hits: [`${a.query} ships agents`] }) } },
  }));

/** A gate the test opens: `wait` resolves once `open` was called. */
function gate() {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe.skipIf(!existsSync(CHROMIUM))('agent panel in headless Chromium', () => {
  let db: TestDb;
  let runtime: Runtime;
  let browser: Browser;
  let page: Page;
  let base: string;
  const pageErrors: string[] = [];
  const turnOf = (r: AgentTurnRequest) => r.messages.filter((m) => m.role === 'assistant').length;
  // The second turn's stream waits before its first piece (until the page listens) and before its fourth.
  const gates = { openai: { start: gate(), middle: gate() }, anthropic: { start: gate(), middle: gate() } };
  const emulator = new LlmEmulator({
    respondAgent: (r) => (turnOf(r) === 0
      ? { text: 'Searching the news for Nova.', toolCalls: [{ name: 'search', arguments: { query: 'nova' } }] }
      : { text: ANSWER, toolCalls: [] }),
    holdToken: (r, index) => (turnOf(r) !== 1 ? undefined : index === 0 ? gates[r.api].start.wait : index === 3 ? gates[r.api].middle.wait : undefined),
  });

  beforeAll(async () => {
    const webDir = await dashboardBuild();
    const url = await emulator.start();
    db = await backends[0]!.create();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    runtime = await startRuntime(db, [apiDomain, fanoutDomain, workflowsDomain({ workflows: [browse] }), dashboardDomain(webDir)], {
      WORKER_TYPE: 'api,fanout,workflow-runner,agent-runner', PORT: String(port), API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '200', OPENAI_BASE_URL: url,
      ANTHROPIC_BASE_URL: url.replace(/\/v1$/, ''),
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 180_000);

  afterAll(async () => {
    for (const g of Object.values(gates)) g.start.open(), g.middle.open();
    await browser?.close();
    await runtime?.stop();
    await db?.drop();
    await emulator.stop();
  });

  it.each(['openai', 'anthropic'] as const)('%s: streams the answer into the run page live, then shows the stored answer and the tool call', async (provider) => {
    const { start, middle } = gates[provider];
    const { run } = await startRun(runtime.depsOf<WorkflowEngine>('workflows')!, 't.browse', { provider });
    await until(() => emulator.agentRequests.some((r) => r.api === provider && turnOf(r) === 1), 15_000, 'the second model call');

    // The page's socket is subscribed to run:<id> (the server's confirmation) before any piece is sent.
    const subscribed = new Promise<void>((resolve) => page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
      if (String(payload).includes('"subscribed"') && String(payload).includes(`run:${run.id}`)) resolve();
    })));
    await page.goto(`${base}/workflows/runs/${run.id}`);
    await subscribed;
    const agent = page.locator('[data-agent="browse"]');
    const turn1 = agent.locator('li[data-turn="1"]');
    const turn2 = agent.locator('li[data-turn="2"]');
    await turn2.getByText('thinking').waitFor();
    await turn1.locator('[data-tool="search"]').getByText('{"query":"nova"}').waitFor();
    await turn1.locator('[data-tool="search"]').getByText('{"hits":["nova ships agents"]}').waitFor();
    await turn1.getByText('Searching the news for Nova.').waitFor();

    // Three pieces sent, the fourth held: the page shows exactly those, marked live.
    start.open();
    const live = turn2.locator('p[data-live="true"]');
    await expect.poll(() => live.textContent(), { timeout: 10_000 }).toBe('Nova ships agents, ');
    // Turn 2's reply is not stored yet: the agent job's inline tick holds the run while the model
    // streams (docs/ARCHITECTURE.md, an agent's turn stays in one process).
    expect((await store.getRun(db.sql, run.id))!.status).toBe('running');
    const turn2Step = (await store.getSteps(db.sql, run.id)).find((s) => s.step_id === 'browse/turn-2/model');
    expect(turn2Step?.status ?? 'not written').not.toBe('completed');

    middle.open();
    await turn2.locator('p.agent-text:not([data-live])').getByText(ANSWER, { exact: true }).waitFor({ timeout: 10_000 });
    await agent.locator('h2').getByText('completed').waitFor({ timeout: 10_000 });
    expect((await store.getRun(db.sql, run.id))!.output).toMatchObject({ text: ANSWER, turns: 2 });
    expect(pageErrors).toEqual([]);
  });
});
