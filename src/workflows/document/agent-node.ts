/**
 * The document node `agent` (the original's agent-runner node): `config.task` (or legacy
 * `prompt`) is the agent's input, `config.tools` lists HTTP tools (`url` with `{argument}`
 * placeholders) and child workflows, `config.output_schema` the answer's JSON Schema, and with
 * `allow_patches: true` the agent may patch the running workflow (agent-patches.ts). The result
 * keeps the original's fields (`status`, `type`, `message`) next to step.agent's.
 */
import type { AgentTool } from '../agent-types.ts';
import type { StepApi } from '../define.ts';

interface ToolConfig {
  name: string;
  description?: string;
  type?: 'http' | 'workflow';
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  workflow?: string;
  parameters?: Record<string, unknown>;
}

/** An HTTP tool's URL with `{name}` replaced by the encoded argument; other methods than GET send the arguments as JSON. */
export function toolRequest(t: ToolConfig, args: Record<string, unknown>) {
  const url = t.url!.replace(/\{([a-zA-Z0-9_]+)\}/g, (_, k: string) => encodeURIComponent(args?.[k] === undefined ? '' : String(args[k])));
  const method = (t.method ?? 'GET').toUpperCase();
  return { url, method, ...(t.headers && { headers: t.headers }), ...(method !== 'GET' && method !== 'HEAD' && { body: args ?? {} }) };
}

export async function agentNode(id: string, config: Record<string, any>, step: StepApi): Promise<unknown> {
  const tools: Record<string, AgentTool> = {};
  for (const t of (config.tools ?? []) as ToolConfig[]) {
    const base = { description: t.description ?? '', ...(t.parameters && { parameters: t.parameters }) };
    tools[t.name] = t.type === 'workflow' ? { ...base, workflow: t.workflow! } : { ...base, http: (args) => toolRequest(t, args) };
  }
  const task = String(config.task ?? config.prompt);
  const result = await step.agent(id, {
    input: config.input === undefined ? task : `${task}\n\nInput:\n${JSON.stringify(config.input)}`,
    tools,
    ...(typeof config.model === 'string' && { model: config.model }),
    ...(typeof config.system === 'string' && { system: config.system }),
    ...(config.output_schema && { output: config.output_schema }),
    ...(config.max_turns && { maxTurns: config.max_turns }),
    ...(config.token_budget && { tokenBudget: config.token_budget }),
    ...(config.max_output_tokens && { maxOutputTokens: config.max_output_tokens }),
    ...(config.allow_patches === true && { allowPatches: true }),
  });
  return {
    status: 'completed', type: config.output_schema ? 'structured_output' : 'text_response', message: result.text,
    output: result.output, turns: result.turns, usage: result.usage, tool_calls: result.toolCalls,
  };
}
