/**
 * Signed one-time approval links, for email and chat: `GET /api/approvals/:id/approve?token=…`
 * (or `/reject`). The token is `<payload>.<mac>`, both base64url; the payload names the link
 * (its id, recorded when used so it works once), the approval, the approver, the decision and
 * the expiry; the mac is HMAC-SHA256 of the payload under APPROVAL_LINK_SECRET.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export interface LinkClaims {
  /** The link's own id: a second use of the same link is refused. */
  id: string;
  approvalId: string;
  approver: string;
  decision: 'approve' | 'reject';
  /** Expiry, epoch ms. */
  exp: number;
}

const claimsSchema = z.strictObject({
  id: z.string().min(16).max(64),
  approvalId: z.uuid(),
  approver: z.string().min(1).max(200),
  decision: z.enum(['approve', 'reject']),
  exp: z.number().int().positive(),
});

/** Why a link was refused; the API answers 400 (malformed), 403 (bad signature) or 410 (expired). */
export class LinkRefused extends Error {
  override name = 'LinkRefused';
  constructor(readonly reason: 'malformed' | 'signature' | 'expired' | 'mismatch', message: string) {
    super(message);
  }
}

const mac = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest();

export function signLink(secret: string, claims: Omit<LinkClaims, 'id'> & { id?: string }): string {
  const full: LinkClaims = { ...claims, id: claims.id ?? randomBytes(16).toString('hex') };
  const payload = Buffer.from(JSON.stringify(full)).toString('base64url');
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/** The claims of a genuine, unexpired token; throws LinkRefused otherwise. */
export function verifyLink(secret: string, token: string, now = Date.now()): LinkClaims {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined) throw new LinkRefused('malformed', 'the link token is malformed');
  const expected = mac(secret, payload);
  const given = Buffer.from(signature, 'base64url');
  // Constant-time, so the signature cannot be guessed byte by byte from response times.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new LinkRefused('signature', 'the link signature does not match');
  let claims: LinkClaims;
  try {
    claims = claimsSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
  } catch {
    throw new LinkRefused('malformed', 'the link token is malformed');
  }
  if (claims.exp <= now) throw new LinkRefused('expired', `the link expired at ${new Date(claims.exp).toISOString()}`);
  return claims;
}
