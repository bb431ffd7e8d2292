import { ConfigError } from '../../config.ts';
import type { ExtractionConfig as Config } from '../config.ts';
import type { RateLimiter } from '../../runtime/rate-limit.ts';
import { BuiltinExtractor } from '../builtin/index.ts';
import type { Extractor } from '../extractor.ts';
import { LlmExtractor, type ChatModel } from '../llm.ts';
import type { ProviderName } from '../schema.ts';
import { anthropicChatModel } from './anthropic.ts';
import { openAiChatModel } from './openai.ts';

/**
 * LLM_PROVIDER, or when unset the provider whose key is set; with no key at all, the builtin
 * rules, so the embedded default produces rows with no network and no account.
 */
export function resolveProvider(config: Config): ProviderName {
  if (config.LLM_PROVIDER) return config.LLM_PROVIDER;
  if (config.OPENAI_API_KEY) return 'openai';
  if (config.ANTHROPIC_API_KEY) return 'anthropic';
  return 'builtin';
}

const OFFICIAL_OPENAI = /^https:\/\/api\.openai\.com(\/|$)/;

/** A variable that keeps the configured provider from working. */
export interface ProviderProblem {
  variable: string;
  message: string;
}

/**
 * What keeps the configured LLM provider from being reached, checked at boot (exit 78) so that a
 * missing key stops the process instead of failing, retrying and dead-lettering every job.
 */
export function checkProviderConfig(config: Config): ProviderProblem[] {
  const provider = resolveProvider(config);
  // A local OpenAI-compatible server needs no key; the official endpoint does.
  if (provider === 'openai' && !config.OPENAI_API_KEY && OFFICIAL_OPENAI.test(config.OPENAI_BASE_URL)) {
    return [{ variable: 'OPENAI_API_KEY', message: 'required for LLM_PROVIDER=openai with the official OPENAI_BASE_URL' }];
  }
  // A gateway at ANTHROPIC_BASE_URL may hold the key itself.
  if (provider === 'anthropic' && !config.ANTHROPIC_API_KEY && !config.ANTHROPIC_BASE_URL) {
    return [{ variable: 'ANTHROPIC_API_KEY', message: 'required for LLM_PROVIDER=anthropic' }];
  }
  return [];
}

/**
 * The configured provider's chat model, or undefined for the builtin rules (other domains ask
 * their own questions through it). Throws ConfigError when the chosen provider cannot be reached.
 */
export async function createChatModel(config: Config): Promise<ChatModel | undefined> {
  const problems = checkProviderConfig(config);
  if (problems.length) throw new ConfigError(problems);
  const provider = resolveProvider(config);
  if (provider === 'builtin') return undefined;
  return provider === 'openai'
    ? openAiChatModel({ apiKey: config.OPENAI_API_KEY, baseUrl: config.OPENAI_BASE_URL, model: config.OPENAI_MODEL })
    : anthropicChatModel({ apiKey: config.ANTHROPIC_API_KEY, baseUrl: config.ANTHROPIC_BASE_URL, model: config.ANTHROPIC_MODEL });
}

/** The configured extractor. Throws ConfigError when the chosen provider cannot be reached. */
export async function createExtractor(config: Config, rateLimiter?: RateLimiter): Promise<Extractor> {
  const model = await createChatModel(config);
  if (!model) return new BuiltinExtractor();
  return new LlmExtractor({
    model,
    rateLimiter,
    limits: { requestsPerMinute: config.LLM_REQUESTS_PER_MINUTE, tokensPerMinute: config.LLM_TOKENS_PER_MINUTE },
    maxOutputTokens: config.LLM_MAX_OUTPUT_TOKENS,
    maxRetries: config.LLM_MAX_RETRIES,
    timeoutMs: config.LLM_TIMEOUT_MS,
  });
}
