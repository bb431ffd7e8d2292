import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.ts';

/**
 * The API token (NOVA_API_TOKEN): a bearer token for every /api route and for /ws (where browsers
 * pass it as ?token=, since they cannot set headers on a WebSocket). Compared in constant time.
 */

export function tokenMatches(authorization: string | undefined, queryToken: string | null, token: string): boolean {
  const bearer = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
  const given = bearer ?? queryToken ?? undefined;
  if (given === undefined) return false;
  // Hash both sides: equal lengths for timingSafeEqual, and no early exit on a length mismatch.
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** Refuses /api requests without the token (401); other paths (webhooks, the dashboard) pass. */
export function requireToken(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (req) => {
    // Decide on the path as the router sees it (the matched route, else the decoded path): a raw
    // `req.url` check would let `/%61pi/queues` through to the /api/queues route.
    const url = new URL(req.url, 'http://nova.invalid');
    const path = req.routeOptions.url ?? decoded(url.pathname);
    if (!isApi(path)) return;
    const query = url.searchParams.get('token');
    if (!tokenMatches(req.headers.authorization, query, token)) {
      throw new HttpError(401, 'unauthorized', 'a valid API token is required (Authorization: Bearer <NOVA_API_TOKEN>)');
    }
  });
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
