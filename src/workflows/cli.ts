/**
 * `nova workflow list|start|runs|show|cancel`, `nova run <file.json>` and `nova approvals …`
 * (approval-cli.ts), through the API server
 * (NOVA_API_URL, with NOVA_API_TOKEN when set), so they work the same against a local
 * `npm start` and a production cluster.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { apiClient, type ApiClient } from '../cli/api-client.ts';
import { ago, duration, table } from '../cli/format.ts';
import { DocumentError, validateDocument } from './document/validate.ts';
import { registerApprovalCommands } from './approval-cli.ts';

interface RunJson {
  id: string;
  workflow: string;
  version: number;
  status: string;
  output: unknown;
  error: { message: string } | null;
  createdAt: string;
  durationMs: number | null;
}
interface StepJson {
  stepId: string;
  kind: string;
  status: string;
  attempt: number;
  durationMs: number | null;
  error: { message: string } | null;
}

const FINISHED = new Set(['completed', 'failed', 'cancelled', 'timed_out']);

export function registerWorkflowCommands(program: Command): void {
  registerApprovalCommands(program);
  const wf = program.command('workflow').description('durable workflows: list, start, watch and cancel runs (through NOVA_API_URL)');

  wf.command('list').description('workflows with their newest version and runs').action(async () => {
    const { workflows } = await apiClient('nova workflow').request<{ workflows: { name: string; kind: string; version: number; runs: number; active: number }[] }>('GET', '/api/workflows');
    if (workflows.length === 0) return console.log('no workflows yet');
    console.log(table([['NAME', 'KIND', 'VERSION', 'RUNS', 'ACTIVE'], ...workflows.map((w) => [w.name, w.kind, String(w.version), String(w.runs), String(w.active)])]));
  });

  wf.command('start')
    .description('start a run')
    .argument('<name>', 'workflow name')
    .option('--input <json>', 'the run input as JSON', '{}')
    .option('--idempotency-key <key>', 'the same key returns the run it started first')
    .option('--follow', 'print steps as they finish until the run ends')
    .action(async (name: string, opts: { input: string; idempotencyKey?: string; follow?: boolean }) => {
      const api = apiClient('nova workflow');
      const { run, created } = await api.request<{ run: RunJson; created: boolean }>('POST', `/api/workflows/${encodeURIComponent(name)}/runs`, {
        input: parseJson(opts.input, '--input'), ...(opts.idempotencyKey && { idempotencyKey: opts.idempotencyKey }),
      });
      console.log(`${created ? 'started' : 'already started'} run ${run.id} of ${run.workflow} v${run.version}`);
      if (opts.follow) process.exitCode = await follow(api, run.id);
    });

  wf.command('runs')
    .description('recent runs, newest first')
    .option('--workflow <name>', 'only this workflow')
    .option('--status <status>', 'queued, running, waiting, completed, failed, cancelled or timed_out')
    .option('--limit <n>', 'how many', '20')
    .action(async (opts: { workflow?: string; status?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: opts.limit, ...(opts.workflow && { workflow: opts.workflow }), ...(opts.status && { status: opts.status }) });
      const { runs } = await apiClient('nova workflow').request<{ runs: RunJson[] }>('GET', `/api/runs?${q}`);
      if (runs.length === 0) return console.log('no runs');
      console.log(table([['RUN', 'WORKFLOW', 'STATUS', 'STARTED', 'TOOK'], ...runs.map((r) => [
        r.id, `${r.workflow} v${r.version}`, r.status, ago(r.createdAt), r.durationMs === null ? '-' : duration(r.durationMs),
      ])]));
    });

  wf.command('show')
    .description('a run with its step timeline')
    .argument('<runId>')
    .option('--json', 'print the raw run as JSON')
    .action(async (runId: string, opts: { json?: boolean }) => {
      const got = await apiClient('nova workflow').request<{ run: RunJson; steps: StepJson[] }>('GET', `/api/runs/${runId}`);
      if (opts.json) return console.log(JSON.stringify(got, null, 2));
      printRun(got.run, got.steps);
    });

  wf.command('cancel').description('cancel a run and its child runs').argument('<runId>').action(async (runId: string) => {
    const { cancelled } = await apiClient('nova workflow').request<{ cancelled: number }>('POST', `/api/runs/${runId}/cancel`);
    console.log(`cancelled ${cancelled} run(s)`);
  });

  program.command('run')
    .description('submit a workflow document ({nodes, edges, metadata}) and follow its run')
    .argument('<file>', 'a JSON workflow document')
    .option('--name <name>', 'the workflow name (default: metadata.name, else the file name)')
    .option('--input <json>', 'the run input as JSON', '{}')
    .option('--no-follow', 'return once the run is started')
    .action(async (file: string, opts: { name?: string; input: string; follow: boolean }) => {
      let doc: { metadata?: { name?: string } };
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
        validateDocument(doc);
      } catch (err) {
        console.error(`nova run: ${file}: ${err instanceof DocumentError || err instanceof SyntaxError ? err.message : String(err)}`);
        process.exit(1);
      }
      const name = opts.name ?? doc.metadata?.name ?? basename(file).replace(/\.json$/, '');
      const api = apiClient('nova run');
      const stored = await api.request<{ name: string; version: number }>('PUT', `/api/workflows/${encodeURIComponent(name)}/document`, { workflow: doc });
      const { run } = await api.request<{ run: RunJson }>('POST', `/api/workflows/${encodeURIComponent(name)}/runs`, { input: parseJson(opts.input, '--input'), version: stored.version });
      console.log(`run ${run.id} of ${name} v${stored.version} started`);
      if (opts.follow) process.exitCode = await follow(api, run.id);
    });
}

function parseJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    console.error(`${flag} is not valid JSON`);
    process.exit(1);
  }
}

function printRun(run: RunJson, steps: StepJson[]): void {
  console.log(`run ${run.id}  ${run.workflow} v${run.version}  ${run.status}${run.durationMs === null ? '' : ` in ${duration(run.durationMs)}`}`);
  if (steps.length) console.log(table([['STEP', 'KIND', 'STATUS', 'ATTEMPT', 'TOOK'], ...steps.map((s) => [s.stepId, s.kind, s.status, String(s.attempt), s.durationMs === null ? '-' : duration(s.durationMs)])], '  '));
  if (run.error) console.log(`error: ${run.error.message}`);
  if (run.output !== null && run.output !== undefined) console.log(`output: ${JSON.stringify(run.output)}`);
}

/** Prints each step as it finishes; returns the exit code (0 completed, 1 otherwise). */
async function follow(api: ApiClient, runId: string): Promise<number> {
  const printed = new Set<string>();
  for (;;) {
    const { run, steps } = await api.request<{ run: RunJson; steps: StepJson[] }>('GET', `/api/runs/${runId}`);
    for (const s of steps) {
      const key = `${s.stepId}:${s.status}:${s.attempt}`;
      if (printed.has(key)) continue;
      printed.add(key);
      console.log(`  ${s.stepId} (${s.kind}) ${s.status}${s.attempt > 1 ? ` after ${s.attempt} attempts` : ''}${s.error ? `: ${s.error.message}` : ''}`);
    }
    if (FINISHED.has(run.status)) {
      printRun(run, []);
      return run.status === 'completed' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
