/**
 * `step.agent`: a tool-using LLM loop made of memoized sub-steps. Each turn is a model call
 * (`<id>/turn-<n>/model`, executed by role `agent-runner`) and then the tools it asked for
 * (`<id>/turn-<n>/tool-<k>`: step.http, step.invoke or step.run); role agent-runner runs the
 * model calls and HTTP tools of a turn in one process (an inline tick). The conversation is
 * rebuilt on every tick from the stored sub-steps, so a crash anywhere never repeats a model or
 * tool call that already returned. A tool's error goes back to the model as the tool's result;
 * running out of turns, going over the token budget or never giving a valid answer fails the step.
 */
import { z, type ZodType } from 'zod';
import { formProblems } from './approval-form.ts';
import type { StepApi } from './define.ts';
import { StepFailed, Suspend, toStoredError } from './errors.ts';
import type { StepRow, StoredError } from './store.ts';
import { PATCH_TOOL } from './agent-builtin.ts';
import type {
  AgentMessage, AgentOptions, AgentResult, AgentTool, ModelReply, ModelRequest, ToolCall, ToolDeclaration, ToolParameters, Usage,
} from './agent-types.ts';

/** What the agent loop needs from the execution it runs in. */
export interface AgentHost {
  stored(stepId: string): StepRow | undefined;
  /** The memoized model call: the stored reply, or a wait for role agent-runner. */
  model(stepId: string, request: ModelRequest): Promise<ModelReply>;
  /** Stores the agent step's own outcome (kind `agent`). */
  record(stepId: string, status: 'completed' | 'failed', output: unknown, error: StoredError | null, startedAt: Date): Promise<void>;
  step: StepApi;
  /** An HTTP tool's call: a step.http that an inline tick of role agent-runner runs in-process. */
  toolHttp: StepApi['http'];
  patchRun?: (stepId: string, operations: unknown, description: string | null) => Promise<unknown>;
}

const PATCH_PARAMETERS = {
  type: 'object',
  properties: {
    operations: {
      type: 'array', minItems: 1, maxItems: 50,
      items: {
        type: 'object', required: ['op', 'path'],
        properties: { op: { enum: ['add', 'remove', 'replace', 'move', 'copy', 'test'] }, path: { type: 'string' }, from: { type: 'string' }, value: {} },
      },
    },
    description: { type: 'string', maxLength: 500 },
  },
  required: ['operations'],
};

export const DEFAULT_MAX_TURNS = 10;
export const DEFAULT_TOKEN_BUDGET = 100_000;
const TOOL_RESULT_CHARS = 16_000;

/** An agent that cannot finish: its name says why (AgentTokenBudgetExceeded, AgentMaxTurns, AgentOutputInvalid). */
export class AgentFailed extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export async function runAgent(host: AgentHost, sid: string, o: AgentOptions): Promise<AgentResult> {
  const stored = host.stored(sid);
  if (stored?.status === 'completed') return stored.output as AgentResult;
  if (stored?.status === 'failed') throw new StepFailed(sid, stored.error);
  // The agent began with its first model call (a later tick replays up to here).
  const first = host.stored(`${sid}/turn-1/model`);
  const startedAt = first ? new Date(first.started_at) : new Date();
  const spec = agentSpec(sid, o);
  const messages: AgentMessage[] = [{ role: 'user', content: typeof o.input === 'string' ? o.input : JSON.stringify(o.input ?? null) }];
  const usage: Usage = { inputTokens: 0, outputTokens: 0 };
  const calls: AgentResult['toolCalls'] = [];
  const fail = async (name: string, message: string): Promise<never> => {
    const error = { ...toStoredError(new AgentFailed(name, message)), usage, turns: calls.length } as StoredError;
    delete error.stack;
    await host.record(sid, 'failed', null, error, startedAt);
    throw new StepFailed(sid, error);
  };

  for (let turn = 1; turn <= spec.maxTurns; turn++) {
    const used = usage.inputTokens + usage.outputTokens;
    const left = spec.tokenBudget - used;
    if (left <= 0) return fail('AgentTokenBudgetExceeded', `agent ${sid} used ${used} tokens, its whole token budget of ${spec.tokenBudget}, before turn ${turn}`);
    const reply = await host.model(`${sid}/turn-${turn}/model`, {
      model: o.model ?? null, system: spec.system, messages: [...messages], tools: spec.declarations,
      outputSchema: spec.outputJson, maxOutputTokens: Math.max(1, Math.min(spec.maxOutputTokens, left)),
    });
    usage.inputTokens += reply.usage.inputTokens;
    usage.outputTokens += reply.usage.outputTokens;
    const total = usage.inputTokens + usage.outputTokens;
    if (total > spec.tokenBudget) {
      return fail('AgentTokenBudgetExceeded', `agent ${sid} used ${total} tokens in ${turn} turn(s), over its token budget of ${spec.tokenBudget}`);
    }
    messages.push({ role: 'assistant', content: reply.text, ...(reply.toolCalls.length && { toolCalls: reply.toolCalls }) });
    if (reply.toolCalls.length === 0) {
      const checked = checkAnswer(spec, reply.text);
      if (checked.ok) {
        const result: AgentResult = { output: checked.value, text: reply.text, turns: turn, usage, toolCalls: calls };
        await host.record(sid, 'completed', result, null, startedAt);
        return result;
      }
      if (turn === spec.maxTurns) return fail('AgentOutputInvalid', `agent ${sid}: the final answer does not satisfy the output schema: ${checked.problems.join('; ')}`);
      messages.push({ role: 'user', content: `Your answer does not satisfy the output schema:\n${checked.problems.join('\n')}\nAnswer again with only the corrected JSON.` });
      continue;
    }
    const settled = await Promise.allSettled(reply.toolCalls.map((call, k) => callTool(host, spec, `${sid}/turn-${turn}/tool-${k + 1}`, call)));
    const suspended = settled.find((s) => s.status === 'rejected');
    if (suspended) throw (suspended as PromiseRejectedResult).reason;
    reply.toolCalls.forEach((call, k) => {
      const r = (settled[k] as PromiseFulfilledResult<{ content: string; isError: boolean }>).value;
      calls.push({ turn, name: call.name, arguments: call.arguments, isError: r.isError });
      messages.push({ role: 'tool', toolCallId: call.id, name: call.name, content: r.content, ...(r.isError && { isError: true }) });
    });
  }
  return fail('AgentMaxTurns', `agent ${sid} did not give a final answer within ${spec.maxTurns} turn(s)`);
}

interface Spec {
  system: string;
  maxTurns: number;
  tokenBudget: number;
  maxOutputTokens: number;
  tools: Record<string, AgentTool>;
  declarations: ToolDeclaration[];
  output: ToolParameters | undefined;
  outputJson: Record<string, unknown> | null;
  allowPatches: boolean;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function agentSpec(sid: string, o: AgentOptions): Spec {
  if (!o || typeof o !== 'object') throw new Error(`step ${sid}: agent needs options with an input`);
  const positive = (v: number | undefined, name: string, d: number) => {
    if (v === undefined) return d;
    if (!Number.isInteger(v) || v < 1) throw new Error(`step ${sid}: ${name} must be a positive integer`);
    return v;
  };
  const tools = o.tools ?? {};
  const declarations = Object.entries(tools).map(([name, t]) => {
    if (!TOOL_NAME.test(name)) throw new Error(`step ${sid}: tool name ${JSON.stringify(name)} must match ${TOOL_NAME}`);
    const kinds = ['http', 'workflow', 'run'].filter((k) => k in t);
    if (kinds.length !== 1) throw new Error(`step ${sid}: tool ${name} needs exactly one of http, workflow or run`);
    return { name, description: t.description ?? '', parameters: jsonSchemaOf(t.parameters) ?? { type: 'object', properties: {} } };
  });
  if (o.allowPatches) {
    declarations.push({
      name: PATCH_TOOL,
      description: 'Change the running workflow with RFC 6902 JSON Patch operations on its document ({nodes, edges}); e.g. add a node with path /nodes/- and an edge with /edges/-. Applied before the workflow goes on; refused past the patch and agent-node limits.',
      parameters: PATCH_PARAMETERS,
    });
  }
  const outputJson = o.output === undefined ? null : jsonSchemaOf(o.output);
  const system = [
    o.system ?? 'You are an agent inside a durable workflow. Use the tools when they help, then give your final answer.',
    outputJson && `Your final answer must be only a JSON value satisfying this JSON Schema:\n${JSON.stringify(outputJson)}`,
  ].filter(Boolean).join('\n\n');
  return {
    system, tools, declarations, output: o.output, outputJson, allowPatches: o.allowPatches === true,
    maxTurns: positive(o.maxTurns, 'maxTurns', DEFAULT_MAX_TURNS),
    tokenBudget: positive(o.tokenBudget, 'tokenBudget', DEFAULT_TOKEN_BUDGET),
    maxOutputTokens: positive(o.maxOutputTokens, 'maxOutputTokens', 1024),
  };
}

function isZod(p: unknown): p is ZodType<any> {
  return !!p && typeof (p as { safeParse?: unknown }).safeParse === 'function';
}

/**
 * A zod schema's JSON Schema, made once per schema object: every tick replays the agent and
 * declares its tools again, and the conversion costs about as much as the rest of the replay.
 * Schemas defined once (at module level) are converted once per process.
 */
const jsonSchemas = new WeakMap<ZodType<any>, Record<string, unknown>>();

function jsonSchemaOf(p: ToolParameters | undefined): Record<string, unknown> | null {
  if (p === undefined) return null;
  if (!isZod(p)) return p;
  let schema = jsonSchemas.get(p);
  if (!schema) {
    const { $schema: _, ...rest } = z.toJSONSchema(p, { unrepresentable: 'any' }) as Record<string, unknown>;
    jsonSchemas.set(p, (schema = rest));
  }
  return schema;
}

/** The problems of `value` against tool parameters or the output schema. */
function problemsOf(p: ToolParameters, value: unknown): { ok: true; value: unknown } | { ok: false; problems: string[] } {
  if (isZod(p)) {
    const r = p.safeParse(value);
    return r.success ? { ok: true, value: r.data } : { ok: false, problems: r.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`) };
  }
  const problems = formProblems(p, value);
  return problems.length ? { ok: false, problems } : { ok: true, value };
}

/** The JSON in a model's answer (bare, or in a code fence). */
export function jsonOf(text: string): unknown {
  const trimmed = text.trim();
  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/.exec(trimmed);
  return JSON.parse(fenced ? fenced[1]! : trimmed);
}

function checkAnswer(spec: Spec, text: string): { ok: true; value: unknown } | { ok: false; problems: string[] } {
  if (!spec.output) return { ok: true, value: text };
  let value: unknown;
  try {
    value = jsonOf(text);
  } catch (err) {
    return { ok: false, problems: [`not JSON (${(err as Error).message})`] };
  }
  return problemsOf(spec.output, value);
}

/** Runs one tool call as its own step; anything but a suspension comes back as a result for the model. */
async function callTool(host: AgentHost, spec: Spec, id: string, call: ToolCall): Promise<{ content: string; isError: boolean }> {
  const error = (message: string) => ({ content: JSON.stringify({ error: message }), isError: true });
  if (call.name === PATCH_TOOL && spec.allowPatches) return patchTool(host, id, call, error);
  const tool = Object.hasOwn(spec.tools, call.name) ? spec.tools[call.name] : undefined;
  if (!tool) return error(`no tool named ${JSON.stringify(call.name)}; the tools are: ${Object.keys(spec.tools).join(', ') || 'none'}`);
  if (typeof call.arguments === 'string') return error(`the arguments are not valid JSON: ${call.arguments.slice(0, 200)}`);
  const checked = tool.parameters ? problemsOf(tool.parameters, call.arguments) : { ok: true as const, value: call.arguments };
  if (!checked.ok) return error(`invalid arguments: ${checked.problems.join('; ')}`);
  const args = checked.value;
  try {
    let result: unknown;
    if ('http' in tool) {
      const res = await host.toolHttp(id, tool.http(args), { failOnStatus: false, maxAttempts: 2, ...tool.options });
      result = { status: res.status, body: res.body };
    } else if ('workflow' in tool) {
      result = await host.step.invoke(id, tool.workflow, tool.input ? tool.input(args) : args);
    } else {
      result = await host.step.run(id, (signal) => tool.run(args, signal), {
        retry: { maxAttempts: 1, ...tool.retry }, ...(tool.timeoutMs && { timeoutMs: tool.timeoutMs }),
      });
    }
    return { content: truncate(typeof result === 'string' ? result : JSON.stringify(result ?? null)), isError: false };
  } catch (err) {
    if (err instanceof Suspend) throw err;
    const e = err instanceof StepFailed && err.stepError ? err.stepError : toStoredError(err);
    return error(`${e.name}: ${e.message}`);
  }
}

async function patchTool(host: AgentHost, id: string, call: ToolCall, error: (m: string) => { content: string; isError: boolean }) {
  const problems = formProblems(PATCH_PARAMETERS, call.arguments);
  if (problems.length) return error(`invalid arguments: ${problems.join('; ')}`);
  const args = call.arguments as { operations: unknown[]; description?: string };
  try {
    const result = await host.step.run(id, () => {
      if (!host.patchRun) throw new Error('this run cannot be patched');
      return host.patchRun(id, args.operations, args.description ?? null);
    }, { retry: { maxAttempts: 1 } });
    return { content: JSON.stringify({ applied: true, ...(result as object) }), isError: false };
  } catch (err) {
    if (err instanceof Suspend) throw err;
    const e = err instanceof StepFailed && err.stepError ? err.stepError : toStoredError(err);
    return error(`${e.name}: ${e.message}`);
  }
}

function truncate(s: string): string {
  return s.length > TOOL_RESULT_CHARS ? `${s.slice(0, TOOL_RESULT_CHARS)}… (${s.length - TOOL_RESULT_CHARS} more characters cut)` : s;
}
