/**
 * The models an agent-runner calls: `builtin` (deterministic, offline), `openai` (chat
 * completions with tools, streamed, official SDK, any compatible base URL such as the LLM
 * emulator) and `anthropic` (messages with tools, official SDK). Provider, keys, base URLs and the
 * default model come from the LLM layer's variables (LLM_PROVIDER, OPENAI_*, ANTHROPIC_*).
 */
import { ConfigError } from '../config.ts';
import type { ExtractionConfig } from '../extraction/config.ts';
import { fromSdkError } from '../extraction/llm.ts';
import { checkProviderConfig, resolveProvider } from '../extraction/providers/index.ts';
import { builtinTurn, FINAL_TOOL } from './agent-builtin.ts';
import type { AgentMessage, ModelReply, ModelRequest, ToolCall, Usage } from './agent-types.ts';

export interface AgentModel {
  readonly provider: 'builtin' | 'openai' | 'anthropic';
  readonly model: string;
  /** One call, no retries; `onToken` gets the answer's text as it streams. Throws ProviderError for the provider's answers. */
  call(request: ModelRequest, onToken: (delta: string) => void, signal: AbortSignal): Promise<Omit<ModelReply, 'durationMs'>>;
}

type LlmConfig = Partial<ExtractionConfig>;

/** `builtin`, `openai[:model]`, `anthropic[:model]`, or null for the configured provider. */
export function parseModelName(name: string | null, config: LlmConfig): { provider: AgentModel['provider']; model: string } {
  const [head, ...rest] = (name ?? '').split(':');
  const provider = (head || resolveProvider({ OPENAI_BASE_URL: 'https://api.openai.com/v1', ...config } as ExtractionConfig)) as string;
  if (provider !== 'builtin' && provider !== 'openai' && provider !== 'anthropic') {
    throw new ConfigError([{ variable: 'model', message: `unknown model provider ${JSON.stringify(provider)} (builtin, openai:<model> or anthropic:<model>)` }]);
  }
  const model = rest.join(':') || (provider === 'openai' ? config.OPENAI_MODEL ?? 'gpt-4o-mini' : provider === 'anthropic' ? config.ANTHROPIC_MODEL ?? 'claude-haiku-4-5' : 'builtin');
  return { provider, model };
}

export async function createAgentModel(name: string | null, config: LlmConfig): Promise<AgentModel> {
  const { provider, model } = parseModelName(name, config);
  if (provider === 'builtin') return builtinModel();
  const full = { OPENAI_BASE_URL: 'https://api.openai.com/v1', ...config, LLM_PROVIDER: provider } as ExtractionConfig;
  const problems = checkProviderConfig(full);
  if (problems.length) throw new ConfigError(problems);
  return provider === 'openai' ? openAiModel(full, model) : anthropicModel(full, model);
}

/** Rough token count of text (4 characters a token), for the builtin's usage and budgets. */
export const estimate = (s: string) => Math.ceil(s.length / 4);

function builtinModel(): AgentModel {
  return {
    provider: 'builtin',
    model: 'builtin',
    async call(request, onToken) {
      const turn = builtinTurn(request);
      const n = request.messages.filter((m) => m.role === 'assistant').length + 1;
      for (const piece of turn.text.match(/\S+\s*/g) ?? []) onToken(piece);
      const input = estimate(request.system) + request.messages.reduce((s, m) => s + estimate(m.content), 0);
      return {
        provider: 'builtin', model: 'builtin', text: turn.text,
        toolCalls: turn.toolCalls.map((c, k) => ({ ...c, id: `call_${n}_${k + 1}` })),
        usage: { inputTokens: input, outputTokens: estimate(turn.text) + turn.toolCalls.reduce((s, c) => s + estimate(JSON.stringify(c.arguments)), 0) },
        finishReason: turn.toolCalls.length ? 'tool_calls' : 'stop',
      };
    },
  };
}

function parseArguments(raw: string): unknown {
  if (!raw.trim()) return {};
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

const OFFICIAL_OPENAI = /^https:\/\/api\.openai\.com(\/|$)/;

async function openAiModel(config: ExtractionConfig, model: string): Promise<AgentModel> {
  const { default: OpenAI, APIError } = await import('openai');
  const client = new OpenAI({ apiKey: config.OPENAI_API_KEY ?? 'unused', baseURL: config.OPENAI_BASE_URL, maxRetries: 0 });
  const limitField = OFFICIAL_OPENAI.test(config.OPENAI_BASE_URL) ? 'max_completion_tokens' : 'max_tokens';
  return {
    provider: 'openai',
    model,
    async call(request, onToken, signal) {
      const params: Record<string, unknown> = {
        model,
        messages: [{ role: 'system', content: request.system }, ...request.messages.map(toOpenAi)],
        stream: true,
        stream_options: { include_usage: true },
        [limitField]: request.maxOutputTokens,
      };
      if (request.tools.length) params.tools = request.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
      if (request.outputSchema) params.response_format = { type: 'json_schema', json_schema: { name: 'agent_output', schema: request.outputSchema, strict: false } };
      try {
        const stream = await client.chat.completions.create(params as never, { signal }) as unknown as AsyncIterable<any>;
        let text = '';
        let finishReason = 'stop';
        let usage: Usage = { inputTokens: 0, outputTokens: 0 };
        const calls: { id: string; name: string; args: string }[] = [];
        for await (const chunk of stream) {
          if (chunk.usage) usage = { inputTokens: chunk.usage.prompt_tokens ?? 0, outputTokens: chunk.usage.completion_tokens ?? 0 };
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          const delta = choice.delta ?? {};
          if (typeof delta.content === 'string' && delta.content) {
            text += delta.content;
            onToken(delta.content);
          }
          for (const tc of delta.tool_calls ?? []) {
            const c = (calls[tc.index ?? 0] ??= { id: '', name: '', args: '' });
            if (tc.id) c.id = tc.id;
            if (tc.function?.name) c.name += tc.function.name;
            if (tc.function?.arguments) c.args += tc.function.arguments;
          }
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
        const toolCalls: ToolCall[] = calls.filter(Boolean).map((c, k) => ({ id: c.id || `call_${k + 1}`, name: c.name, arguments: parseArguments(c.args) }));
        return { provider: 'openai', model, text, toolCalls, usage, finishReason };
      } catch (err) {
        throw fromSdkError('openai', err, APIError);
      }
    },
  };
}

function toOpenAi(m: AgentMessage): Record<string, unknown> {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  if (m.role === 'assistant') {
    return {
      role: 'assistant', content: m.content || null,
      ...(m.toolCalls?.length && { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) } })) }),
    };
  }
  return { role: 'user', content: m.content };
}

async function anthropicModel(config: ExtractionConfig, model: string): Promise<AgentModel> {
  const { default: Anthropic, APIError } = await import('@anthropic-ai/sdk');
  const client = new Anthropic({ apiKey: config.ANTHROPIC_API_KEY ?? 'unused', ...(config.ANTHROPIC_BASE_URL && { baseURL: config.ANTHROPIC_BASE_URL }), maxRetries: 0 });
  return {
    provider: 'anthropic',
    model,
    async call(request, onToken, signal) {
      // Claude has no JSON mode: an object answer comes as the input of a `final_answer` tool.
      const final = request.outputSchema?.type === 'object' ? [{ name: FINAL_TOOL, description: 'Give your final answer.', parameters: request.outputSchema }] : [];
      const tools = [...request.tools, ...final];
      try {
        const res = await client.messages.create({
          model, max_tokens: request.maxOutputTokens, system: request.system, messages: toAnthropic(request.messages) as never,
          ...(tools.length && { tools: tools.map((t) => ({ name: t.name, description: t.description, input_schema: { type: 'object' as const, ...t.parameters } })) }),
        }, { signal });
        let text = '';
        let answer: string | undefined;
        const toolCalls: ToolCall[] = [];
        for (const block of res.content) {
          if (block.type === 'text') text += block.text;
          else if (block.type === 'tool_use' && block.name === FINAL_TOOL && final.length) answer = JSON.stringify(block.input);
          else if (block.type === 'tool_use') toolCalls.push({ id: block.id, name: block.name, arguments: block.input });
        }
        if (answer !== undefined && toolCalls.length === 0) text = answer;
        if (text) onToken(text);
        return {
          provider: 'anthropic', model, text, toolCalls, finishReason: res.stop_reason ?? 'end_turn',
          usage: { inputTokens: res.usage.input_tokens, outputTokens: res.usage.output_tokens },
        };
      } catch (err) {
        throw fromSdkError('anthropic', err, APIError);
      }
    },
  };
}

/** Anthropic turns: tool results ride in the next user turn as tool_result blocks. */
function toAnthropic(messages: AgentMessage[]): unknown[] {
  const out: { role: string; content: unknown }[] = [];
  for (const m of messages) {
    if (m.role === 'tool') {
      const block = { type: 'tool_result', tool_use_id: m.toolCallId, content: m.content, ...(m.isError && { is_error: true }) };
      const last = out[out.length - 1];
      if (last?.role === 'user' && Array.isArray(last.content)) last.content.push(block);
      else out.push({ role: 'user', content: [block] });
    } else if (m.role === 'assistant') {
      const blocks: unknown[] = m.content ? [{ type: 'text', text: m.content }] : [];
      for (const c of m.toolCalls ?? []) blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: typeof c.arguments === 'object' && c.arguments !== null ? c.arguments : {} });
      out.push({ role: 'assistant', content: blocks });
    } else {
      out.push({ role: 'user', content: m.content });
    }
  }
  return out;
}
