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
    if (!req.url.startsWith('/api/') && req.url !== '/api') return;
    const query = new URL(req.url, 'http://nova.invalid').searchParams.get('token');
    if (!tokenMatches(req.headers.authorization, query, token)) {
      throw new HttpError(401, 'unauthorized', 'a valid API token is required (Authorization: Bearer <NOVA_API_TOKEN>)');
    }
  });
}
