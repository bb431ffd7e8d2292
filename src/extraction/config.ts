import { z } from 'zod';
import { int, type Config } from '../config.ts';

/** The extraction domain's variables (LLM providers, budgets, queueing), part of the boot schema. */
export const extractionConfig = z.object({
  /** builtin | openai | anthropic. Unset: openai when OPENAI_API_KEY is set, else anthropic when ANTHROPIC_API_KEY is, else builtin. */
  LLM_PROVIDER: z.enum(['builtin', 'openai', 'anthropic']).optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  /** Any OpenAI-compatible endpoint (vLLM, Ollama, `nova emulator llm`); a trailing slash is dropped. */
  OPENAI_BASE_URL: z.url({ error: 'must be a URL' }).default('https://api.openai.com/v1').transform((u) => u.replace(/\/+$/, '')),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  /** Unset: the Anthropic API. */
  ANTHROPIC_BASE_URL: z.url({ error: 'must be a URL' }).optional(),
  ANTHROPIC_MODEL: z.string().min(1).default('claude-haiku-4-5'),
  /** Per-provider budgets shared by every process (token buckets in the database). */
  LLM_REQUESTS_PER_MINUTE: int(500, 1),
  LLM_TOKENS_PER_MINUTE: int(200_000, 100),
  LLM_TIMEOUT_MS: int(60_000, 100),
  /** Retries of one LLM call after 429 (honouring Retry-After), 5xx or no answer. */
  LLM_MAX_RETRIES: int(3, 0, 20),
  LLM_MAX_OUTPUT_TOKENS: int(1500, 64, 32_000),
  /** Body tokens sent to the model; longer bodies are cut (quotes and signatures are dropped first). */
  EXTRACTION_MAX_INPUT_TOKENS: int(3000, 100, 200_000),
  /** Messages extracted at once per `extraction` process. */
  EXTRACTION_CONCURRENCY: int(8, 1, 1000),
  /** How often `extraction-queue` looks for messages to queue, and how many it queues per run. */
  EXTRACTION_QUEUE_INTERVAL_MS: int(5000, 50),
  EXTRACTION_QUEUE_BATCH: int(1000, 1, 100_000),
  /** A message queued this long with no result is sent again (dedup keeps a live job single). */
  EXTRACTION_REQUEUE_AFTER_MS: int(3_600_000, 1000),
});

export type ExtractionConfig = Config & z.infer<typeof extractionConfig>;

