/**
 * Role `http-worker`: executes HTTP steps (`workflow.http` jobs). Each attempt is one request
 * with a timeout, the SSRF guard, a response size cap and an `Idempotency-Key` of run id + step
 * id, so a target that honours it sees one effect however often the job runs. 5xx, 429 and
 * network errors are retried by the job's attempts (Retry-After honoured); the final outcome
 * completes the waiting step and wakes the run in one transaction.
 */
import type { WorkflowsConfig } from './config.ts';
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { RetryLater } from '../queue/errors.ts';
import type { JobContext } from '../runtime/domain.ts';
import { completeAndTick, type WorkflowEngine } from './engine.ts';
import { toStoredError } from './errors.ts';
import { httpOptionsSchema, httpRequestSchema, type HttpResponse } from './http-types.ts';
import { BlockedRequest, checkUrl, guardedLookup } from './ssrf.ts';
import * as store from './store.ts';

export const httpJob = z.object({
  runId: z.uuid(),
  stepId: z.string(),
  request: httpRequestSchema,
  options: httpOptionsSchema,
});
export type HttpJob = z.infer<typeof httpJob>;

/** A response larger than HTTP_STEP_MAX_RESPONSE_BYTES; not retried. */
class ResponseTooLarge extends Error {
  override name = 'ResponseTooLarge';
}

const MAX_REDIRECTS = 5;

export async function runHttpStep(engine: WorkflowEngine, job: HttpJob, ctx: JobContext<HttpJob>): Promise<void> {
  // A cancelled run (or a step already done by an earlier attempt) needs no request.
  if ((await store.stepStatus(engine.services.sql, job.runId, job.stepId)) !== 'waiting') return;
  const { attempt, maxAttempts } = ctx.job;
  const outcome = await attemptHttp(engine, job, attempt, maxAttempts, ctx.signal);
  if ('retryInMs' in outcome) throw new RetryLater(outcome.retryInMs, outcome.reason);
  // The step's outcome and its run's tick in one statement.
  await completeAndTick(engine, engine.services.sql, job.runId, job.stepId, outcome.status, outcome.output, outcome.error, attempt);
}

/** One attempt's outcome: final (the step's status, output or error), or a retry after a delay. */
export type HttpAttempt =
  | { status: 'completed' | 'failed'; output: HttpResponse | null; error: store.StoredError | null }
  | { retryInMs: number; reason: string };

/**
 * One attempt of an HTTP step: the request under the SSRF guard, timeout and size cap, and what
 * it means for the step. Shared by role http-worker and by agent tools run in role agent-runner.
 */
export async function attemptHttp(engine: WorkflowEngine, job: HttpJob, attempt: number, maxAttempts: number, signal: AbortSignal): Promise<HttpAttempt> {
  const config = engine.services.config as WorkflowsConfig;
  const backoff = (job.options.backoffMs ?? 500) * 2 ** (attempt - 1);
  let response: HttpResponse;
  try {
    response = await send(job, attempt, {
      timeoutMs: job.options.timeoutMs ?? config.HTTP_STEP_TIMEOUT_MS,
      maxBytes: config.HTTP_STEP_MAX_RESPONSE_BYTES,
      allowed: config.HTTP_STEP_ALLOWED_HOSTS,
      signal,
    });
  } catch (err) {
    const final = err instanceof BlockedRequest || err instanceof ResponseTooLarge || attempt >= maxAttempts;
    if (!final) return { retryInMs: backoff, reason: `request failed: ${(err as Error).message}` };
    return { status: 'failed', output: null, error: { ...toStoredError(err), attempts: attempt } };
  }
  if ((response.status >= 500 || response.status === 429) && attempt < maxAttempts) {
    return { retryInMs: retryAfterMs(response.headers['retry-after']) ?? backoff, reason: `HTTP ${response.status}` };
  }
  const failAt = job.options.failOnStatus === false ? Infinity : job.options.failOnStatus === true || job.options.failOnStatus === undefined ? 400 : job.options.failOnStatus;
  if (response.status >= failAt) {
    const error = { name: 'HttpStatusError', message: `${job.request.method} ${job.request.url} answered ${response.status}`, status: response.status, body: response.body };
    return { status: 'failed', output: null, error };
  }
  return { status: 'completed', output: response, error: null };
}

/** Retry-After as milliseconds (seconds or an HTTP date), capped at 10 minutes. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(600_000, Math.max(0, Math.round(ms)));
}

interface SendOptions {
  timeoutMs: number;
  maxBytes: number;
  allowed: readonly string[];
  signal: AbortSignal;
}

async function send(job: HttpJob, attempt: number, options: SendOptions): Promise<HttpResponse> {
  const started = performance.now();
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
  let method = job.request.method.toUpperCase();
  let body = job.request.body === undefined || job.request.body === null ? undefined
    : typeof job.request.body === 'string' ? job.request.body : JSON.stringify(job.request.body);
  let url = checkUrl(job.request.url, options.allowed);
  for (let hop = 0; ; hop++) {
    const res = await request(url, method, body, {
      'content-type': 'application/json',
      'user-agent': 'nova-workflows/1.0',
      'idempotency-key': `${job.runId}:${job.stepId}`,
      ...lowerKeys(job.request.headers ?? {}),
    }, options, signal);
    const location = res.headers['location'];
    if (res.status >= 300 && res.status < 400 && location && hop < MAX_REDIRECTS) {
      // Every hop is checked again: a redirect to an internal address is refused like a direct request.
      url = checkUrl(new URL(location, url).toString(), options.allowed);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      continue;
    }
    return {
      status: res.status, headers: res.headers, body: parseBody(res.text, res.headers['content-type']),
      durationMs: Math.round(performance.now() - started), url: url.toString(), method, attempts: attempt,
    };
  }
}

function request(
  url: URL, method: string, body: string | undefined, headers: Record<string, string>, options: SendOptions, signal: AbortSignal,
): Promise<{ status: number; headers: Record<string, string>; text: string }> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers, lookup: guardedLookup(options.allowed) as never, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          res.destroy();
          reject(new ResponseTooLarge(`response larger than ${options.maxBytes} bytes (HTTP_STEP_MAX_RESPONSE_BYTES)`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        const flat: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: flat, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => reject(signal.aborted && !(err instanceof BlockedRequest) ? timeoutError(signal, options.timeoutMs, err) : err));
    req.end(body);
  });
}

function timeoutError(signal: AbortSignal, timeoutMs: number, err: Error): Error {
  const reason = signal.reason as Error | undefined;
  if (reason?.name === 'TimeoutError') {
    const e = new Error(`no response within ${timeoutMs} ms`);
    e.name = 'HttpTimeout';
    return e;
  }
  return err;
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (contentType?.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
