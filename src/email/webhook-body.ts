import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { HttpError } from '../runtime/http-error.ts';

/**
 * Reads a webhook body through the HMAC as it arrives, so that what an unsigned or forged request
 * can cost is bounded before any of it is trusted:
 * - no `x-nylas-signature` of the right shape: refused (401) before a byte of the body is read;
 * - a `content-length` over the limit: refused (413) before a byte is read;
 * - a body that grows past the limit while streaming: refused (413) at the chunk that crossed it;
 * - more bytes held by bodies in progress than the process's budget: refused (503, retry later).
 * Only a body whose HMAC matches is handed on. The route answers every refusal with
 * `connection: close`, so the rest of an upload is never read.
 */

/** The bytes all webhook bodies being read or handled may hold at once, per process. */
export class ByteBudget {
  private used = 0;
  constructor(readonly capacity: number) {}
  take(bytes: number): boolean {
    if (this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }
  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
  get inUse(): number {
    return this.used;
  }
}

export interface SignedBodyOptions {
  secret: string | undefined;
  /** Largest body accepted, in bytes. */
  limit: number;
  budget: ByteBudget;
}

/** A verified body and the budget it holds until the response is sent. */
export interface SignedBody {
  raw: Buffer;
  /** Gives the body's bytes back to the budget; safe to call more than once. */
  release(): void;
}

const SIGNATURE = /^[0-9a-f]{64}$/i;

export function readSignedBody(headers: IncomingHttpHeaders, stream: Readable, options: SignedBodyOptions): Promise<SignedBody> {
  const { secret, limit, budget } = options;
  if (!secret) return Promise.reject(new HttpError(503, 'not_configured', 'NYLAS_WEBHOOK_SECRET is not set; deliveries are refused'));
  const header = headers['x-nylas-signature'];
  if (typeof header !== 'string' || !SIGNATURE.test(header.trim())) {
    return Promise.reject(new HttpError(401, 'invalid_signature', 'x-nylas-signature is missing or not a hex HMAC-SHA256'));
  }
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));

  return new Promise<SignedBody>((resolve, reject) => {
    const hmac = createHmac('sha256', secret);
    const chunks: Buffer[] = [];
    let held = 0;
    let settled = false;
    const release = () => {
      budget.give(held);
      held = 0;
    };
    const finish = (err: Error | undefined, body?: SignedBody) => {
      if (settled) return;
      settled = true;
      stream.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (err) {
        chunks.length = 0;
        release();
        // Stop reading; the refusal closes the connection, which discards whatever is left.
        stream.pause();
        reject(err);
      } else resolve(body!);
    };
    const onData = (chunk: Buffer) => {
      if (held + chunk.length > limit) return finish(tooLarge(limit));
      if (!budget.take(chunk.length)) {
        return finish(new HttpError(503, 'busy', 'too many webhook bodies in progress; retry shortly'));
      }
      held += chunk.length;
      hmac.update(chunk);
      chunks.push(chunk);
    };
    const onEnd = () => {
      const expected = hmac.digest();
      const given = Buffer.from(header.trim().toLowerCase(), 'hex');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        // Nothing is written for an unsigned or forged delivery.
        return finish(new HttpError(401, 'invalid_signature', 'x-nylas-signature does not match the body'));
      }
      finish(undefined, { raw: Buffer.concat(chunks, held), release });
    };
    const onError = (err: Error) => finish(err);
    const onAborted = () => finish(new HttpError(400, 'aborted', 'the request was aborted'));
    stream.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'body_too_large', `a webhook body may be at most ${limit} bytes`);
}

/** Constant-time comparison of the lowercase hex HMAC-SHA256 of the raw body. */
export function signatureMatches(raw: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string') return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.trim().toLowerCase(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
