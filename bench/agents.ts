/**
 * Agent benchmark. Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:agents
 *
 * On a scratch database, with built `nova` processes (api+fanout, workflow-runner+http-worker,
 * agent-runner) running the shipped `demo.research` agent against the LLM emulator (streamed
 * OpenAI chat completions, or Anthropic messages with BENCH_PROVIDER=anthropic; BENCH_MODEL_MS
 * model latency, default 200) and a local search server; the builtin policy calls each tool
 * the agent has once, one per turn, then answers:
 *   1. overhead per turn: BENCH_SEQUENTIAL runs one after the other, start → run.completed,
 *      minus the emulator's latency for each model call, divided by the turns; then where it
 *      goes, hop by hop (from the arrival times of the model and tool requests), and the CPU
 *      each process spent per run. Two agents: `demo.research` (one search, then the answer: two
 *      turns, so the run's start and end weigh on each turn) and a workflow document whose agent
 *      has BENCH_TOOL_TURNS tools (default 4), one tool call on every turn but the last. Both
 *      after BENCH_WARMUP runs (default 20): each process's pool opens its connections and
 *      prepares its statements on each of them, as a process that has been running a while has;
 *   2. first streamed token: emulator writes a run's first content chunk → the `agent.token`
 *      event reaches a `/ws` client subscribed to `run:<id>`;
 *   3. agent-runner RSS (peak) with BENCH_CONCURRENT (16) agents running at once.
 */
import { createServer } from 'node:http';
import WebSocket from 'ws';
import { LlmEmulator } from '../src/emulators/llm/index.ts';
import { startRun } from '../src/workflows/index.ts';
import { cpuMs, envInt, mb, peakRss, rssBytes, startNova, type NovaChild, p50p99, workflowBench } from './support.ts';

const env = process.env;
const int = envInt;
const SEQUENTIAL = int('BENCH_SEQUENTIAL', 30);
const CONCURRENT = int('BENCH_CONCURRENT', 16);
const MODEL_MS = int('BENCH_MODEL_MS', 200);
const TOOL_TURNS = int('BENCH_TOOL_TURNS', 4);
const WARMUP = int('BENCH_WARMUP', 20);
const PROVIDER = env.BENCH_PROVIDER === 'anthropic' ? 'anthropic' : 'openai';

if (!env.DATABASE_URL) {
  console.error('bench:agents needs DATABASE_URL (the processes share the database; PGlite is single-process)');
  process.exit(2);
}

const { db, engine } = await workflowBench(env.DATABASE_URL, { listen: false });

// Arrival times of model and tool requests, for the per-hop breakdown of the sequential runs.
const modelAt: number[] = [];
const toolAt: number[] = [];
const emulator = new LlmEmulator({ latencyMs: MODEL_MS, hold: () => void modelAt.push(performance.now()) });
const llmUrl = await emulator.start();
const search = createServer((_req, res) => toolAt.push(performance.now()) && res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"title":"Durable execution","url":"https://example.com/d"}]}'));
await new Promise<void>((r) => search.listen(0, '127.0.0.1', r));
const searchUrl = `http://127.0.0.1:${(search.address() as { port: number }).port}/search?q={query}`;

const procEnv = {
  DATABASE_URL: db.url, HTTP_STEP_ALLOWED_HOSTS: '127.0.0.1', POLL_INTERVAL_MS: '1000', LLM_PROVIDER: PROVIDER, OPENAI_BASE_URL: llmUrl, ANTHROPIC_BASE_URL: llmUrl.replace(/\/v1$/, ''), ANTHROPIC_MODEL: 'emulator',
  OPENAI_MODEL: 'emulator', AGENT_RUNNER_CONCURRENCY: '32', API_HOST: '127.0.0.1', PORT: '0',
};

let procs: NovaChild[] = [];
try {
  console.log(`bench:agents on ${new URL(db.url).host}; ${PROVIDER} emulator latency ${MODEL_MS} ms per model call`);
  const [api, runner, agents] = await Promise.all([
    startNova('api,fanout', procEnv), startNova('workflow-runner,http-worker', procEnv), startNova('agent-runner', procEnv),
  ]);
  procs = [api!, runner!, agents!];
  const ws = new WebSocket(`ws://127.0.0.1:${api!.apiPort}/ws`);
  await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
  const firstToken = new Map<string, number>();
  const done = new Map<string, () => void>();
  ws.on('message', (raw) => {
    const at = performance.now();
    const f = JSON.parse(raw.toString());
    if (f.type !== 'event') return;
    const e = f.event;
    if (e.type === 'agent.token') {
      const key = `${e.data.runId}/${e.data.stepId}`;
      if (!firstToken.has(key)) firstToken.set(key, at);
    }
    if (e.type === 'run.completed' || e.type === 'run.failed') done.get(e.data.runId)?.();
  });
  const subscribe = (topic: string) => ws.send(JSON.stringify({ type: 'subscribe', topics: [topic] }));

  // The document agent: one search tool per turn (each a distinct name, so the builtin policy
  // calls each once), then its answer.
  const toolTurns = {
    nodes: [{
      id: 'scout', type: 'agent',
      config: {
        task: 'Research durable execution',
        tools: Array.from({ length: TOOL_TURNS }, (_, i) => ({
          name: `search_${i + 1}`, description: 'Search the web', url: searchUrl,
          parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
        })),
      },
    }],
    edges: [],
  };
  const put = await fetch(`http://127.0.0.1:${api!.apiPort}/api/workflows/bench.tool-turns/document`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workflow: toolTurns }),
  });
  if (put.status !== 201) throw new Error(`PUT bench.tool-turns answered ${put.status}: ${await put.text()}`);

  const research = { topic: 'durable execution', searchUrl };

  /** One run: start, subscribe, wait for its end as seen on /ws. */
  const one = async (workflow: string, input: unknown) => {
    const t0 = performance.now();
    const models = modelAt.length;
    const tools = toolAt.length;
    let end!: () => void;
    const finished = new Promise<void>((r) => (end = r));
    const { run } = await startRun(engine, workflow, input);
    done.set(run.id, end);
    subscribe(`run:${run.id}`);
    await finished;
    const ms = performance.now() - t0;
    const [row] = await db.sql.query<{ status: string; output: unknown }>('select status, output from runs where id = $1', [run.id]);
    if (row!.status !== 'completed') throw new Error(`run ${run.id} ended ${row!.status}`);
    // A turn is one model call.
    const turns = modelAt.length - models;
    // Hops: start → first model request; each model answer's first token → the next request
    // (tool or model); the last answer → run.completed on /ws.
    const arrivals = [...modelAt.slice(models).map((at) => ({ at, model: true })), ...toolAt.slice(tools).map((at) => ({ at, model: false }))].sort((a, b) => a.at - b.at);
    const hops = new Map<string, number[]>();
    const hop = (name: string, ms: number) => (hops.get(name) ?? hops.set(name, []).get(name)!).push(ms);
    arrivals.forEach((a, i) => {
      const prev = arrivals[i - 1];
      if (!prev) return hop('start → model request', a.at - t0);
      const answered = prev.at + (prev.model ? MODEL_MS : 0);
      hop(`${prev.model ? 'model' : 'tool'} answer → ${a.model ? 'model' : 'tool'} request`, a.at - answered);
    });
    hop('last answer → run.completed on /ws', t0 + ms - (arrivals.at(-1)!.at + MODEL_MS));
    return { id: run.id, ms, turns, hops };
  };

  for (let i = 0; i < WARMUP; i++) await (i % 2 ? one('demo.research', research) : one('bench.tool-turns', {}));
  const streamsBefore = emulator.streamsBegun;
  const cpu = () => [...procs.map((p) => cpuMs(p.child.pid)), (process.cpuUsage().user + process.cpuUsage().system) / 1000];

  /** BENCH_SEQUENTIAL runs of one workflow, one after the other: overhead per turn, its hops, CPU per run. */
  const sequential = async (label: string, workflow: string, input: unknown) => {
    const perTurn: number[] = [];
    const ids: string[] = [];
    const turns = new Set<number>();
    const hops = new Map<string, number[]>();
    const cpuBefore = cpu();
    for (let i = 0; i < SEQUENTIAL; i++) {
      const r = await one(workflow, input);
      perTurn.push((r.ms - r.turns * MODEL_MS) / r.turns);
      for (const [name, list] of r.hops) hops.set(name, [...(hops.get(name) ?? []), ...list]);
      turns.add(r.turns);
      ids.push(r.id);
    }
    const cpuAfter = cpu();
    console.log(`overhead per turn, ${label} (${SEQUENTIAL} sequential runs of ${[...turns].join(' / ')} turns): ${p50p99(perTurn)} (target ≤ 10 ms)`);
    const perRun = (i: number) => ((cpuAfter[i]! - cpuBefore[i]!) / SEQUENTIAL).toFixed(1);
    console.log(`  CPU per run (ms): api+fanout ${perRun(0)}, workflow-runner+http-worker ${perRun(1)}, agent-runner ${perRun(2)}, bench (emulator, /ws client) ${perRun(3)}`);
    for (const [name, list] of hops) console.log(`  ${name}: ${p50p99(list)}${list.length > SEQUENTIAL ? ` (${list.length / SEQUENTIAL} a run)` : ''}`);
    return { ids, turns: [...turns][0]! };
  };
  const { ids, turns } = await sequential('demo.research: one search, then the answer', 'demo.research', research);
  // Streams are written in run order, each run's model calls in turn order: pair them up.
  const sent = emulator.firstTokenAt.slice(-(emulator.streamsBegun - streamsBefore));
  const received = ids.flatMap((id) => Array.from({ length: turns }, (_, t) => firstToken.get(`${id}/research/turn-${t + 1}/model`)));
  const lags = sent.flatMap((at, i) => (received[i] === undefined ? [] : [received[i]! - at]));
  await sequential(`a document agent with ${TOOL_TURNS} tools: one tool call on every turn but the last`, 'bench.tool-turns', {});
  console.log(`first streamed token, emulator → /ws client (${lags.length} streams of demo.research): ${p50p99(lags)} (target ≤ 50 ms)`);

  const rss = peakRss(() => [agents!.child.pid], 50);
  const idle = rssBytes(agents!.child.pid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENT }, () => one('demo.research', research)));
  console.log(`${CONCURRENT} agents at once: all done in ${((performance.now() - t0) / 1000).toFixed(2)} s; agent-runner RSS idle ${mb(idle)}, peak ${mb(rss.stop())} (target ≤ 200 MB)`);
  ws.close();
} finally {
  await Promise.all(procs.map((p) => p.stop()));
  await emulator.stop();
  search.close();
  await db.drop();
}
