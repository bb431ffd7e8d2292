/**
 * Who decides an approval. With NOVA_USERS set (`name:token[:role|role…]`, comma-separated), a
 * decision's identity is the user whose personal token the request carries in `X-User-Token`
 * (compared in constant time); `X-User-ID` and a body's `by` may only repeat it, and roles come
 * from the same list. Without NOVA_USERS (development), the `X-User-ID` header is trusted as the
 * original's was, and roles come from `X-User-Roles`. The API token (NOVA_API_TOKEN) still guards
 * every route; a personal token names who is calling, it does not replace it. On `/ws` the same
 * token is what lets a client watch an approver's topics (approvalTopicGuard).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';

export interface Directory {
  /** Each user's roles, and the address their approval links are mailed to, if given. */
  byName: Map<string, { roles: string[]; email?: string }>;
  tokens: { name: string; digest: Buffer }[];
}

/** An address approval links can be mailed to: a plain local part, a dotted domain (no lists, no names). */
const EMAIL = /^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}$/;

const digest = (v: string) => createHash('sha256').update(v).digest();

/** NOVA_USERS: `ana:<token>:finance|managers,bob:<token>`; tokens of at least 16 characters. */
export const usersVariable = z.string().optional().transform((v, ctx): Directory | undefined => {
  if (!v || !v.trim()) return undefined;
  const dir: Directory = { byName: new Map(), tokens: [] };
  for (const entry of v.split(',').map((e) => e.trim()).filter(Boolean)) {
    const [name, token, roles = '', email = '', ...extra] = entry.split(':');
    if (!name || !/^[a-zA-Z0-9_.@-]{1,200}$/.test(name) || !token || token.length < 16 || extra.length) {
      ctx.addIssue({ code: 'custom', message: `each entry must be name:token[:role|role[:email]] with a token of at least 16 characters (bad: ${JSON.stringify((name ?? '').slice(0, 40))})` });
      return z.NEVER;
    }
    if (email && (email.length > 254 || !EMAIL.test(email))) {
      ctx.addIssue({ code: 'custom', message: `the address of ${JSON.stringify(name)} is not a plain email address (name:token:roles:email)` });
      return z.NEVER;
    }
    dir.byName.set(name, { roles: roles.split('|').map((r) => r.trim()).filter(Boolean), ...(email && { email }) });
    dir.tokens.push({ name, digest: digest(token) });
  }
  return dir;
});

export interface Identity {
  user: string;
  roles: string[];
  /** Proven by a personal token (false: the development header). */
  authenticated: boolean;
}

/** The user whose personal token this is, if any (compared in constant time). */
export function userOfToken(dir: Directory, token: string): { name: string } | undefined {
  const given = digest(token);
  return dir.tokens.find((t) => timingSafeEqual(t.digest, given));
}

type Headers = Record<string, string | string[] | undefined>;
const header = (h: Headers, name: string) => (typeof h[name] === 'string' && h[name] ? (h[name] as string) : undefined);

/** The caller of a decision route; `claimed` is a body's `by`. Throws 401/403 HttpErrors. */
export function identify(dir: Directory | undefined, headers: Headers, claimed?: string): Identity {
  if (!dir) {
    const user = claimed ?? header(headers, 'x-user-id');
    if (!user) throw new HttpError(400, 'user_required', 'who decides: X-User-ID header or "by"');
    const roles = (header(headers, 'x-user-roles') ?? '').split(',').map((r) => r.trim()).filter(Boolean);
    return { user, roles, authenticated: false };
  }
  const token = header(headers, 'x-user-token');
  if (!token) throw new HttpError(401, 'identity_required', 'a decision needs the approver\'s personal token (X-User-Token, from NOVA_USERS)');
  const match = userOfToken(dir, token);
  if (!match) throw new HttpError(401, 'identity_invalid', 'X-User-Token matches no user of NOVA_USERS');
  for (const other of [claimed, header(headers, 'x-user-id')]) {
    if (other !== undefined && other !== match.name) throw new HttpError(403, 'identity_mismatch', `the token is ${match.name}'s; it cannot decide as ${other}`);
  }
  return { user: match.name, roles: dir.byName.get(match.name)!.roles, authenticated: true };
}

/** Approver entries `role:<name>` admit every member of the role. */
export const ROLE_PREFIX = 'role:';

export function mayDecide(approvers: readonly string[], who: { user: string; roles: readonly string[] }): boolean {
  return approvers.includes(who.user) || who.roles.some((r) => approvers.includes(`${ROLE_PREFIX}${r}`));
}

/** The users an approval reaches: named ones, and the directory's members of its roles. */
export function approverUsers(approvers: readonly string[], dir: Directory | undefined): string[] {
  const users = new Set(approvers.filter((a) => !a.startsWith(ROLE_PREFIX)));
  const roles = approvers.filter((a) => a.startsWith(ROLE_PREFIX)).map((a) => a.slice(ROLE_PREFIX.length));
  if (dir) for (const [name, u] of dir.byName) if (u.roles.some((r) => roles.includes(r))) users.add(name);
  return [...users];
}

const TOPIC_PREFIX = 'approvals:';

/**
 * Who may watch which approvals topic on `/ws`, given a subscriber's personal token. With
 * NOVA_USERS, `approvals:<user>` is that user's only and `approvals:role:<role>` the role's
 * members' only (an inbox shows what waits for someone, and when); other topics are not this
 * domain's to guard. Without NOVA_USERS (development) there is nobody to prove: undefined.
 */
export function approvalTopicGuard(dir: Directory | undefined): ((topic: string, userToken: string | undefined) => boolean) | undefined {
  if (!dir) return undefined;
  return (topic, userToken) => {
    if (!topic.startsWith(TOPIC_PREFIX)) return true;
    const user = userToken ? userOfToken(dir, userToken)?.name : undefined;
    if (!user) return false;
    const owner = topic.slice(TOPIC_PREFIX.length);
    if (owner.startsWith(ROLE_PREFIX)) return dir.byName.get(user)!.roles.includes(owner.slice(ROLE_PREFIX.length));
    return owner === user;
  };
}
