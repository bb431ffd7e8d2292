import { setTimeout as delay } from 'node:timers/promises';
import type { RateLimit, RateLimiter } from '../runtime/rate-limit.ts';
import type { ExtractionInput, Extractor, ExtractOutcome, Usage } from './extractor.ts';
import { jsonIn, repairPrompt, systemPrompt, userPrompt } from './prompt.ts';
import { describeIssues, extractionOutput, PROMPT_VERSION } from './schema.ts';
import { estimateTokens } from './text.ts';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  system: string;
  messages: ChatMessage[];
  maxOutputTokens: number;
  signal?: AbortSignal | undefined;
}

/** A chat-completion API behind its official SDK: the only thing that differs between providers. */
export interface ChatModel {
  readonly provider: 'openai' | 'anthropic';
  readonly model: string;
  /** One request, no retries (LlmExtractor retries with the shared rate limit). Throws LlmApiError. */
  complete(request: ChatRequest): Promise<{ text: string; usage: Usage }>;
}

/** A provider's error answer, normalized from either SDK. status 0: no answer (network, timeout). */
export class LlmApiError extends Error {
  override name = 'LlmApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 409 || this.status === 429 || this.status >= 500;
  }
}

/** Reads Retry-After (seconds or an HTTP date) and OpenAI's retry-after-ms from response headers. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export interface LlmLimits {
  requestsPerMinute: number;
  tokensPerMinute: number;
}

export interface LlmExtractorOptions {
  model: ChatModel;
  /** Shared token buckets; without one (the CLI's one-off run) calls are not paced. */
  rateLimiter?: RateLimiter | undefined;
  limits: LlmLimits;
  maxOutputTokens: number;
  /** Retries of one call after 429, 5xx, or no answer. */
  maxRetries: number;
}

/**
 * Extraction by an LLM: the prompt, JSON validation with one repair round (the validation errors
 * go back to the model), and calls paced by per-provider requests/min and tokens/min buckets that
 * every process shares. A 429 empties the request bucket for its Retry-After, for every process.
 */
export class LlmExtractor implements Extractor {
  readonly provider: 'openai' | 'anthropic';
  readonly model: string;
  readonly promptVersion = PROMPT_VERSION;
  private readonly requests: RateLimit;
  private readonly tokens: RateLimit;

  constructor(private readonly options: LlmExtractorOptions) {
    this.provider = options.model.provider;
    this.model = options.model.model;
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = options.limits;
    // A minute's budget may go at once: that is what the provider's own window allows too.
    this.requests = { capacity: rpm, perSecond: rpm / 60 };
    this.tokens = { capacity: tpm, perSecond: tpm / 60 };
  }

  async extract(input: ExtractionInput, signal?: AbortSignal): Promise<ExtractOutcome> {
    const system = systemPrompt();
    const messages: ChatMessage[] = [{ role: 'user', content: userPrompt(input) }];
    const usage: Usage = { inputTokens: 0, outputTokens: 0 };
    let calls = 0;
    let last = { error: '', raw: '' };
    // The first answer, and one repair: a model that fails twice rarely succeeds a third time.
    for (let round = 0; round < 2; round++) {
      const answer = await this.call(system, messages, signal);
      calls++;
      usage.inputTokens += answer.usage.inputTokens;
      usage.outputTokens += answer.usage.outputTokens;
      let issues: string;
      try {
        const parsed = extractionOutput.safeParse(jsonIn(answer.text));
        if (parsed.success) return { ok: true, output: parsed.data, usage, calls };
        issues = describeIssues(parsed.error);
      } catch (err) {
        issues = `- (root): not valid JSON (${err instanceof Error ? err.message : String(err)})`;
      }
      last = { error: issues, raw: answer.text };
      messages.push({ role: 'assistant', content: answer.text }, { role: 'user', content: repairPrompt(issues) });
    }
    return { ok: false, error: `output did not match the schema after a repair attempt:\n${last.error}`, rawOutput: last.raw, usage, calls };
  }

  private async call(system: string, messages: ChatMessage[], signal?: AbortSignal) {
    const { model, rateLimiter, maxOutputTokens, maxRetries } = this.options;
    const prefix = `llm:${model.provider}:${model.model}`;
    const cost = Math.min(this.tokens.capacity, estimateTokens(system) + messages.reduce((n, m) => n + estimateTokens(m.content), 0) + maxOutputTokens);
    for (let attempt = 0; ; attempt++) {
      if (rateLimiter) {
        await rateLimiter.acquire(`${prefix}:requests`, this.requests, signal ? { signal } : {});
        await rateLimiter.acquire(`${prefix}:tokens`, this.tokens, { cost, ...(signal && { signal }) });
      }
      try {
        return await model.complete({ system, messages, maxOutputTokens, signal });
      } catch (err) {
        if (!(err instanceof LlmApiError) || !err.retryable || attempt >= maxRetries || signal?.aborted) throw err;
        const pause = err.retryAfterMs ?? backoffMs(attempt);
        if (err.status === 429 && rateLimiter) {
          // The provider's window is shared by every replica: make all of them wait, not just this call.
          await rateLimiter.block(`${prefix}:requests`, this.requests, pause);
        } else {
          await delay(pause, undefined, signal ? { signal } : {});
        }
      }
    }
  }
}

/** 500 ms, 1 s, 2 s, ... with equal jitter, capped at 20 s. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(20_000, 500 * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
