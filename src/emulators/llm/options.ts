import type { BuiltinTurn } from '../../workflows/agent-builtin.ts';
import type { AgentMessage, ToolDeclaration } from '../../workflows/agent-types.ts';

/** What a completion request asked for, as the responder sees it. */
export interface CompletionRequest {
  api: 'openai' | 'anthropic';
  model: string;
  system: string;
  /** The conversation without the system prompt, in order. */
  messages: { role: string; content: string }[];
  /** Whether the client asked for a JSON object (OpenAI JSON mode, or an Anthropic tool call). */
  json: boolean;
  /** Anthropic: the tool the request forces (its answer is a call of that tool). */
  tool?: string;
}

/** A tool-calling request (an agent's turn), provider-neutral. */
export interface AgentTurnRequest {
  api: 'openai' | 'anthropic';
  model: string;
  system: string;
  messages: AgentMessage[];
  tools: ToolDeclaration[];
  /** OpenAI `response_format: {type: json_schema}`'s schema, else null. */
  outputSchema: Record<string, unknown> | null;
  stream: boolean;
}

/** A fault the emulator can answer a request with. */
export type LlmFault = 'rate_limit' | 'server_error' | 'malformed' | 'invalid';

export interface LlmEmulatorOptions {
  /** Builds the answer object; default: an object echoing the first user message. */
  respond?: (request: CompletionRequest) => unknown | Promise<unknown>;
  /** Answers tool-calling requests; default: the builtin agent policy (each declared tool once, then a schema-valid answer). */
  respondAgent?: (request: AgentTurnRequest) => BuiltinTurn;
  /** Awaited before a tool-calling request is answered (tests hold an answer back with it). */
  hold?: (request: AgentTurnRequest) => Promise<void> | void;
  /** Awaited before the `index`-th answer piece of a streamed turn is written (tests hold a stream mid-answer with it). */
  holdToken?: (request: AgentTurnRequest, index: number) => Promise<void> | void;
  /** Pause between streamed content chunks (after the latency, which is the time to the first token). */
  tokenDelayMs?: number;
  /** Milliseconds added to every answer. */
  latencyMs?: number;
  /** Require this key (OpenAI: Authorization: Bearer; Anthropic: x-api-key or Bearer). */
  apiKey?: string;
  /** Requests per minute before 429 (a fixed one-minute window); unset = unlimited. */
  rateLimitPerMinute?: number;
  /** Retry-After sent with every 429. */
  retryAfterSeconds?: number;
  /** Fractions of completions answered with output that is not JSON / JSON that breaks the schema. */
  malformedRate?: number;
  invalidRate?: number;
  /** Fraction of requests answered 429 regardless of the window. */
  rateLimitRate?: number;
  /** Seed of the fault dice, so a run with rates repeats exactly. */
  seed?: number;
}

export function checkOptions(o: LlmEmulatorOptions): void {
  for (const key of ['malformedRate', 'invalidRate', 'rateLimitRate'] as const) {
    const v = o[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${key} must be between 0 and 1`);
  }
  for (const key of ['latencyMs', 'tokenDelayMs', 'rateLimitPerMinute', 'retryAfterSeconds'] as const) {
    const v = o[key];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`${key} must be a number ≥ 0`);
  }
}
