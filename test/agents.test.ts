import { createServer, type Server } from 'node:http';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LlmEmulator, type AgentTurnRequest } from '../src/emulators/llm/index.ts';
import { apiDomain, fanoutDomain } from '../src/http/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { builtinTurn } from '../src/workflows/agent-builtin.ts';
import { defineWorkflow, startRun, workflowsDomain, type WorkflowEngine } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { readFileSync } from 'node:fs';
import { expenseEscalation, researchAgent, researchSummary } from '../src/workflows/examples.ts';
import { runPatches } from '../src/workflows/tag-store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

let searchBase = '';
const searches: string[] = [];
const search = createServer((req, res) => {
  searches.push(req.url!);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results: [{ title: 'Nova ships agents', url: 'https://news.example/1' }] }));
});

const research = defineWorkflow({ name: 't.research' }, async ({ input, step }) => {
  const { topic, model, budget } = input as { topic: string; model: string; budget?: number };
  return step.agent('research', {
    model, input: topic,
    tools: {
      search: { description: 'Search the news', parameters: z.object({ query: z.string() }), http: (a: { query: string }) => ({ url: `${searchBase}/search?q=${encodeURIComponent(a.query)}` }) },
      broken: { description: 'A tool that always fails', run: () => { throw new Error('the archive is on fire'); } },
    },
    output: z.object({ summary: z.string().min(1), sources: z.number().int() }),
    ...(budget && { tokenBudget: budget }),
  });
});

/** Turn 2 of a patching agent proposes `ops`; the others follow the builtin policy. */
const patcher = (ops: unknown[][]) => (r: AgentTurnRequest) => {
  const turn = r.messages.filter((m) => m.role === 'assistant').length;
  if (turn < ops.length) return { text: 'patching', toolCalls: [{ name: 'patch_workflow', arguments: { operations: ops[turn], description: `patch ${turn + 1}` } }] };
  return { text: 'done patching', toolCalls: [] };
};

describe.each(backends)('agents on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let agents: Runtime | undefined;
  let engine: WorkflowEngine;
  let api: string;
  let patchOps: unknown[][] = [];
  let held: (() => void) | undefined;
  let holdTurn2 = false;
  const emulator = new LlmEmulator({
    latencyMs: 60,
    respondAgent: (r) => (r.model === 'patcher' ? patcher(patchOps)(r) : builtinTurn(r)),
    hold: (r) => {
      if (!holdTurn2 || r.model !== 'crash' || r.messages.filter((m) => m.role === 'assistant').length !== 1) return;
      return new Promise<void>((resolve) => (held = resolve));
    },
  });
  const domain = workflowsDomain({ workflows: [research, researchAgent, expenseEscalation] });
  const env = (url: string) => ({ POLL_INTERVAL_MS: '100', OPENAI_BASE_URL: url, ANTHROPIC_BASE_URL: url.replace(/\/v1$/, ''), HTTP_STEP_ALLOWED_HOSTS: '127.0.0.1', AGENT_MAX_RUN_PATCHES: '1' });

  beforeAll(async () => {
    await new Promise<void>((r) => (search as Server).listen(0, '127.0.0.1', r));
    searchBase = `http://127.0.0.1:${(search.address() as { port: number }).port}`;
    const url = await emulator.start();
    db = await backend.create();
    runtime = await startRuntime(db, [apiDomain, fanoutDomain, domain], {
      ...env(url), WORKER_TYPE: 'api,fanout,workflow-runner,http-worker', PORT: '0', API_HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '1000',
    });
    agents = await startRuntime(db, [domain], { ...env(url), WORKER_TYPE: 'agent-runner', SHUTDOWN_TIMEOUT_MS: '100' });
    engine = runtime.depsOf<WorkflowEngine>('workflows')!;
    api = `127.0.0.1:${runtime.apiPort}`;
  });
  afterAll(async () => {
    held?.();
    await agents?.stop();
    await runtime?.stop();
    await db?.drop();
    await emulator.stop();
    search.close();
  });

  const finished = async (id: string, ms = 15_000) => {
    let run: store.RunRow | undefined;
    await until(async () => store.TERMINAL.includes((run = await store.getRun(db.sql, id))!.status), ms, 'the run to finish');
    return run!;
  };
  const socket = async (topic: string) => {
    const frames: any[] = [];
    const ws = new WebSocket(`ws://${api}/ws`);
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    ws.send(JSON.stringify({ type: 'subscribe', topics: [topic] }));
    await until(() => frames.some((f) => f.type === 'subscribed'), 5000, 'subscribed');
    return { ws, events: () => frames.filter((f) => f.type === 'event').map((f) => f.event) };
  };

  it('runs a research agent through the emulator: tools as steps, a tool error back to the model, a validated answer, tokens streamed to /ws', async () => {
    const { run } = await startRun(engine, 't.research', { topic: 'What is new in Nova?', model: 'openai:emu' });
    const client = await socket(`run:${run.id}`);
    const done = await finished(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const out = done.output as { output: { summary: string; sources: number }; turns: number; toolCalls: { name: string; isError: boolean }[] };
    expect(out.output.sources).toBe(1);
    expect(out.output.summary).toContain('Nova ships agents');
    expect(out.turns).toBe(3);
    expect(out.toolCalls.map((c) => [c.name, c.isError])).toEqual([['search', false], ['broken', true]]);

    const steps = await store.getSteps(db.sql, run.id);
    const byId = Object.fromEntries(steps.map((s) => [s.step_id, s]));
    expect(byId['research/turn-1/model']).toMatchObject({ kind: 'model', status: 'completed' });
    expect(byId['research/turn-1/tool-1']).toMatchObject({ kind: 'http', status: 'completed' });
    expect(byId['research/turn-2/tool-1']).toMatchObject({ kind: 'run', status: 'failed' });
    expect(byId['research']).toMatchObject({ kind: 'agent', status: 'completed' });
    expect(searches.some((s) => s.startsWith('/search?q=What%20is%20new'))).toBe(true);

    // The failing tool's error reached the model as that tool's result, in the OpenAI wire format.
    const third = emulator.agentRequests.filter((r) => r.model === 'emu')[2]!;
    const toolMessage = third.messages.find((m) => m.role === 'tool' && m.name === 'broken');
    expect(toolMessage?.content).toMatch(/the archive is on fire/);
    expect(third.stream).toBe(true);

    // Each streamed piece reached the WebSocket client; together they are the stored message.
    await until(() => client.events().some((e) => e.type === 'run.completed'), 5000, 'run.completed on /ws');
    const tokens = client.events().filter((e) => e.type === 'agent.token' && e.data.stepId === 'research/turn-3/model');
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.map((e) => e.data.text).join('')).toBe((byId['research/turn-3/model']!.output as { text: string }).text);
    client.ws.close();
  });

  it('streams the tokens of an Anthropic agent to /ws as its Messages API events arrive, the structured answer included', async () => {
    const { run } = await startRun(engine, 't.research', { topic: 'What is new in Nova?', model: 'anthropic:claude-emu' });
    const client = await socket(`run:${run.id}`);
    const done = await finished(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect((done.output as { output: { sources: number } }).output.sources).toBe(1);
    const requests = emulator.agentRequests.filter((r) => r.model === 'claude-emu');
    expect(requests.map((r) => [r.api, r.stream])).toEqual([['anthropic', true], ['anthropic', true], ['anthropic', true]]);

    await until(() => client.events().some((e) => e.type === 'run.completed'), 5000, 'run.completed on /ws');
    const steps = Object.fromEntries((await store.getSteps(db.sql, run.id)).map((s) => [s.step_id, s]));
    for (const turn of [1, 3]) {
      const tokens = client.events().filter((e) => e.type === 'agent.token' && e.data.stepId === `research/turn-${turn}/model`);
      expect(tokens.length).toBeGreaterThan(1);
      expect(tokens.map((e) => e.data.text).join('')).toBe((steps[`research/turn-${turn}/model`]!.output as { text: string }).text);
    }
    client.ws.close();
  });

  it('stops an agent over its token budget with a clear error, before any tool runs', async () => {
    const { run } = await startRun(engine, 't.research', { topic: 'x'.repeat(400), model: 'builtin', budget: 120 });
    const done = await finished(run.id);
    expect(done.status).toBe('failed');
    expect(done.error!.message).toMatch(/agent research used \d+ tokens in 1 turn\(s\), over its token budget of 120/);
    const steps = await store.getSteps(db.sql, run.id);
    expect(steps.find((s) => s.step_id === 'research')).toMatchObject({ kind: 'agent', status: 'failed', error: { name: 'AgentTokenBudgetExceeded' } });
    expect(steps.filter((s) => s.step_id.includes('/tool-'))).toEqual([]);
  });

  it('does not repeat a model call that returned when the agent-runner dies during the next one', async () => {
    holdTurn2 = true;
    const { run } = await startRun(engine, 't.research', { topic: 'crash test', model: 'openai:crash' });
    const turnOf = (r: AgentTurnRequest) => r.messages.filter((m) => m.role === 'assistant').length;
    await until(() => emulator.agentRequests.some((r) => r.model === 'crash' && turnOf(r) === 1), 10_000, 'the second model call');
    // The runner dies with the call in flight: its job is handed back unfinished.
    await agents!.stop();
    holdTurn2 = false;
    held?.();
    agents = await startRuntime(db, [domain], { ...env(emulator.url), WORKER_TYPE: 'agent-runner', VISIBILITY_TIMEOUT: '1' });
    const done = await finished(run.id, 20_000);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const calls = emulator.agentRequests.filter((r) => r.model === 'crash').map(turnOf);
    expect(calls.filter((t) => t === 0)).toHaveLength(1);
    expect(calls.filter((t) => t === 1).length).toBeGreaterThanOrEqual(2);
    const first = (await store.getSteps(db.sql, run.id)).find((s) => s.step_id === 'research/turn-1/model')!;
    expect(first).toMatchObject({ status: 'completed', attempt: 1 });
  }, 30_000);

  const put = async (name: string, workflow: unknown) => {
    const res = await fetch(`http://${api}/api/workflows/${name}/document`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workflow }) });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('runs an agent node of a workflow document, its conditions reading the validated answer', async () => {
    const doc = {
      nodes: [
        {
          id: 'scout', type: 'agent',
          config: {
            task: 'Summarize the news about Nova', model: 'builtin',
            tools: [{ name: 'news', description: 'Search news', url: `${searchBase}/search?q={query}`, parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } }],
            output_schema: { type: 'object', properties: { headline: { type: 'string', minLength: 3 }, urgent: { type: 'boolean' } }, required: ['headline', 'urgent'] },
          },
        },
        { id: 'alert', type: 'function', config: { output: { alerted: '$nodes.scout.output.headline' } } },
        { id: 'file', type: 'function', config: { output: 'filed' } },
      ],
      edges: [{ from: 'scout', to: 'alert', condition: 'output.output.urgent == true' }, { from: 'scout', to: 'file', condition: 'output.output.urgent == false' }],
    };
    expect((await put('d.scout', doc)).status).toBe(201);
    const { run } = await startRun(engine, 'd.scout', {});
    const done = await finished(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.output).toEqual({ alert: { alerted: expect.stringContaining('Nova ships agents') } });
    expect(searches.some((s) => s.startsWith('/search?q=Summarize%20the%20news'))).toBe(true);
    const bad = await put('d.bad', { nodes: [{ id: 'a', type: 'agent', config: { tools: [] } }], edges: [] });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/config.task/);
  });

  it('applies an agent-proposed patch to its running document as a version, and refuses the one past the limit', async () => {
    // Turn 1 adds a node after the agent; turn 2 tries a second patch, over AGENT_MAX_RUN_PATCHES=1.
    patchOps = [
      [{ op: 'add', path: '/nodes/-', value: { id: 'added', type: 'function', config: { output: 'from the patch' } } }, { op: 'add', path: '/edges/-', value: { from: 'planner', to: 'added' } }],
      [{ op: 'add', path: '/nodes/-', value: { id: 'second', type: 'function', config: {} } }],
    ];
    const doc = { nodes: [{ id: 'planner', type: 'agent', config: { task: 'Plan the work', model: 'openai:patcher', allow_patches: true } }], edges: [] };
    expect((await put('d.patcher', doc)).status).toBe(201);
    const { run } = await startRun(engine, 'd.patcher', {});
    const done = await finished(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.output).toEqual({ added: 'from the patch' });
    const patches = await runPatches(db.sql, run.id);
    expect(patches.map((p) => [p.seq, p.node_id, p.created_by])).toEqual([[1, 'planner/turn-1/tool-1', 'agent']]);
    const steps = await store.getSteps(db.sql, run.id);
    expect(steps.find((s) => s.step_id === 'planner/turn-2/tool-1')).toMatchObject({ status: 'failed', error: { name: 'PatchRefused', message: expect.stringMatching(/AGENT_MAX_RUN_PATCHES=1/) } });
  });

  it('runs the shipped examples with no keys: the research agent (code and document) and the escalating expense document', async () => {
    const { run } = await startRun(engine, 'demo.research', { topic: 'Nova agents', searchUrl: `${searchBase}/search?q={query}` });
    const done = await finished(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(researchSummary.parse(done.output)).toMatchObject({ summary: expect.stringContaining('Nova ships agents') });

    const example = (name: string) => JSON.parse(readFileSync(new URL(`../examples/workflows/${name}`, import.meta.url), 'utf8'));
    const doc = example('research-agent.json');
    doc.nodes[0].config.tools[0].url = `${searchBase}/search?q={query}`;
    expect((await put('research-agent', doc)).status).toBe(201);
    const docRun = await finished((await startRun(engine, 'research-agent', {})).run.id);
    expect(docRun.status, JSON.stringify(docRun.error)).toBe('completed');
    expect(docRun.output).toEqual({ review: { needs_review: expect.stringContaining('Nova ships agents') } });
    expect((await put('expense-escalation', example('expense-escalation.json'))).status).toBe(201);
  });
});
