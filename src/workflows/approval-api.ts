/**
 * Approval routes (docs/API.md):
 * - `GET /api/approvals?status&approver&runId&limit`: approvals, newest first (an approver's inbox);
 * - `GET /api/approvals/me`: who a decision from this caller would be made as (the dashboard's
 *   sign-in check): with NOVA_USERS, the user of `X-User-Token` (401 without a valid one);
 *   without, the `X-User-ID` / `X-User-Roles` headers, if any;
 * - `GET /api/approvals/:id`: one approval with its decisions (the audit trail);
 * - `POST /api/approvals/:id/decision` {decision, by, reason?, data?}: decides; 400 for a decision
 *   that may not be made as sent (no reason, data not fitting the form), 403 for a caller who may
 *   not decide (not an approver, or the run's starter), 409 once resolved or already decided;
 * - `GET /api/approvals/:id/approve?token=…` and `/reject?token=…[&reason=…]`: a signed one-time
 *   link's confirm page (a GET never decides: link previews fetch it); its button POSTs the same
 *   path with the token (form or JSON body, or the query), which decides; 400 malformed,
 *   403 tampered, 410 expired or used;
 * - `POST /api/approval` {run_id, node_id, approved, comment?, data?} with `X-User-ID`: the
 *   original fanout's route, deciding as that user with the same checks.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../runtime/http-error.ts';
import type { WorkflowsConfig } from './config.ts';
import { identify } from './identity.ts';
import { LinkRefused, verifyLink } from './approval-links.ts';
import * as astore from './approval-store.ts';
import { approvalJson, decide } from './approvals.ts';
import type { WorkflowEngine } from './engine.ts';

const idParam = z.object({ id: z.uuid({ error: 'must be a UUID' }) });
const listQuery = z.object({
  status: z.enum(['pending', 'approved', 'rejected', 'timed_out', 'cancelled']).optional(),
  approver: z.string().min(1).max(200).optional(),
  runId: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const decisionBody = z.strictObject({
  decision: z.enum(['approve', 'reject']),
  by: z.string().min(1).max(200).optional(),
  reason: z.string().max(2000).optional(),
  data: z.unknown().optional(),
});
const linkQuery = z.object({ token: z.string().min(1).max(4096), reason: z.string().max(2000).optional() });

const compatBody = z.object({
  run_id: z.string().min(1), node_id: z.string().min(1), approved: z.boolean(), comment: z.string().max(2000).optional(), data: z.unknown().optional(),
});

const LINK_STATUS = { malformed: 400, mismatch: 400, signature: 403, expired: 410 } as const;

export function approvalRoutes(app: FastifyInstance, engine: WorkflowEngine): void {
  const { sql } = engine.services;
  const directory = (engine.services.config as Partial<WorkflowsConfig>).NOVA_USERS;

  app.get('/api/approvals', async (req) => {
    const q = listQuery.parse(req.query);
    const rows = await astore.listApprovals(sql, q);
    const decisions = await astore.decisionsOfMany(sql, rows.map((r) => r.id));
    return { approvals: rows.map((a) => approvalJson(a, decisions.filter((d) => d.approval_id === a.id))) };
  });

  app.get('/api/approvals/me', async (req) => {
    if (!directory) {
      const user = typeof req.headers['x-user-id'] === 'string' && req.headers['x-user-id'] ? req.headers['x-user-id'] : null;
      return { directory: false, user, roles: user ? identify(undefined, req.headers).roles : [] };
    }
    const who = identify(directory, req.headers);
    return { directory: true, user: who.user, roles: who.roles };
  });

  app.get('/api/approvals/:id', async (req) => {
    const { id } = idParam.parse(req.params);
    const a = await astore.getApproval(sql, id);
    if (!a) throw new HttpError(404, 'not_found', `no approval ${id}`);
    return { approval: approvalJson(a, await astore.decisionsOf(sql, id)) };
  });

  app.post('/api/approvals/:id/decision', async (req) => {
    const { id } = idParam.parse(req.params);
    const body = decisionBody.parse(req.body ?? {});
    const who = identify(directory, req.headers, body.by);
    const r = await decide(engine, {
      approvalId: id, by: who.user, roles: who.roles, decision: body.decision, reason: body.reason, data: body.data, channel: 'api', ip: ipOf(req),
    });
    return { approval: approvalJson({ ...r.approval, status: r.status }), decision: r.decision.decision, status: r.status };
  });

  app.post('/api/approval', async (req) => {
    // The original wrote its 401 and went on with an empty user; here no user, no decision.
    if (!directory && !req.headers['x-user-id']) throw new HttpError(400, 'user_required', 'X-User-ID header is required');
    const who = identify(directory, req.headers);
    const body = compatBody.parse(req.body ?? {});
    const uuid = z.uuid().safeParse(body.run_id);
    const a = uuid.success ? await astore.approvalOfStep(sql, uuid.data, body.node_id) : undefined;
    if (!a) throw new HttpError(404, 'not_found', `no approval for run ${body.run_id} node ${body.node_id}`);
    const r = await decide(engine, {
      approvalId: a.id, by: who.user, roles: who.roles, decision: body.approved ? 'approve' : 'reject', reason: body.comment, data: body.data, channel: 'api', ip: ipOf(req),
    });
    return { success: true, message: `decision recorded: ${r.decision.decision}`, run_id: a.run_id, node_id: a.step_id, status: r.status };
  });

  // Signed links: urlencoded form posts from the confirm page (this scope only).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const claimsOf = (id: string, token: string, decision: 'approve' | 'reject') => {
    try {
      const claims = verifyLink(engine.linkSecret, token);
      if (claims.approvalId !== id || claims.decision !== decision) throw new LinkRefused('mismatch', `this link is for ${claims.decision} of approval ${claims.approvalId}`);
      return claims;
    } catch (err) {
      if (err instanceof LinkRefused) throw new HttpError(LINK_STATUS[err.reason], `link_${err.reason}`, err.message);
      throw err;
    }
  };

  for (const decision of ['approve', 'reject'] as const) {
    // The signed token is the credential: the link works without NOVA_API_TOKEN (runtime/auth.ts).
    // GET only shows what the link would do: mail scanners and chat link previews fetch every URL
    // they see, so a GET must never decide. The page's button POSTs the same token.
    app.get(`/api/approvals/:id/${decision}`, { config: { ownCredential: true } }, async (req, reply) => {
      const { id } = idParam.parse(req.params);
      const q = linkQuery.parse(req.query);
      const claims = claimsOf(id, q.token, decision);
      const a = await astore.getApproval(sql, id);
      if (!a) throw new HttpError(404, 'not_found', `no approval ${id}`);
      if (await astore.linkUsed(sql, claims.id)) throw new HttpError(410, 'link_used', 'this approval link was already used');
      return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
        .send(confirmPage(a, claims.approver, decision, q.token, q.reason));
    });
    app.post(`/api/approvals/:id/${decision}`, { config: { ownCredential: true } }, async (req, reply) => {
      const { id } = idParam.parse(req.params);
      const form = typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
      const q = linkQuery.parse({ ...(req.query as object), ...form });
      const claims = claimsOf(id, q.token, decision);
      const r = await decide(engine, {
        approvalId: id, by: claims.approver, decision, reason: q.reason, channel: 'link', ip: ipOf(req), linkId: claims.id,
      });
      const result = { approval: approvalJson({ ...r.approval, status: r.status }), decision, by: claims.approver, status: r.status };
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return result;
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
        .send(page('Decision recorded', `<p>${decision === 'approve' ? 'Approved' : 'Rejected'} as <b>${esc(claims.approver)}</b>. The approval is now <b>${esc(r.status)}</b>.</p>`));
    });
  }
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><meta name="robots" content="noindex">
<title>${esc(title)}</title><style>body{font:16px system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}button{font-size:1rem;padding:.5rem 1.5rem}textarea{width:100%}</style></head>
<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

/** The page a signed link opens: what would be decided, and a button that POSTs it. */
function confirmPage(a: astore.ApprovalRow, approver: string, decision: 'approve' | 'reject', token: string, reason: string | undefined): string {
  const verb = decision === 'approve' ? 'Approve' : 'Reject';
  const needsReason = decision === 'reject' || a.require_reason;
  return page(`${verb} this request?`, `<p>${esc(a.message ?? `Approval ${a.id}`)}</p>
<p>Run <code>${esc(a.run_id)}</code>, step <code>${esc(a.step_id)}</code>; deciding as <b>${esc(approver)}</b>. Status: <b>${esc(a.status)}</b>.</p>
<form method="post"><input type="hidden" name="token" value="${esc(token)}">
<p><label>Reason${needsReason ? ' (required)' : ''}<br><textarea name="reason" rows="3"${needsReason ? ' required' : ''}>${esc(reason ?? '')}</textarea></label></p>
<button type="submit">${verb}</button></form>`);
}

function ipOf(req: FastifyRequest): string | null {
  return req.ip || null;
}
