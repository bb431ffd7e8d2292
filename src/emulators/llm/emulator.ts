/**
 * A local LLM API with the two wire formats Nova's providers speak: OpenAI chat completions
 * (`POST /v1/chat/completions`, JSON mode) and Anthropic messages (`POST /v1/messages`, forced
 * tool call). Answers come from a responder function; latency, 429s with Retry-After, server
 * errors and bad output (not JSON, or JSON that breaks the schema) are configurable or injected
 * one by one. Requests that offer tools (an agent's turn) get tool calls in the same formats:
 * OpenAI `tool_calls` and Anthropic `tool_use` blocks, whole or, with `stream: true`, as each
 * API's server-sent events (agent-wire.ts).
 * Tests and benchmarks drive the real SDK paths over loopback.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../nylas/generate.ts';
import { checkOptions, type AgentTurnRequest, type CompletionRequest, type LlmEmulatorOptions, type LlmFault } from './options.ts';
import { builtinTurn, FINAL_TOOL } from '../../workflows/agent-builtin.ts';
import { anthropicTurn, openAiTurn, toolCallId, type SseFrame } from './agent-wire.ts';
import type { AgentMessage } from '../../workflows/agent-types.ts';

export interface LlmEmulatorStats {
  requests: number;
  completions: number;
  rateLimited: number;
  serverErrors: number;
  malformed: number;
  invalid: number;
  unauthorized: number;
}

type Stream = { frames: SseFrame[]; done?: string; request: AgentTurnRequest };
type Answer = { status: number; body: unknown; headers?: Record<string, string>; sse?: Stream };

const defaultRespond = (r: CompletionRequest) => ({ echo: r.messages.find((m) => m.role === 'user')?.content.slice(0, 200) ?? '' });

export class LlmEmulator {
  private server: Server | undefined;
  private readonly injected: { fault: LlmFault; count: number }[] = [];
  private readonly counters: LlmEmulatorStats = { requests: 0, completions: 0, rateLimited: 0, serverErrors: 0, malformed: 0, invalid: 0, unauthorized: 0 };
  private window = { startedAt: 0, count: 0 };
  private dice: () => number;
  /** Every completion request received, oldest first (tests read prompts and repairs from it). */
  readonly received: CompletionRequest[] = [];
  /** Tool-calling requests received (OpenAI `tools` or Anthropic non-forced tools), oldest first, bounded. */
  readonly agentRequests: AgentTurnRequest[] = [];
  /** performance.now() when each streamed answer's first content chunk was written (the last 1,000). */
  readonly firstTokenAt: number[] = [];
  /** Streamed answers begun in all (firstTokenAt keeps only the last 1,000 of them). */
  streamsBegun = 0;
  /** Base URL for clients, `http://host:port/v1`, once started. */
  url = '';

  constructor(private readonly options: LlmEmulatorOptions = {}) {
    checkOptions(options);
    this.dice = seededRandom(options.seed ?? 1);
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.url = `http://${host}:${(server.address() as AddressInfo).port}/v1`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Answers the next `count` completion requests with `fault`, before any configured rate. */
  inject(fault: LlmFault, count = 1): void {
    this.injected.push({ fault, count });
  }

  stats(): LlmEmulatorStats {
    return { ...this.counters };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    const path = (req.url ?? '/').split('?')[0];
    let answer: Answer;
    try {
      const raw = await readBody(req);
      if (req.method === 'GET' && path === '/v1/models') answer = { status: 200, body: { object: 'list', data: [{ id: 'emulator', object: 'model', owned_by: 'nova' }] } };
      else if (req.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/v1/messages')) answer = openAiError(404, 'not_found_error', `no route ${req.method} ${path}`);
      else answer = await this.complete(path === '/v1/messages' ? 'anthropic' : 'openai', req, raw);
    } catch (err) {
      answer = openAiError(400, 'invalid_request_error', err instanceof Error ? err.message : String(err));
    }
    if (res.destroyed) return;
    if (answer.sse) return this.stream(res, answer.sse);
    res.writeHead(answer.status, { 'content-type': 'application/json', 'x-request-id': `req_${randomUUID()}`, ...answer.headers });
    res.end(JSON.stringify(answer.body));
  }

  private async complete(api: 'openai' | 'anthropic', req: IncomingMessage, raw: string): Promise<Answer> {
    const fail = (status: number, type: string, message: string, headers?: Record<string, string>) =>
      api === 'openai' ? openAiError(status, type, message, headers) : anthropicError(status, type, message, headers);
    const key = this.options.apiKey;
    // Anthropic clients send x-api-key, newer SDKs a Bearer token: accept either there.
    const bearer = req.headers.authorization?.replace(/^Bearer\s+/i, '');
    const presented = api === 'openai' ? bearer : (req.headers['x-api-key'] ?? bearer);
    if (key !== undefined && presented !== key) {
      this.counters.unauthorized++;
      return fail(401, 'authentication_error', 'invalid api key');
    }
    const arrivedAt = performance.now();
    const body = JSON.parse(raw) as Record<string, unknown>;
    if (isAgentRequest(api, body)) return this.agentTurn(api, body, arrivedAt, fail);
    const request = parseRequest(api, body);
    this.received.push(request);
    // Bounded: a long benchmark must not grow the emulator without end.
    if (this.received.length > 1000) this.received.splice(0, this.received.length - 1000);
    const fault = this.nextFault();
    if (fault === 'rate_limit' || fault === 'server_error') await sleep(this.options.latencyMs ?? 0);
    if (fault === 'rate_limit') {
      this.counters.rateLimited++;
      const seconds = String(this.options.retryAfterSeconds ?? 1);
      return fail(429, 'rate_limit_error', 'Rate limit reached for requests', { 'retry-after': seconds });
    }
    if (fault === 'server_error') {
      this.counters.serverErrors++;
      return fail(500, 'api_error', 'The server had an error while processing your request');
    }
    this.counters.completions++;
    let output: unknown = await (this.options.respond ?? defaultRespond)(request);
    let text: string | undefined;
    if (fault === 'malformed') {
      this.counters.malformed++;
      // Cut mid-object, as a model that ran out of tokens leaves it.
      text = JSON.stringify(output).slice(0, 40);
    } else if (fault === 'invalid') {
      this.counters.invalid++;
      output = { ...(output as object), summary: 42, sentiment: 'great', actionItems: 'none' };
    }
    text ??= JSON.stringify(output);
    // The configured latency is the whole answer time, as a model's is: the emulator's own work counts in it.
    const wait = (this.options.latencyMs ?? 0) - (performance.now() - arrivedAt);
    if (wait > 0) await sleep(wait);
    const usage = { input: Math.ceil((request.system.length + request.messages.reduce((n, m) => n + m.content.length, 0)) / 4), output: Math.ceil(text.length / 4) };
    return api === 'openai' ? openAiAnswer(request.model, text, usage) : anthropicAnswer(request.model, text, output, fault === 'malformed', usage, request.tool);
  }

  /**
   * A server-sent event stream: OpenAI's bare `data:` chunks ending in `[DONE]`, or Anthropic's
   * named events. Answer pieces are paced by `tokenDelayMs` and may be held by `holdToken`.
   */
  private async stream(res: ServerResponse, sse: Stream): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': `req_${randomUUID()}` });
    const delayMs = this.options.tokenDelayMs ?? 0;
    let token = 0;
    for (const frame of sse.frames) {
      if (frame.token) await this.options.holdToken?.(sse.request, token);
      if (res.destroyed) return;
      res.write(`${frame.event ? `event: ${frame.event}\n` : ''}data: ${JSON.stringify(frame.data)}\n\n`);
      if (!frame.token) continue;
      if (token++ === 0) {
        this.streamsBegun++;
        this.firstTokenAt.push(performance.now());
        if (this.firstTokenAt.length > 1000) this.firstTokenAt.splice(0, this.firstTokenAt.length - 1000);
      }
      if (delayMs > 0) await sleep(delayMs);
    }
    res.end(sse.done ? `data: ${sse.done}\n\n` : undefined);
  }

  /** A tool-calling turn: the responder's (default: the builtin agent policy) answer in the caller's wire format. */
  private async agentTurn(api: 'openai' | 'anthropic', body: Record<string, unknown>, arrivedAt: number, fail: (status: number, type: string, message: string, headers?: Record<string, string>) => Answer): Promise<Answer> {
    const request = parseAgentRequest(api, body);
    this.agentRequests.push(request);
    if (this.agentRequests.length > 1000) this.agentRequests.splice(0, this.agentRequests.length - 1000);
    await this.options.hold?.(request);
    const fault = this.nextFault();
    if (fault === 'rate_limit' || fault === 'server_error') {
      await sleep(this.options.latencyMs ?? 0);
      if (fault === 'rate_limit') {
        this.counters.rateLimited++;
        return fail(429, 'rate_limit_error', 'Rate limit reached for requests', { 'retry-after': String(this.options.retryAfterSeconds ?? 1) });
      }
      this.counters.serverErrors++;
      return fail(500, 'api_error', 'The server had an error while processing your request');
    }
    this.counters.completions++;
    const turn = (this.options.respondAgent ?? builtinTurn)(request);
    const calls = turn.toolCalls.map((c) => ({ ...c, id: toolCallId(api) }));
    const chars = request.system.length + request.messages.reduce((x, m) => x + m.content.length, 0);
    const usage = { input: Math.ceil(chars / 4), output: Math.ceil((turn.text.length + calls.reduce((x, c) => x + JSON.stringify(c.arguments).length, 0)) / 4) };
    // Streamed: the latency is the time to the first token; else the whole answer's time.
    const wait = (this.options.latencyMs ?? 0) - (performance.now() - arrivedAt);
    if (wait > 0) await sleep(wait);
    const model = typeof body.model === 'string' ? body.model : 'emulator';
    const wire = api === 'openai'
      ? openAiTurn(model, turn, calls, usage, request.stream, (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true)
      : anthropicTurn(model, turn, calls, usage, request.stream, request.tools.some((t) => t.name === FINAL_TOOL) ? FINAL_TOOL : undefined);
    return wire.sse ? { status: 200, body: null, sse: { ...wire.sse, request } } : { status: 200, body: wire.body };
  }

  private nextFault(): LlmFault | undefined {
    const head = this.injected[0];
    if (head) {
      if (--head.count <= 0) this.injected.shift();
      return head.fault;
    }
    const o = this.options;
    if (o.rateLimitPerMinute !== undefined) {
      const now = Date.now();
      if (now - this.window.startedAt >= 60_000) this.window = { startedAt: now, count: 0 };
      if (++this.window.count > o.rateLimitPerMinute) return 'rate_limit';
    }
    const roll = this.dice();
    let edge = o.rateLimitRate ?? 0;
    if (roll < edge) return 'rate_limit';
    edge += o.malformedRate ?? 0;
    if (roll < edge) return 'malformed';
    edge += o.invalidRate ?? 0;
    if (roll < edge) return 'invalid';
    return undefined;
  }
}

const text = (v: unknown): string => {
  if (typeof v === 'string') return v;
  // Anthropic content blocks: keep the text blocks.
  if (Array.isArray(v)) return v.map((b) => (b && typeof b === 'object' && 'text' in b ? String(b.text) : '')).join('');
  return '';
};

function parseRequest(api: 'openai' | 'anthropic', body: Record<string, unknown>): CompletionRequest {
  if (!Array.isArray(body.messages)) throw new Error('messages: required array');
  const all = (body.messages as { role?: unknown; content?: unknown }[]).map((m) => ({ role: String(m.role), content: text(m.content) }));
  const model = typeof body.model === 'string' ? body.model : 'emulator';
  if (api === 'openai') {
    const format = body.response_format as { type?: string } | undefined;
    return {
      api, model, system: all.filter((m) => m.role === 'system').map((m) => m.content).join('\n'),
      messages: all.filter((m) => m.role !== 'system'), json: format?.type === 'json_object' || format?.type === 'json_schema',
    };
  }
  // The forced tool's name comes back on the tool call, as Anthropic's does.
  const choice = body.tool_choice as { name?: unknown } | undefined;
  const tool = typeof choice?.name === 'string' ? choice.name : undefined;
  return { api, model, system: text(body.system), messages: all, json: Array.isArray(body.tools) && body.tools.length > 0, ...(tool && { tool }) };
}

/** Tools the model may choose among (not Anthropic's forced extraction tool). */
function isAgentRequest(api: 'openai' | 'anthropic', body: Record<string, unknown>): boolean {
  if (!Array.isArray(body.tools) || body.tools.length === 0) return false;
  return api === 'openai' || (body.tool_choice as { type?: string } | undefined)?.type !== 'tool';
}

function parseAgentRequest(api: 'openai' | 'anthropic', body: Record<string, unknown>): AgentTurnRequest {
  if (!Array.isArray(body.messages)) throw new Error('messages: required array');
  const tools = (body.tools as Record<string, any>[]).map((t) => {
    const f = api === 'openai' ? t.function ?? {} : t;
    if (typeof f.name !== 'string') throw new Error('tools: every tool needs a name');
    return { name: f.name as string, description: String(f.description ?? ''), parameters: (api === 'openai' ? f.parameters : f.input_schema) ?? {} };
  });
  const names = new Map<string, string>();
  const messages: AgentMessage[] = [];
  const system: string[] = api === 'anthropic' ? [text(body.system)] : [];
  for (const m of body.messages as Record<string, any>[]) {
    if (m.role === 'system') system.push(text(m.content));
    else if (m.role === 'tool') messages.push({ role: 'tool', toolCallId: String(m.tool_call_id), name: names.get(String(m.tool_call_id)) ?? '', content: text(m.content) });
    else if (m.role === 'assistant') {
      const calls = api === 'openai'
        ? (m.tool_calls ?? []).map((c: any) => ({ id: String(c.id), name: String(c.function?.name), arguments: safeJson(c.function?.arguments) }))
        : (Array.isArray(m.content) ? m.content : []).filter((b: any) => b?.type === 'tool_use').map((b: any) => ({ id: String(b.id), name: String(b.name), arguments: b.input }));
      for (const c of calls) names.set(c.id, c.name);
      messages.push({ role: 'assistant', content: text(m.content), ...(calls.length && { toolCalls: calls }) });
    } else if (api === 'anthropic' && Array.isArray(m.content) && m.content.some((b: any) => b?.type === 'tool_result')) {
      for (const b of m.content) {
        if (b?.type === 'tool_result') messages.push({ role: 'tool', toolCallId: String(b.tool_use_id), name: names.get(String(b.tool_use_id)) ?? '', content: text(b.content), ...(b.is_error && { isError: true }) });
      }
    } else messages.push({ role: 'user', content: text(m.content) });
  }
  const format = body.response_format as { type?: string; json_schema?: { schema?: Record<string, unknown> } } | undefined;
  return {
    api, model: typeof body.model === 'string' ? body.model : 'emulator', system: system.filter(Boolean).join('\n'), messages, tools,
    outputSchema: format?.type === 'json_schema' ? format.json_schema?.schema ?? null : null, stream: body.stream === true,
  };
}

function safeJson(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? {};
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function openAiAnswer(model: string, content: string, usage: { input: number; output: number }): Answer {
  return {
    status: 200,
    body: {
      id: `chatcmpl-${randomUUID()}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
    },
  };
}

function anthropicAnswer(model: string, content: string, output: unknown, asText: boolean, usage: { input: number; output: number }, tool: string | undefined): Answer {
  // A tool call carries an object; output cut short cannot be one, so it comes back as text.
  const block = asText || typeof output !== 'object' || output === null
    ? { type: 'text', text: content }
    : { type: 'tool_use', id: `toolu_${randomUUID().replace(/-/g, '')}`, name: tool ?? 'record_extraction', input: output };
  return {
    status: 200,
    body: {
      id: `msg_${randomUUID().replace(/-/g, '')}`, type: 'message', role: 'assistant', model, content: [block],
      stop_reason: block.type === 'tool_use' ? 'tool_use' : 'end_turn', stop_sequence: null,
      usage: { input_tokens: usage.input, output_tokens: usage.output },
    },
  };
}

function openAiError(status: number, type: string, message: string, headers?: Record<string, string>): Answer {
  return { status, body: { error: { message, type, param: null, code: status === 429 ? 'rate_limit_exceeded' : null } }, ...(headers && { headers }) };
}

function anthropicError(status: number, type: string, message: string, headers?: Record<string, string>): Answer {
  return { status, body: { type: 'error', error: { type, message } }, ...(headers && { headers }) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
