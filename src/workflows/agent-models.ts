/**
 * The models an agent-runner calls: `builtin` (deterministic, offline), `openai` (chat
 * completions with tools, streamed, official SDK, any compatible base URL such as the LLM
 * emulator) and `anthropic` (messages with tools, streamed as Messages API events, official SDK). Provider, keys, base URLs and the
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
      // An object answer comes as the input of a `final_answer` tool (readAnthropicStream).
      const final = request.outputSchema?.type === 'object' ? [{ name: FINAL_TOOL, description: 'Give your final answer.', parameters: request.outputSchema }] : [];
      const tools = [...request.tools, ...final];
      try {
        const stream = await client.messages.create({
          model, max_tokens: request.maxOutputTokens, system: request.system, messages: toAnthropic(request.messages) as never, stream: true,
          ...(tools.length && { tools: tools.map((t) => ({ name: t.name, description: t.description, input_schema: { type: 'object' as const, ...t.parameters } })) }),
        }, { signal });
        return { provider: 'anthropic', model, ...(await readAnthropicStream(stream, final.length > 0, onToken)) };
      } catch (err) {
        throw fromSdkError('anthropic', err, APIError);
      }
    },
  };
}

type AnthropicEvent = import('@anthropic-ai/sdk').Anthropic.Messages.RawMessageStreamEvent;

/**
 * A Messages API event stream into a reply: text deltas go to `onToken` as they come, and so does
 * the input JSON of the `final_answer` tool (the structured answer); other tool inputs are
 * gathered from their `input_json_delta`s and parsed at their block's end.
 */
async function readAnthropicStream(stream: AsyncIterable<AnthropicEvent>, structured: boolean, onToken: (delta: string) => void) {
  const blocks: ({ kind: 'text'; text: string } | { kind: 'tool'; id: string; name: string; json: string })[] = [];
  let usage: Usage = { inputTokens: 0, outputTokens: 0 };
  let finishReason = 'end_turn';
  for await (const event of stream) {
    switch (event.type) {
      case 'message_start':
        usage = { inputTokens: event.message.usage.input_tokens, outputTokens: event.message.usage.output_tokens };
        break;
      case 'content_block_start': {
        const b = event.content_block;
        if (b.type === 'text') {
          blocks[event.index] = { kind: 'text', text: b.text };
          if (b.text) onToken(b.text);
        } else if (b.type === 'tool_use') blocks[event.index] = { kind: 'tool', id: b.id, name: b.name, json: '' };
        break;
      }
      case 'content_block_delta': {
        const b = blocks[event.index];
        if (b?.kind === 'text' && event.delta.type === 'text_delta') {
          b.text += event.delta.text;
          onToken(event.delta.text);
        } else if (b?.kind === 'tool' && event.delta.type === 'input_json_delta') {
          b.json += event.delta.partial_json;
          if (structured && b.name === FINAL_TOOL) onToken(event.delta.partial_json);
        }
        break;
      }
      case 'message_delta':
        if (event.delta.stop_reason) finishReason = event.delta.stop_reason;
        // message_delta's usage is cumulative: it replaces message_start's count.
        usage = { inputTokens: event.usage.input_tokens ?? usage.inputTokens, outputTokens: event.usage.output_tokens };
        break;
    }
  }
  let text = '';
  let answer: string | undefined;
  const toolCalls: ToolCall[] = [];
  for (const b of blocks) {
    if (!b) continue;
    if (b.kind === 'text') text += b.text;
    else if (structured && b.name === FINAL_TOOL) answer = JSON.stringify(parseArguments(b.json));
    else toolCalls.push({ id: b.id, name: b.name, arguments: parseArguments(b.json) });
  }
  // Claude has no JSON mode: an object answer is the input of the final_answer tool.
  if (answer !== undefined && toolCalls.length === 0) text = answer;
  return { text, toolCalls, usage, finishReason };
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
