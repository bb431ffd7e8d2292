import { z } from 'zod';

/**
 * Every setting Nova reads, with its one default. Parsed once at start; a bad value stops the
 * process with one message naming every bad variable (see ConfigError). `.env.example` lists
 * the same names.
 */
export const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(def);

export const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .default(def);

/**
 * The engine's variables. Each domain adds its own slice (`src/<domain>/config.ts`, declared as
 * the domain's `config`); the boot schema is this one extended with every slice (src/domains.ts).
 */
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
  /**
   * Jobs claimed per round trip (prefetch). Unset: adaptive per queue, from `concurrency` up to
   * what the handlers finish in about 200 ms (see src/runtime/consumer.ts).
   */
  BATCH_SIZE: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(10_000, 'must be at most 10000').optional(),
  /**
   * Seconds a claimed job stays leased without a heartbeat before another consumer may take it.
   * Heartbeats renew it every third of that while the job runs, so a long job is safe with a
   * short lease; the lease is how long a crashed process's jobs wait (the seed used 300).
   */
  VISIBILITY_TIMEOUT: int(30, 1),
  SHUTDOWN_TIMEOUT_MS: int(30_000, 0),
  /** 0 picks a free port. */
  WORKER_HEALTH_PORT: int(3001, 0, 65_535),
  /**
   * Where /health, /status and /metrics listen. Loopback by default: they have no auth, and
   * /status names queues, hosts and errors. Set 0.0.0.0 for a scraper outside the host/container.
   */
  NOVA_HEALTH_HOST: z.string().min(1).default('127.0.0.1'),
  /** Pid file of a local process, for `nova worker stop|status|health`; unset: nova.pid in NOVA_DATA_DIR. */
  NOVA_PID_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** How often each process logs one line on the queues it consumes (the seed's health line). */
  NOVA_QUEUE_HEALTH_LOG_MS: int(60_000, 100),
  /** Seed 001's test switch: jobs are processed but handed back instead of acknowledged. */
  TESTING_MODE: bool(false),
  /** Growth of the retry delay per attempt, for queues that do not declare their own. */
  RETRY_BACKOFF_FACTOR: z.coerce.number({ error: 'must be a number' }).min(1, 'must be at least 1').max(10, 'must be at most 10').default(2),
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

  // --- API server (role `api`): dashboard, management API, domains' routes, webhooks
  PORT: int(4000, 0, 65_535),
  API_HOST: z.string().min(1).default('0.0.0.0'),
  /** Bearer token for /api routes and /ws; unset leaves them open (`nova start` warns outside development). */
  NOVA_API_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * Origins (scheme://host:port, comma-separated) besides the API's own whose pages may call the
   * mutating API and open /ws when NOVA_API_TOKEN is unset (see src/runtime/auth.ts).
   */
  NOVA_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean)),
  /** How long a request may take to arrive in full, headers and body; slower ones get 408. */
  NOVA_HTTP_REQUEST_TIMEOUT_MS: int(30_000, 100, 600_000),
  /** Redis for cross-process events (fan-out) instead of LISTEN/NOTIFY; unset uses the database. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),

  /** Where `nova backfill` reaches the API server. */
  NOVA_API_URL: z.url({ error: 'must be a URL' }).default('http://127.0.0.1:4000').transform((u) => u.replace(/\/+$/, '')),
});

export type Config = z.infer<typeof configSchema>;

/** One bad variable and what is wrong with it. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
  }
}

/**
 * Parses the environment with the engine's schema extended by `slices` (the domains' own);
 * throws one ConfigError naming every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, slices: readonly z.ZodObject[] = []): Config {
  // An empty variable counts as unset, as shells and .env files often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const schema = slices.reduce<z.ZodObject>((all, slice) => all.extend(slice.shape), configSchema);
  const result = schema.safeParse(present);
  if (result.success) return result.data as Config;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      const value = present[variable];
      return { variable, message: `${issue.message}${value === undefined ? '' : ` (got ${shown(variable, value)})`}` };
    }),
  );
}

/**
 * A bad value as an error message may show it: secrets never (their length only), URLs without
 * their password; logs and terminals are not where credentials go.
 */
export function shown(variable: string, value: string): string {
  if (/TOKEN|SECRET|KEY|PASSWORD/.test(variable)) return `a value of ${value.length} characters, not shown`;
  return `"${value.replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@')}"`;
}
