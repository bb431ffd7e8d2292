/**
 * A local LLM API with the two wire formats Nova's providers speak: OpenAI chat completions
 * (`POST /v1/chat/completions`, JSON mode) and Anthropic messages (`POST /v1/messages`, forced
 * tool call). Answers come from a responder function; latency, 429s with Retry-After, server
 * errors and bad output (not JSON, or JSON that breaks the schema) are configurable or injected
 * one by one, so tests and benchmarks drive the real SDK paths over loopback.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../nylas/generate.ts';
import { checkOptions, type CompletionRequest, type LlmEmulatorOptions, type LlmFault } from './options.ts';

export interface LlmEmulatorStats {
  requests: number;
  completions: number;
  rateLimited: number;
  serverErrors: number;
  malformed: number;
  invalid: number;
  unauthorized: number;
}

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

const defaultRespond = (r: CompletionRequest) => ({ echo: r.messages.find((m) => m.role === 'user')?.content.slice(0, 200) ?? '' });

export class LlmEmulator {
  private server: Server | undefined;
  private readonly injected: { fault: LlmFault; count: number }[] = [];
  private readonly counters: LlmEmulatorStats = { requests: 0, completions: 0, rateLimited: 0, serverErrors: 0, malformed: 0, invalid: 0, unauthorized: 0 };
  private window = { startedAt: 0, count: 0 };
  private dice: () => number;
  /** Every completion request received, oldest first (tests read prompts and repairs from it). */
  readonly received: CompletionRequest[] = [];
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
    const request = parseRequest(api, JSON.parse(raw) as Record<string, unknown>);
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
