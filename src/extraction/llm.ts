import { Outbound, ProviderError } from '../runtime/outbound.ts';
import type { RateLimit, RateLimiter } from '../runtime/rate-limit.ts';
import { parseRetryAfter, type HeaderSource } from '../runtime/retry-after.ts';
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
  /**
   * The JSON Schema the answer must follow, for providers whose structured output takes one
   * (Anthropic's forced tool call); unset: the extraction schema.
   */
  output?: { name: string; description: string; schema: Record<string, unknown> } | undefined;
}

/** A chat-completion API behind its official SDK: the only thing that differs between providers. */
export interface ChatModel {
  readonly provider: 'openai' | 'anthropic';
  readonly model: string;
  /**
   * One request, no retries (LlmExtractor retries through the outbound layer). Throws
   * ProviderError for the provider's answers (see fromSdkError); `request.signal` ends it.
   */
  complete(request: ChatRequest): Promise<{ text: string; usage: Usage }>;
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
  /** Retries of one call after a transient fault (429, 5xx, no answer, a body cut off). */
  maxRetries: number;
  /** Per try. */
  timeoutMs: number;
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
  private readonly outbound: Outbound;

  constructor(private readonly options: LlmExtractorOptions) {
    this.provider = options.model.provider;
    this.model = options.model.model;
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = options.limits;
    // A minute's budget may go at once: that is what the provider's own window allows too.
    this.requests = { capacity: rpm, perSecond: rpm / 60 };
    this.tokens = { capacity: tpm, perSecond: tpm / 60 };
    this.outbound = new Outbound({
      provider: options.model.provider,
      rateLimiter: options.rateLimiter,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      backoff: { baseDelayMs: 500, maxDelayMs: 20_000 },
    });
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

  /** One completion under the shared requests/min and tokens/min buckets; a 429 blocks the request bucket. */
  private call(system: string, messages: ChatMessage[], signal?: AbortSignal) {
    const { model, maxOutputTokens } = this.options;
    const prefix = `llm:${model.provider}:${model.model}`;
    const cost = Math.min(this.tokens.capacity, estimateTokens(system) + messages.reduce((n, m) => n + estimateTokens(m.content), 0) + maxOutputTokens);
    return this.outbound.call((trySignal) => model.complete({ system, messages, maxOutputTokens, signal: trySignal }), {
      signal,
      budgets: [
        { key: `${prefix}:requests`, limit: this.requests },
        { key: `${prefix}:tokens`, limit: this.tokens, cost },
      ],
    });
  }
}

/**
 * A ProviderError for what an official SDK (OpenAI's or Anthropic's, same error classes) threw.
 * Their APIError carries the status, headers and request id; a 2xx body the SDK could not parse
 * surfaces as a SyntaxError, and is a transient fault of that answer. Anything else is returned
 * as it is: the outbound layer knows network errors and timeouts.
 */
export function fromSdkError(provider: string, err: unknown, APIError: abstract new (...args: never[]) => Error): unknown {
  if (err instanceof SyntaxError) {
    return new ProviderError(`${provider}: response is not valid JSON (${err.message})`, {
      provider, status: 200, code: 'invalid_response', retryable: true, cause: err,
    });
  }
  if (!(err instanceof APIError)) return err;
  const api = err as Error & { status?: number; headers?: HeaderSource; requestID?: string | null; type?: string | null; code?: string | null };
  // No status: the SDK's connection error (reset, refused), which the outbound layer retries.
  if (api.status === undefined) return err;
  return new ProviderError(`${provider}: ${api.message}`, {
    provider,
    status: api.status,
    retryAfterMs: parseRetryAfter(api.headers),
    requestId: api.requestID ?? undefined,
    code: api.type ?? api.code ?? undefined,
    cause: err,
  });
}
