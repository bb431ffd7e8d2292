import { z } from 'zod';

/**
 * Every setting Nova reads, with its one default. Parsed once at start; a bad value stops the
 * process with one message naming every bad variable (see ConfigError). `.env.example` lists
 * the same names.
 */
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(def);

const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .default(def);

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** PostgreSQL server; unset means the embedded database in NOVA_DATA_DIR. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  NOVA_DATA_DIR: z.string().min(1).default('./.nova'),
  NOVA_DB_POOL_SIZE: int(10, 1, 1000),
  /** One role, a comma list, a group name, or `all`. */
  WORKER_TYPE: z.string().min(1).default('all'),
  POLL_INTERVAL_MS: int(5000, 10),
  BATCH_SIZE: int(10, 1, 10_000),
  /** Seconds a claimed job stays leased without a heartbeat before another consumer may take it. */
  VISIBILITY_TIMEOUT: int(300, 1),
  SHUTDOWN_TIMEOUT_MS: int(30_000, 0),
  /** 0 picks a free port. */
  WORKER_HEALTH_PORT: int(3001, 0, 65_535),
  NOVA_HEALTH_HOST: z.string().min(1).default('0.0.0.0'),
  /** Pid file of a local process, for `nova worker stop|status|health`; unset: nova.pid in NOVA_DATA_DIR. */
  NOVA_PID_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** auto: readable lines on a terminal, JSON otherwise. */
  NOVA_LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  NOVA_RETAIN_COMPLETED: int(100, 0),
  NOVA_RETAIN_FAILED: int(500, 0),
  NOVA_RETAIN_MAX_AGE_HOURS: int(168, 1),
  /** How long a singleton's lease lasts without renewal; a crashed holder is replaced after this. */
  NOVA_LEASE_TTL_MS: int(15_000, 1000),
  NOVA_REAP_INTERVAL_MS: int(1000, 50),
  /** Publish job lifecycle events to other processes (LISTEN/NOTIFY). */
  NOVA_PUBLISH_EVENTS: bool(true),
  /**
   * Keep the V8 heap near its live data (set by `nova start`): the young generation stays at its
   * start size and the old one grows by half its live data between full collections. Left to
   * itself V8 lets a busy process's heap, and so its RSS, grow to several times what it uses.
   */
  NOVA_COMPACT_HEAP: bool(true),

  // --- API server (role `api`): webhooks, and later management routes
  PORT: int(4000, 0, 65_535),
  API_HOST: z.string().min(1).default('0.0.0.0'),
  /** Bearer token for /api routes and /ws; unset leaves them open (`nova start` warns outside development). */
  NOVA_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Redis for cross-process events (fan-out) instead of LISTEN/NOTIFY; unset uses the database. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),

  // --- Nylas (email sync)
  NYLAS_API_KEY: z.string().min(1).optional(),
  /** Region base URI; a trailing slash is dropped (the API would see `//v3`). */
  NYLAS_API_URI: z.url({ error: 'must be a URL' }).default('https://api.us.nylas.com').transform((u) => u.replace(/\/+$/, '')),
  /**
   * With no NYLAS_API_KEY, `nova start` of the API and email roles runs the Nylas emulator
   * in-process with a demo mailbox and backfills it (src/cli/demo.ts).
   */
  NOVA_DEMO: bool(true),
  /** Key of x-nylas-signature; without it the webhook endpoint refuses deliveries (503). */
  NYLAS_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** Requests per second per grant, shared by every process; bursts up to NYLAS_RATE_LIMIT_BURST. */
  NYLAS_RATE_LIMIT_PER_SECOND: int(20, 1),
  NYLAS_RATE_LIMIT_BURST: int(20, 1),
  NYLAS_TIMEOUT_MS: int(30_000, 100),
  /** Retries inside one API call after 429, 5xx or a timeout. */
  NYLAS_MAX_RETRIES: int(3, 0, 20),
  /** Optional minimum gap between Nylas calls of one process (the seed's fixed delay); 0 = none. */
  API_DELAY_MS: int(0, 0),
  /**
   * Webhook notifications processed at once per `webhooks` process. Their statements go to the
   * database together, so more at once means fewer, larger statements per notification.
   */
  WEBHOOK_CONCURRENCY: int(64, 1, 1000),
  /** Optional minimum gap between message requests of one process (the seed's 1000); 0 = none. */
  MESSAGE_DELAY_MS: int(0, 0),

  // --- Backfill (roles backfill, threads, completion)
  /** Threads listed per discovery page (Nylas documents at most 50 for threads). */
  BACKFILL_PAGE_SIZE: int(50, 1, 200),
  /** Thread syncs at once per `threads` process. */
  THREADS_CONCURRENCY: int(8, 1, 1000),
  /** Optional minimum gap between thread syncs started by one process (the seed's 3000); 0 = none. */
  THREAD_DELAY_MS: int(0, 0),
  /** First retry delay of a failed thread sync; doubles with each of its 5 attempts. */
  THREAD_RETRY_DELAY_MS: int(1000, 0),
  COMPLETION_CHECK_INTERVAL_MS: int(5000, 50),
  /** Reopen backfills marked completed while threads are still pending. */
  ENABLE_AUTO_RECOVERY: bool(true),
  RECOVERY_CHECK_INTERVAL_MS: int(60_000, 100),
  /** Where `nova backfill` reaches the API server. */
  NOVA_API_URL: z.url({ error: 'must be a URL' }).default('http://127.0.0.1:4000').transform((u) => u.replace(/\/+$/, '')),

  // --- Extraction (roles extraction-queue, extraction)
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

  // --- Workflows (roles workflow-runner, http-worker)
  /** Ticks run at once per `workflow-runner` process (a waiting run takes none). */
  WORKFLOW_RUNNER_CONCURRENCY: int(64, 1, 10_000),
  /** HTTP steps in flight per `http-worker` process. */
  HTTP_WORKER_CONCURRENCY: int(32, 1, 10_000),
  HTTP_STEP_TIMEOUT_MS: int(30_000, 100),
  /** Response bodies larger than this fail the step (the original read them whole). */
  HTTP_STEP_MAX_RESPONSE_BYTES: int(1_048_576, 1024),
  /** Hosts or IPs (comma list) HTTP steps may reach although they are loopback/private/link-local. */
  HTTP_STEP_ALLOWED_HOSTS: z.string().default('').transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
  }
}

/** Parses the environment; throws one ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable counts as unset, as shells and .env files often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = configSchema.safeParse(present);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      const value = present[variable];
      return { variable, message: `${issue.message}${value === undefined ? '' : ` (got "${value}")`}` };
    }),
  );
}
