import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.ts';

/**
 * Who may call the management API (docs/API.md, "Authentication"):
 * - with NOVA_API_TOKEN set, every /api route needs `Authorization: Bearer <token>`, and /ws the
 *   same or `?token=` (browsers cannot set headers on a WebSocket). Only /ws reads the query: a
 *   token in a REST URL ends up in access logs and browser history.
 * - without a token, a request that changes something (POST, PUT, PATCH, DELETE) must come from
 *   the dashboard's own origin, or from a client that is no browser: a cross-site page can send
 *   a form or a no-cors fetch to a local Nova, but it cannot forge `Origin` or `Sec-Fetch-Site`,
 *   and it cannot send `application/json` without a preflight Nova never answers. So such
 *   requests are refused when `Origin` names another origin (403), when `Sec-Fetch-Site` says
 *   the request is cross-site (403), or when they carry a body that is not JSON (415).
 *   `/ws` refuses a handshake whose `Origin` is another origin the same way, token or not.
 * Tokens are compared in constant time.
 * A route declared with `config: { ownCredential: true }` (a signed one-time approval link, opened
 * from an email by someone who has no API token) checks its own credential instead of the token
 * and of the origin checks (its confirm page posts a form). Only routes whose every request
 * carries an unforgeable credential of its own may declare it.
 */

export function tokenMatches(authorization: string | undefined, queryToken: string | null, token: string): boolean {
  const bearer = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
  const given = bearer ?? queryToken ?? undefined;
  if (given === undefined) return false;
  // Hash both sides: equal lengths for timingSafeEqual, and no early exit on a length mismatch.
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(token));
}

export interface ApiGuardOptions {
  /** NOVA_API_TOKEN. */
  token?: string | undefined;
  /** NOVA_ALLOWED_ORIGINS: origins besides the server's own whose pages may call the API. */
  allowedOrigins: readonly string[];
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Guards every /api route as described above; other paths (webhooks, the dashboard) pass. */
export function guardApi(app: FastifyInstance, options: ApiGuardOptions): void {
  app.addHook('onRequest', async (req) => {
    // Decide on the path as the router sees it (the matched route, else the decoded path): a raw
    // `req.url` check would let `/%61pi/queues` through to the /api/queues route.
    const url = new URL(req.url, 'http://nova.invalid');
    const path = req.routeOptions.url ?? decoded(url.pathname);
    if (!isApi(path)) return;
    // Matched routes only: an unmatched path has no config, so it cannot claim this. Such a route
    // carries its credential in the request (a signed link's token), which a cross-site page
    // cannot forge either, so the origin and JSON checks below do not apply to it.
    if ((req.routeOptions.config as { ownCredential?: unknown } | undefined)?.ownCredential === true) return;
    if (options.token) {
      if (!tokenMatches(req.headers.authorization, null, options.token)) {
        throw new HttpError(401, 'unauthorized', 'a valid API token is required (Authorization: Bearer <NOVA_API_TOKEN>)');
      }
      return;
    }
    if (SAFE_METHODS.has(req.method)) return;
    const refusal = crossOriginRefusal(req.headers, options.allowedOrigins);
    if (refusal) throw new HttpError(403, 'cross_origin', refusal);
    if (hasBody(req.headers) && !isJson(req.headers['content-type'])) {
      throw new HttpError(415, 'unsupported_media_type', 'a request body must be application/json');
    }
  });
}

/**
 * Why a browser request comes from a page of another origin, or undefined when it does not (or
 * is no browser's: command-line clients send neither header).
 */
export function crossOriginRefusal(headers: IncomingHttpHeaders, allowedOrigins: readonly string[]): string | undefined {
  const origin = headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    if (allowedOrigins.includes(origin) || sameHost(origin, headers.host)) return undefined;
    return `requests from ${origin.slice(0, 200)} are not allowed without NOVA_API_TOKEN (set it, or list the origin in NOVA_ALLOWED_ORIGINS)`;
  }
  const site = headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    return `a ${site} request is not allowed without NOVA_API_TOKEN`;
  }
  return undefined;
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\s*(;|$)/i.test(contentType);
}

function isApi(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

function decoded(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
