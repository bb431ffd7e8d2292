import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiDomain, fanoutDomain } from '../src/http/index.ts';
import type { NovaEvent } from '../src/queue/events.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { approvalTopicGuard, defineWorkflow, signLink, StepFailed, workflowsDomain, type ApprovalLinkDelivery } from '../src/workflows/index.ts';
import * as store from '../src/workflows/store.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';
import { startRuntime, until } from './helpers/runtime.ts';

const SECRET = 'test-approval-link-secret-0123456789abcdef';

/** An expense needing `required` of `approvers`, with a form; the outcome is the run's output. */
const expense = defineWorkflow({ name: 't.expense' }, async ({ input, step }) => {
  const o = input as { approvers: string[]; required?: number; timeoutMs?: number; onTimeout?: 'reject' | 'approve' | 'fail' | 'escalate'; noForm?: boolean; strict?: boolean; escalateTo?: string[]; escalationMs?: number };
  try {
    return await step.approval('manager', {
      approvers: o.approvers, message: 'Approve the expense?',
      ...(o.required && { required: o.required }), ...(o.timeoutMs && { timeoutMs: o.timeoutMs }), ...(o.onTimeout && { onTimeout: o.onTimeout }),
      ...(o.escalateTo && { escalation: { to: o.escalateTo, timeoutMs: o.escalationMs ?? 400 } }),
      ...(!o.noForm && { form: { type: 'object', properties: { amount: { type: 'number', maximum: 1000 }, note: { type: 'string' } }, required: ['amount'], additionalProperties: false } }),
    });
  } catch (err) {
    if (!(err instanceof StepFailed) || o.strict) throw err;
    return { failed: err.message };
  }
});

describe.each(backends)('approvals on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let api: string;
  const delivered: NovaEvent[] = [];
  /** What the link channel (a mail, a chat) was handed: each approver's own links. */
  const linksSent: ApprovalLinkDelivery[] = [];
  const sendLinks = (d: ApprovalLinkDelivery) => void linksSent.push(d);

  beforeAll(async () => {
    db = await backend.create();
    runtime = await startRuntime(db, [apiDomain, workflowsDomain({ workflows: [expense], sendLinks })], {
      WORKER_TYPE: 'api,orchestrator', PORT: '0', API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '100', APPROVAL_LINK_SECRET: SECRET,
      APPROVAL_LINK_BASE_URL: 'https://approve.example/',
    });
    runtime.service.events.on((e) => {
      if (e.type === 'approval.requested') delivered.push(e);
    });
    api = `http://127.0.0.1:${runtime.apiPort}`;
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const call = async (method: string, path: string, body?: unknown, user = 'ana') => {
    const res = await fetch(`${api}${path}`, {
      method, headers: { 'x-user-id': user, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const start = async (input: unknown, user = 'ana') => {
    const res = await call('POST', '/api/workflows/t.expense/runs', { input }, user);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.run.id as string;
  };
  /** The run's approval once it is pending (the run waits for it). */
  const pending = async (runId: string, status = '&status=pending') => {
    let approval: any;
    await until(async () => {
      approval = (await call('GET', `/api/approvals?runId=${runId}${status}`)).body.approvals[0];
      return !!approval;
    }, 10_000, `an approval of run ${runId}`);
    return approval;
  };
  const finished = async (runId: string) => {
    let run: store.RunRow | undefined;
    await until(async () => {
      run = await store.getRun(db.sql, runId);
      return !!run && store.TERMINAL.includes(run.status);
    }, 10_000, `run ${runId} to finish`);
    return run!;
  };
  const decide = (id: string, by: string, body: Record<string, unknown>) => call('POST', `/api/approvals/${id}/decision`, { by, ...body }, by);

  it('resolves after N of M approvals, waiting without a job slot, and audits each decision', async () => {
    const runId = await start({ approvers: ['bob', 'carol', 'dave'], required: 2 });
    const a = await pending(runId);
    expect(a).toMatchObject({ approvers: ['bob', 'carol', 'dave'], required: 2, message: 'Approve the expense?', startedBy: 'ana' });
    // The inbox of one approver lists it; another user's does not.
    expect((await call('GET', '/api/approvals?status=pending&approver=carol')).body.approvals.map((x: any) => x.id)).toContain(a.id);
    expect((await call('GET', '/api/approvals?status=pending&approver=zed')).body.approvals.map((x: any) => x.id)).not.toContain(a.id);
    await until(async () => (await runtime.service.queue.metrics('workflow.tick')).active === 0, 5000, 'no tick to hold a slot');
    expect((await store.getRun(db.sql, runId))!.status).toBe('waiting');

    const first = await decide(a.id, 'bob', { decision: 'approve', data: { amount: 120 } });
    expect(first).toMatchObject({ status: 200, body: { status: 'pending' } });
    expect((await store.getRun(db.sql, runId))!.status).toBe('waiting');
    expect((await decide(a.id, 'bob', { decision: 'approve', data: { amount: 120 } })).body.error.code).toBe('already_decided');

    expect((await decide(a.id, 'carol', { decision: 'approve', data: { amount: 120, note: 'ok' } })).body.status).toBe('approved');
    const run = await finished(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toMatchObject({ approvalId: a.id, approved: true, status: 'approved', data: { amount: 120, note: 'ok' } });
    expect((run.output as any).decisions.map((d: any) => d.by)).toEqual(['bob', 'carol']);

    const audit = (await call('GET', `/api/approvals/${a.id}`)).body.approval;
    expect(audit.status).toBe('approved');
    expect(audit.decisions).toHaveLength(2);
    for (const d of audit.decisions) {
      expect(d).toMatchObject({ decision: 'approve', channel: 'api', data: { amount: 120 } });
      expect(d.ip).toMatch(/127\.0\.0\.1/);
      expect(Date.parse(d.at)).not.toBeNaN();
    }
    // The hitl-worker delivered the request to each approver's topic.
    await until(() => delivered.filter((e) => (e.data as any).id === a.id).length === 3, 5000, 'three deliveries');
    expect(delivered.filter((e) => (e.data as any).id === a.id).map((e) => e.topic).sort()).toEqual(['approvals:bob', 'approvals:carol', 'approvals:dave']);
  });

  it('rejects once N of M can no longer be reached', async () => {
    const runId = await start({ approvers: ['bob', 'carol', 'dave'], required: 2 });
    const a = await pending(runId);
    expect((await decide(a.id, 'bob', { decision: 'reject', reason: 'too much' })).body.status).toBe('pending');
    expect((await decide(a.id, 'carol', { decision: 'reject', reason: 'agree' })).body.status).toBe('rejected');
    expect((await finished(runId)).output).toMatchObject({ approved: false, status: 'rejected', data: null });
    expect((await decide(a.id, 'dave', { decision: 'approve', data: { amount: 1 } })).status).toBe(409);
  });

  it('refuses a decision whose data does not fit the form, or a rejection without a reason, changing nothing', async () => {
    const runId = await start({ approvers: ['bob'] });
    const a = await pending(runId);
    const bad = await decide(a.id, 'bob', { decision: 'approve', data: { amount: 5000, extra: true } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_form');
    expect(bad.body.error.message).toMatch(/amount: must be <= 1000/);
    expect((await decide(a.id, 'bob', { decision: 'approve' })).body.error.code).toBe('form_required');
    const noReason = await decide(a.id, 'bob', { decision: 'reject' });
    expect(noReason).toMatchObject({ status: 400, body: { error: { code: 'reason_required' } } });
    const after = (await call('GET', `/api/approvals/${a.id}`)).body.approval;
    expect(after).toMatchObject({ status: 'pending', decisions: [] });
    expect((await store.getRun(db.sql, runId))!.status).toBe('waiting');
    // A fitting decision still goes through afterwards.
    expect((await decide(a.id, 'bob', { decision: 'approve', data: { amount: 10 } })).body.status).toBe('approved');
    expect((await finished(runId)).output).toMatchObject({ approved: true, data: { amount: 10 } });
  });

  it('refuses self-approval by the one who started the run, and decisions by non-approvers', async () => {
    const runId = await start({ approvers: ['ana', 'bob'] }, 'ana');
    const a = await pending(runId);
    const self = await decide(a.id, 'ana', { decision: 'approve', data: { amount: 1 } });
    expect(self).toMatchObject({ status: 403, body: { error: { code: 'self_approval' } } });
    expect((await decide(a.id, 'mallory', { decision: 'approve', data: { amount: 1 } })).body.error.code).toBe('not_an_approver');
    expect((await call('GET', `/api/approvals/${a.id}`)).body.approval).toMatchObject({ status: 'pending', decisions: [] });
    // The starter is not counted as a possible approver: bob's rejection settles it.
    expect((await decide(a.id, 'bob', { decision: 'reject', reason: 'no' })).body.status).toBe('rejected');
    expect((await finished(runId)).output).toMatchObject({ approved: false });

    // When only the starter could approve, the step fails at once rather than waiting forever.
    const alone = await start({ approvers: ['ana'], strict: true }, 'ana');
    const run = await finished(alone);
    expect(run.status).toBe('failed');
    expect(run.error).toMatchObject({ message: expect.stringMatching(/ana started the run and may not approve it/) });
    expect((await call('GET', `/api/approvals?runId=${alone}`)).body.approvals[0].status).toBe('cancelled');
  });

  it.each([
    ['reject', { approved: false, status: 'timed_out' }],
    ['approve', { approved: true, status: 'timed_out' }],
    ['fail', { failed: expect.stringMatching(/not decided by/) }],
  ] as const)('applies timeout policy %s when nobody decides in time', async (onTimeout, expected) => {
    const runId = await start({ approvers: ['bob'], timeoutMs: 300, onTimeout });
    // Any status: on a busy machine the timeout may pass before the first look.
    const a = await pending(runId, '');
    expect(a.onTimeout).toBe(onTimeout);
    const run = await finished(runId);
    expect(run.status).toBe('completed');
    expect(run.output).toMatchObject(expected);
    expect((await call('GET', `/api/approvals/${a.id}`)).body.approval.status).toBe('timed_out');
    // Too late: a decision after the timeout changes nothing.
    expect((await decide(a.id, 'bob', { decision: 'approve', data: { amount: 1 } })).status).toBe(409);
  });

  it('escalates to other approvers on timeout (delivered to them), then applies the escalation policy at its own timeout', async () => {
    const runId = await start({ approvers: ['bob'], timeoutMs: 300, onTimeout: 'escalate', escalateTo: ['dora'], escalationMs: 60_000, noForm: true });
    const escalated = async (id: string) => {
      let a: any;
      await until(async () => ((a = (await call('GET', `/api/approvals?runId=${id}`)).body.approvals[0])?.approvers ?? []).includes('dora'), 10_000, 'the escalation');
      return a;
    };
    const a = await escalated(runId);
    expect(a).toMatchObject({ status: 'pending', onTimeout: 'reject', escalation: { to: ['dora'], escalatedAt: expect.any(String) } });
    await until(() => delivered.some((e) => e.topic === 'approvals:dora' && (e.data as any).id === a.id), 5000, 'delivery to dora');
    expect((await decide(a.id, 'dora', { decision: 'approve' })).status).toBe(200);
    expect(await finished(runId)).toMatchObject({ status: 'completed', output: { approved: true, status: 'approved' } });

    // Nobody decides after the escalation either: its policy (reject by default) applies.
    const ignored = await start({ approvers: ['bob'], timeoutMs: 300, onTimeout: 'escalate', escalateTo: ['dora'], noForm: true });
    await escalated(ignored);
    expect(await finished(ignored)).toMatchObject({ status: 'completed', output: { approved: false, status: 'timed_out' } });
    const bad = await start({ approvers: ['bob'], timeoutMs: 300, onTimeout: 'escalate', noForm: true });
    expect(await finished(bad)).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/escalate needs escalation.to/) } });
  });

  it('applies due timeouts once with two hitl-worker processes taking the jobs', async () => {
    const second = await startRuntime(db, [workflowsDomain({ workflows: [expense] })], { WORKER_TYPE: 'hitl-worker', POLL_INTERVAL_MS: '50', APPROVAL_LINK_SECRET: SECRET });
    try {
      const runs = await Promise.all(Array.from({ length: 8 }, () => start({ approvers: ['bob'], timeoutMs: 400, onTimeout: 'approve', noForm: true })));
      for (const id of runs) expect(await finished(id)).toMatchObject({ status: 'completed', output: { approved: true, status: 'timed_out' } });
      const steps = await db.sql.query<{ status: string; n: number }>(
        `select a.status, count(*)::int as n from approvals a where a.run_id = any($1::uuid[]) group by a.status`, [runs]);
      expect(steps).toEqual([{ status: 'timed_out', n: 8 }]);
      // Every timeout job completed: none is left retrying or dead after a lost race.
      const ids = (await db.sql.query<{ id: string }>('select id::text as id from approvals where run_id = any($1::uuid[])', [runs])).map((r) => r.id);
      await until(async () => (await db.sql.query(`select 1 from nova_jobs where queue = 'workflow.approval' and payload->>'approvalId' = any($1::text[])`, [ids])).length === 0, 5000, 'the approval jobs to finish');
      const results = await db.sql.query<{ kind: string; state: string; n: number }>(
        `select payload->>'kind' as kind, state, count(*)::int as n from nova_job_results
         where queue = 'workflow.approval' and payload->>'approvalId' = any($1::text[]) group by 1, 2 order by 1`, [ids]);
      expect(results).toEqual([{ kind: 'deliver', state: 'completed', n: 8 }, { kind: 'timeout', state: 'completed', n: 8 }]);
    } finally {
      await second.stop();
    }
  });

  it('re-asks after a rerun of a step that failed by timeout, and cancels the approval of a cancelled run', async () => {
    // Long enough that the rerun's new approval cannot time out before the decision below.
    const runId = await start({ approvers: ['bob'], timeoutMs: 1500, onTimeout: 'fail', strict: true, noForm: true });
    const first = await pending(runId);
    const failed = await finished(runId);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ message: expect.stringMatching(/not decided by/) });
    expect((await call('POST', `/api/runs/${runId}/rerun`)).status).toBe(202);
    let again: any;
    await until(async () => {
      again = (await call('GET', `/api/approvals?runId=${runId}&status=pending`)).body.approvals[0];
      return !!again;
    }, 10_000, 'the step to ask again');
    expect(again.id).not.toBe(first.id);
    expect((await decide(again.id, 'bob', { decision: 'approve' })).body.status).toBe('approved');
    expect(await finished(runId)).toMatchObject({ status: 'completed', output: { approved: true } });
    expect((await call('GET', `/api/approvals/${first.id}`)).body.approval.status).toBe('timed_out');

    const cancelled = await start({ approvers: ['bob'] });
    const a = await pending(cancelled);
    expect((await call('POST', `/api/runs/${cancelled}/cancel`)).status).toBe(200);
    expect((await call('GET', `/api/approvals/${a.id}`)).body.approval.status).toBe('cancelled');
    expect((await decide(a.id, 'bob', { decision: 'approve', data: { amount: 1 } })).status).toBe(409);
  });

  it('accepts a signed link once and refuses expired or tampered ones', async () => {
    // With a form there is no approve link (a click carries no data): check that first.
    const withForm = await pending(await start({ approvers: ['bob'] }));
    await until(() => linksSent.some((d) => d.approval.id === withForm.id), 5000, 'links of the form approval');
    expect(linksSent.find((d) => d.approval.id === withForm.id)!.links).toMatchObject({ approve: null, reject: expect.stringContaining('/reject?token=') });

    const runId = await start({ approvers: ['bob', 'carol'], required: 2, noForm: true });
    const a = await pending(runId);
    // Each approver is handed their own links through the link channel, and only there.
    await until(() => linksSent.filter((d) => d.approval.id === a.id).length === 2, 5000, 'links for bob and carol');
    expect(linksSent.filter((d) => d.approval.id === a.id).map((d) => d.approver).sort()).toEqual(['bob', 'carol']);
    const links = linksSent.find((d) => d.approver === 'bob' && d.approval.id === a.id)!.links as { approve: string; reject: string };
    expect(links.approve).toMatch(/^https:\/\/approve\.example\/api\/approvals\//);
    // The events published for the same approvals (on /ws, LISTEN/NOTIFY) carry no link nor token.
    await until(() => delivered.filter((e) => (e.data as any).id === a.id).length === 2, 5000, 'events for bob and carol');
    const published = JSON.stringify(delivered.filter((e) => [a.id, withForm.id].includes((e.data as any).id)));
    expect(published).not.toMatch(/token=|\/approve\?|\/reject\?|"links"/);
    expect(published).not.toContain(new URL(links.approve).searchParams.get('token')!.split('.')[1]);
    const path = (url: string) => url.slice(url.indexOf('/api/'));

    const token = new URL(links.approve).searchParams.get('token')!;
    const [payload, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), approver: 'carol' })).toString('base64url');
    expect((await call('GET', `/api/approvals/${a.id}/approve?token=${forged}.${mac}`)).status).toBe(403);
    const flipped = `${mac![0] === 'A' ? 'B' : 'A'}${mac!.slice(1)}`;
    expect((await call('GET', `/api/approvals/${a.id}/approve?token=${payload}.${flipped}`)).status).toBe(403);
    expect((await call('GET', `/api/approvals/${a.id}/approve?token=garbage`)).status).toBe(400);
    // A genuine approve link does not work as a reject link.
    expect((await call('GET', `/api/approvals/${a.id}/reject?token=${token}&reason=x`)).status).toBe(400);
    const expired = signLink(SECRET, { approvalId: a.id, approver: 'carol', decision: 'approve', exp: Date.now() - 1 });
    expect((await call('GET', `/api/approvals/${a.id}/approve?token=${expired}`))).toMatchObject({ status: 410, body: { error: { code: 'link_expired' } } });
    expect((await call('GET', `/api/approvals/${a.id}`)).body.approval.decisions).toEqual([]);

    // A GET (a mail scanner, a chat preview, the approver's click) only shows a confirm page.
    for (let i = 0; i < 2; i++) {
      const preview = await fetch(`${api}${path(links.approve)}`);
      expect(preview.status).toBe(200);
      expect(preview.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await preview.text();
      expect(html).toContain('<form method="post">');
      expect(html).toContain(`value="${token}"`);
    }
    expect((await call('GET', `/api/approvals/${a.id}`)).body.approval.decisions).toEqual([]);

    // The page's button: a form post of the token decides, once.
    const form = await fetch(`${api}/api/approvals/${a.id}/approve`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, reason: '' }).toString(),
    });
    expect(form.status).toBe(200);
    expect(await form.text()).toMatch(/Approved as <b>bob<\/b>\. The approval is now <b>pending<\/b>/);
    const again = await call('POST', path(links.approve));
    expect(again).toMatchObject({ status: 410, body: { error: { code: 'link_used' } } });
    expect((await call('GET', path(links.approve))).status).toBe(410);

    const carol = signLink(SECRET, { approvalId: a.id, approver: 'carol', decision: 'reject', exp: Date.now() + 60_000 });
    expect((await call('POST', `/api/approvals/${a.id}/reject?token=${carol}`)).body.error.code).toBe('reason_required');
    expect((await call('POST', `/api/approvals/${a.id}/reject`, { token: carol, reason: 'over budget' })).body.status).toBe('rejected');
    const decisions = (await call('GET', `/api/approvals/${a.id}`)).body.approval.decisions;
    expect(decisions.map((d: any) => [d.by, d.decision, d.channel, d.reason])).toEqual([['bob', 'approve', 'link', null], ['carol', 'reject', 'link', 'over budget']]);
    expect((await finished(runId)).output).toMatchObject({ approved: false });
  });

  it('runs a document with an approval node (and its hitl alias) and follows the edge the decision chose', async () => {
    const doc = (type: string) => ({
      nodes: [
        { id: 'ask', type, config: { message: 'Ship it?', approvers: ['bob'] } },
        { id: 'ship', type: 'function', config: { output: 'shipped' } },
        { id: 'hold', type: 'function', config: { output: 'held' } },
      ],
      edges: [{ from: 'ask', to: 'ship', condition: '$.approved' }, { from: 'ask', to: 'hold', condition: '!$.approved' }],
    });
    for (const [name, type, decision, expected] of [['d.approval', 'approval', 'approve', { ship: 'shipped' }], ['d.hitl', 'hitl', 'reject', { hold: 'held' }]] as const) {
      expect((await call('PUT', `/api/workflows/${name}/document`, { workflow: doc(type) })).status).toBe(201);
      const res = await call('POST', `/api/workflows/${name}/runs`, { input: {} });
      const runId = res.body.run.id as string;
      const a = await pending(runId);
      expect(a.message).toBe('Ship it?');
      if (type === 'hitl') {
        // The original's route: run and node ids, `approved`, `comment`, the user from X-User-ID.
        const compat = await call('POST', '/api/approval', { run_id: runId, node_id: 'ask', approved: false, comment: 'not today' }, 'bob');
        expect(compat).toMatchObject({ status: 200, body: { success: true, run_id: runId, node_id: 'ask', status: 'rejected' } });
      } else {
        expect((await decide(a.id, 'bob', { decision })).status).toBe(200);
      }
      const run = await finished(runId);
      expect(run.status).toBe('completed');
      expect(run.output).toEqual(expected);
    }
    const hitlRun = (await call('GET', '/api/approvals?approver=bob&status=rejected')).body.approvals.find((x: any) => x.stepId === 'ask');
    expect(hitlRun.decisions[0]).toMatchObject({ by: 'bob', decision: 'reject', reason: 'not today' });
    // The example document: a rejection's comment reaches the next node through $nodes.ask.comment.
    const example = JSON.parse(readFileSync(new URL('../examples/workflows/approval-gate.json', import.meta.url), 'utf8'));
    expect((await call('PUT', '/api/workflows/approval-gate/document', { workflow: example })).status).toBe(201);
    const gate = (await call('POST', '/api/workflows/approval-gate/runs', { input: {} })).body.run.id as string;
    const asked = await pending(gate);
    expect(asked.approvers).toEqual(['manager']);
    expect((await decide(asked.id, 'manager', { decision: 'reject', reason: 'not this week' })).status).toBe(200);
    expect((await finished(gate)).output).toEqual({ hold: 'held: not this week' });

    const noApprovers = await call('PUT', '/api/workflows/d.bad/document', { workflow: { nodes: [{ id: 'ask', type: 'hitl', config: { message: 'x' } }], edges: [] } });
    expect(noApprovers.status).toBe(400);
    expect(noApprovers.body.error.message).toMatch(/node ask: config.approvers/);
  });

  it('serves signed links without the API token the rest of /api requires', async () => {
    const guarded = await startRuntime(db, [apiDomain, workflowsDomain({ workflows: [expense] })], {
      WORKER_TYPE: 'api', PORT: '0', API_HOST: '127.0.0.1', NOVA_API_TOKEN: 'tok-approvals-0123456789', APPROVAL_LINK_SECRET: SECRET,
    });
    try {
      const url = `http://127.0.0.1:${guarded.apiPort}`;
      const runId = await start({ approvers: ['bob'], noForm: true });
      const a = await pending(runId);
      expect((await fetch(`${url}/api/approvals/${a.id}`)).status).toBe(401);
      const link = signLink(SECRET, { approvalId: a.id, approver: 'bob', decision: 'approve', exp: Date.now() + 60_000 });
      const res = await fetch(`${url}/api/approvals/${a.id}/approve?token=${link}`, { method: 'POST' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ by: 'bob', status: 'approved' });
      // A forged token is still refused by the route itself.
      expect((await fetch(`${url}/api/approvals/${a.id}/reject?token=x.y&reason=r`, { method: 'POST' })).status).toBe(403);
    } finally {
      await guarded.stop();
    }
  });

  it('takes the decider from a personal token when NOVA_USERS is set, and admits approvers by role', async () => {
    const BOB = 'bob-personal-token-0123456789';
    const DORA = 'dora-personal-token-0123456789';
    const ERIN = 'erin-personal-token-0123456789';
    const users = await startRuntime(db, [apiDomain, workflowsDomain({ workflows: [expense] })], {
      WORKER_TYPE: 'api', PORT: '0', API_HOST: '127.0.0.1', APPROVAL_LINK_SECRET: SECRET, NOVA_USERS: `bob:${BOB},dora:${DORA}:finance|audit,erin:${ERIN}:sales`,
    });
    try {
      const url = `http://127.0.0.1:${users.apiPort}`;
      const post = async (id: string, body: unknown, headers: Record<string, string>) => {
        const res = await fetch(`${url}/api/approvals/${id}/decision`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
        return { status: res.status, body: (await res.json()) as any };
      };
      const runId = await start({ approvers: ['bob', 'role:finance'], required: 2, noForm: true });
      const a = await pending(runId);
      // The header alone no longer names the decider; a token cannot decide as another user.
      expect(await post(a.id, { decision: 'approve' }, { 'x-user-id': 'bob' })).toMatchObject({ status: 401, body: { error: { code: 'identity_required' } } });
      expect(await post(a.id, { decision: 'approve' }, { 'x-user-token': 'not-a-token-of-anyone' })).toMatchObject({ status: 401, body: { error: { code: 'identity_invalid' } } });
      expect(await post(a.id, { decision: 'approve', by: 'dora' }, { 'x-user-token': BOB })).toMatchObject({ status: 403, body: { error: { code: 'identity_mismatch' } } });
      // Who the dashboard is signed in as: the token's user and roles.
      const me = async (headers: Record<string, string>) => {
        const res = await fetch(`${url}/api/approvals/me`, { headers });
        return { status: res.status, body: (await res.json()) as any };
      };
      expect(await me({ 'x-user-token': DORA })).toEqual({ status: 200, body: { directory: true, user: 'dora', roles: ['finance', 'audit'] } });
      expect(await me({ 'x-user-id': 'dora' })).toMatchObject({ status: 401, body: { error: { code: 'identity_required' } } });
      expect((await call('GET', '/api/approvals/me', undefined, 'dora')).body).toEqual({ directory: false, user: 'dora', roles: [] });
      // Role approvers: a member of finance may decide, a member of sales may not.
      expect(await post(a.id, { decision: 'approve' }, { 'x-user-token': ERIN })).toMatchObject({ status: 403, body: { error: { code: 'not_an_approver' } } });
      expect((await post(a.id, { decision: 'approve' }, { 'x-user-token': BOB })).body.status).toBe('pending');
      expect((await post(a.id, { decision: 'approve' }, { 'x-user-token': DORA })).body.status).toBe('approved');
      const decisions = (await call('GET', `/api/approvals/${a.id}`)).body.approval.decisions;
      expect(decisions.map((d: any) => d.by)).toEqual(['bob', 'dora']);
      expect((await finished(runId)).output).toMatchObject({ approved: true });
    } finally {
      await users.stop();
    }
  });

  it('on /ws with NOVA_USERS, shows an approver\'s topics only to that user\'s token, and never a link', async () => {
    const BOB = 'bob-ws-personal-token-0123456789';
    const DORA = 'dora-ws-personal-token-0123456789';
    const API_TOKEN = 'ws-approvals-api-token-0123456789';
    const secured = await startRuntime(db, [apiDomain, fanoutDomain, workflowsDomain({ workflows: [expense], sendLinks })], {
      WORKER_TYPE: 'api,fanout,orchestrator', PORT: '0', API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '100', APPROVAL_LINK_SECRET: SECRET,
      NOVA_USERS: `bob:${BOB},dora:${DORA}:finance`, NOVA_API_TOKEN: API_TOKEN,
    });
    const sockets: WebSocket[] = [];
    const socket = async (headers: Record<string, string> = {}) => {
      const ws = new WebSocket(`ws://127.0.0.1:${secured.apiPort}/ws`, { headers: { authorization: `Bearer ${API_TOKEN}`, ...headers } });
      sockets.push(ws);
      const frames: any[] = [];
      ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      });
      const subscribe = async (topics: string[], userToken?: string) => {
        const before = frames.filter((f) => f.type === 'subscribed').length;
        ws.send(JSON.stringify({ type: 'subscribe', topics, ...(userToken && { userToken }) }));
        await until(() => frames.filter((f) => f.type === 'subscribed').length > before, 5000, 'the subscription answer');
        return frames.filter((f) => f.type === 'subscribed').at(-1).topics as string[];
      };
      return { frames, subscribe, events: (id: string) => frames.filter((f) => f.type === 'event' && f.event.data?.id === id) };
    };
    try {
      const mine = ['approvals:bob', 'approvals:role:finance'];
      // The API token alone (anyone running the dashboard or a script) is refused both topics.
      const intruder = await socket();
      expect(await intruder.subscribe(mine)).toEqual([]);
      expect(intruder.frames.find((f) => f.type === 'error')).toMatchObject({ code: 'forbidden', topics: mine });
      // Another user's token does not open bob's topic, nor a role that user lacks.
      expect(await intruder.subscribe(mine, DORA)).toEqual(['approvals:role:finance']);
      const nobody = await socket();
      expect(await nobody.subscribe(mine, 'not-anybody-s-token-0123456789')).toEqual([]);
      // The user's own token: in the subscribe message (browsers) or on the upgrade.
      const bob = await socket();
      expect(await bob.subscribe(['approvals:bob'], BOB)).toEqual(['approvals:bob']);
      const dora = await socket({ 'x-user-token': DORA });
      expect(await dora.subscribe(mine)).toEqual(['approvals:role:finance']);

      const runId = await start({ approvers: ['bob', 'role:finance'], noForm: true });
      const a = await pending(runId);
      await nobody.subscribe([`run:${runId}`]);
      await until(() => bob.events(a.id).length > 0 && dora.events(a.id).length > 0, 10_000, 'the approval on bob\'s and the role\'s topics');
      expect(bob.events(a.id)[0]).toMatchObject({ topic: 'approvals:bob', event: { type: 'approval.requested', data: { id: a.id, approvers: ['bob', 'role:finance'] } } });
      expect(dora.events(a.id)[0]).toMatchObject({ topic: 'approvals:role:finance', event: { type: 'approval.requested' } });
      for (const frame of [...bob.events(a.id), ...dora.events(a.id)]) expect(JSON.stringify(frame)).not.toMatch(/token=|"links"/);

      // The link still reaches bob, through the link channel, and decides once.
      await until(() => linksSent.some((d) => d.approver === 'bob' && d.approval.id === a.id), 5000, 'bob\'s links');
      const link = linksSent.find((d) => d.approver === 'bob' && d.approval.id === a.id)!.links.approve!;
      const url = `http://127.0.0.1:${secured.apiPort}${link.slice(link.indexOf('/api/'))}`;
      expect((await fetch(url, { method: 'POST' })).status).toBe(200);
      expect((await fetch(url, { method: 'POST' })).status).toBe(410);
      // The decision's event comes after the request on the same hub: seen by the refused client
      // on the run's topic, it shows the request had its chance to arrive and did not.
      await until(() => nobody.frames.some((f) => f.type === 'event' && f.event.data?.approvalId === a.id), 10_000, 'the decision on the run topic');
      expect(nobody.events(a.id)).toEqual([]);
      expect(intruder.frames.filter((f) => f.type === 'event' && f.topic === 'approvals:bob')).toEqual([]);
      expect(await finished(runId)).toMatchObject({ status: 'completed', output: { approved: true } });
    } finally {
      for (const ws of sockets) ws.close();
      await secured.stop();
    }
    // Without NOVA_USERS (development) nothing is guarded: any topic, as before.
    expect(approvalTopicGuard(undefined)).toBeUndefined();
  });

  it('lists, approves and rejects from the command line (nova approvals)', async () => {
    const cli = async (...args: string[]) => {
      const proc = spawnNova(['approvals', ...args], { NOVA_API_URL: api, NOVA_USER: 'bob' }, 'src/cli/main.ts');
      const code = await proc.exited;
      return { code, out: proc.output() };
    };
    const runId = await start({ approvers: ['bob', 'carol'], required: 2 });
    const a = await pending(runId);
    const listed = await cli('list');
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(a.id);
    expect(listed.out).toContain('0/2');
    const refused = await cli('approve', a.id, '--data', '{"amount": 99999}');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/amount: must be <= 1000/);
    const approved = await cli('approve', a.id, '--data', '{"amount": 40}');
    expect(approved.out).toMatch(/approved as bob: approval .* is now pending/);
    const rejected = await cli('reject', a.id, '--as', 'carol', '--reason', 'duplicate');
    expect(rejected.code).toBe(0);
    expect(rejected.out).toMatch(/rejected as carol: approval .* is now rejected/);
    expect((await finished(runId)).output).toMatchObject({ approved: false });
  });
});
