import { InvalidArgumentError, type Command } from 'commander';
// Types only: the emulators load when their command runs, not with every `nova start`.
import type { NylasEmulator, NylasEmulatorOptions } from '../emulators/nylas/index.ts';
import type { LlmEmulator, LlmEmulatorOptions } from '../emulators/llm/index.ts';
import { answerDealPrompt } from '../deals/index.ts';
import { extractFromPrompt } from '../extraction/index.ts';

/** Exit code for bad flags (sysexits EX_CONFIG), as for a bad configuration. */
const EXIT_CONFIG = 78;

interface NylasFlags {
  port: number;
  host: string;
  seed?: number;
  threads?: number;
  messages?: number;
  rateLimit?: number;
  errorRate?: number;
  timeoutRate?: number;
  truncateRate?: number;
  resetRate?: number;
  throttleRate?: number;
  latency?: number;
  apiKey?: string;
  webhookUrl?: string;
  webhookSecret?: string;
}

/**
 * Adds `emulator nylas`: a local Nylas v3 API for development and load tests. Flags left out keep
 * the emulator's own defaults (options.ts), so every default lives in one place.
 */
export function registerEmulatorCommands(program: Command): void {
  const emulator = program.command('emulator').description('run local emulators of the APIs Nova calls');
  emulator
    .command('nylas')
    .description('serve a generated Nylas v3 mailbox per grant until SIGINT/SIGTERM; prints the base URL')
    .option('--port <port>', 'port to listen on (0 picks a free one)', integer, 4100)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--seed <n>', 'mailbox seed: same seed and grant, same mailbox', number)
    .option('--threads <n>', 'threads per grant', integer)
    .option('--messages <n>', 'messages per thread', integer)
    .option('--rate-limit <perSecond>', 'per-grant requests per second before 429', number)
    .option('--error-rate <fraction>', 'fraction of requests answered 503/500', number)
    .option('--timeout-rate <fraction>', 'fraction of requests never answered', number)
    .option('--truncate-rate <fraction>', 'fraction of successful bodies cut in half', number)
    .option('--reset-rate <fraction>', 'fraction of connections reset (before an answer or mid-body)', number)
    .option('--throttle-rate <fraction>', 'fraction of requests answered 429 with Retry-After', number)
    .option('--latency <ms>', 'milliseconds added to every response', integer)
    .option('--api-key <key>', 'require Authorization: Bearer <key>')
    .option('--webhook-url <url>', 'where signed webhooks are POSTed')
    .option('--webhook-secret <secret>', 'HMAC key for x-nylas-signature')
    .action(async function (this: Command, flags: NylasFlags) {
      const { NylasEmulator } = await import('../emulators/nylas/index.ts');
      let nylas: NylasEmulator;
      try {
        nylas = new NylasEmulator(toOptions(flags));
      } catch (error) {
        this.error(error instanceof Error ? error.message : String(error), { exitCode: EXIT_CONFIG });
      }
      const url = await nylas.start(flags.port, flags.host);
      // The URL alone on stdout (scripts read it); how to use it on stderr, for the person.
      process.stdout.write(`${url}\n`);
      process.stderr.write(
        `Nylas emulator listening. Point Nova at it:\n  NYLAS_API_URI=${url} NYLAS_API_KEY=${flags.apiKey ?? 'any-key'}` +
          `${flags.webhookSecret ? ` NYLAS_WEBHOOK_SECRET=${flags.webhookSecret}` : ''} NOVA_DEMO=false nova start\n`,
      );
      let stopping = false;
      const shutdown = () => {
        if (stopping) return;
        stopping = true;
        nylas.stop().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`emulator failed to stop: ${String(error)}\n`);
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
  registerLlmEmulator(emulator);
}

interface LlmFlags {
  port: number;
  host: string;
  latency?: number;
  apiKey?: string;
  rateLimit?: number;
  retryAfter?: number;
  malformedRate?: number;
  invalidRate?: number;
  seed?: number;
}

/**
 * Adds `emulator llm`: an OpenAI-compatible (and Anthropic-compatible) API on loopback that
 * answers extraction prompts with what the builtin rules find, with optional latency and faults.
 */
function registerLlmEmulator(emulator: Command): void {
  emulator
    .command('llm')
    .description('serve /v1/chat/completions (JSON mode) and /v1/messages until SIGINT/SIGTERM; prints the base URL')
    .option('--port <port>', 'port to listen on (0 picks a free one)', integer, 4200)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--latency <ms>', 'milliseconds added to every answer', integer)
    .option('--api-key <key>', 'require this key (Bearer for OpenAI, x-api-key for Anthropic)')
    .option('--rate-limit <perMinute>', 'requests per minute before 429', integer)
    .option('--retry-after <seconds>', 'Retry-After sent with a 429', number)
    .option('--malformed-rate <fraction>', 'fraction of answers that are not JSON', number)
    .option('--invalid-rate <fraction>', 'fraction of answers that break the extraction schema', number)
    .option('--seed <n>', 'seed of the fault dice', integer)
    .action(async function (this: Command, flags: LlmFlags) {
      const { LlmEmulator } = await import('../emulators/llm/index.ts');
      let llm: LlmEmulator;
      try {
        llm = new LlmEmulator(toLlmOptions(flags));
      } catch (error) {
        this.error(error instanceof Error ? error.message : String(error), { exitCode: EXIT_CONFIG });
      }
      const url = await llm.start(flags.port, flags.host);
      process.stdout.write(`${url}\n`);
      process.stderr.write(
        `LLM emulator listening. Point Nova at it:\n  LLM_PROVIDER=openai OPENAI_BASE_URL=${url} OPENAI_API_KEY=${flags.apiKey ?? 'any-key'} nova start\n` +
          `  or LLM_PROVIDER=anthropic ANTHROPIC_BASE_URL=${url.replace(/\/v1$/, '')} ANTHROPIC_API_KEY=${flags.apiKey ?? 'any-key'} nova start\n`,
      );
      const shutdown = () => void llm.stop().then(() => process.exit(0));
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}

function toLlmOptions(flags: LlmFlags): LlmEmulatorOptions {
  return {
    // A deals question gets the builtin deal analysis; anything else, the builtin extraction.
    respond: async (request) => {
      const user = request.messages.find((m) => m.role === 'user')?.content ?? '';
      return (await answerDealPrompt(request.system, user)) ?? extractFromPrompt(user) ?? {};
    },
    ...(flags.latency !== undefined && { latencyMs: flags.latency }),
    ...(flags.apiKey !== undefined && { apiKey: flags.apiKey }),
    ...(flags.rateLimit !== undefined && { rateLimitPerMinute: flags.rateLimit }),
    ...(flags.retryAfter !== undefined && { retryAfterSeconds: flags.retryAfter }),
    ...(flags.malformedRate !== undefined && { malformedRate: flags.malformedRate }),
    ...(flags.invalidRate !== undefined && { invalidRate: flags.invalidRate }),
    ...(flags.seed !== undefined && { seed: flags.seed }),
  };
}

function toOptions(flags: NylasFlags): NylasEmulatorOptions {
  const faults = {
    ...(flags.errorRate !== undefined && { errorRate: flags.errorRate }),
    ...(flags.timeoutRate !== undefined && { timeoutRate: flags.timeoutRate }),
    ...(flags.truncateRate !== undefined && { truncateRate: flags.truncateRate }),
    ...(flags.resetRate !== undefined && { resetRate: flags.resetRate }),
    ...(flags.throttleRate !== undefined && { throttleRate: flags.throttleRate }),
    ...(flags.latency !== undefined && { latencyMs: flags.latency }),
  };
  return {
    faults,
    ...(flags.seed !== undefined && { seed: flags.seed }),
    ...(flags.threads !== undefined && { threadsPerGrant: flags.threads }),
    ...(flags.messages !== undefined && { messagesPerThread: flags.messages }),
    ...(flags.rateLimit !== undefined && { rateLimitPerSecond: flags.rateLimit }),
    ...(flags.apiKey !== undefined && { apiKey: flags.apiKey }),
    ...(flags.webhookUrl !== undefined && { webhookUrl: flags.webhookUrl }),
    ...(flags.webhookSecret !== undefined && { webhookSecret: flags.webhookSecret }),
  };
}

function number(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new InvalidArgumentError('not a number');
  return parsed;
}

function integer(value: string): number {
  const parsed = number(value);
  if (!Number.isInteger(parsed)) throw new InvalidArgumentError('not an integer');
  return parsed;
}
