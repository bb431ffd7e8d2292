import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiDomain } from '../src/http/index.ts';
import { SmtpSink } from '../src/emulators/smtp/index.ts';
import { approvalLinkMailer, approvalMail } from '../src/notify/approval-mail.ts';
import { createNotify } from '../src/notify/index.ts';
import type { Services } from '../src/runtime/domain.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { usersVariable } from '../src/workflows/identity.ts';
import { defineWorkflow, workflowEngineOf, workflowsDomain, type ApprovalLinkDelivery } from '../src/workflows/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

const BOB = 'bob-mail-personal-token-0123456789';
const CAROL = 'carol-mail-personal-token-0123456789';
const DAN = 'dan-mail-personal-token-0123456789';
const ANA = 'ana-mail-personal-token-0123456789';
const API_TOKEN = 'approval-mail-api-token-0123456789';
const SECRET = 'mail-approval-link-secret-0123456789abcdef';

const expense = defineWorkflow({ name: 't.mailed-expense' }, async ({ input, step }) => {
  const o = input as { form?: boolean; approvers?: string[] };
  return step.approval('manager', {
    approvers: o.approvers ?? ['bob', 'carol'], message: 'Approve <b>lunch</b> for 42 €?\r\nBcc: evil@example.com',
    ...(o.form && { form: { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] } }),
  });
});

/** A header's value, its RFC 2047 Q-encoded words decoded. */
const header = (value: string) => value.replace(/=\?UTF-8\?Q\?(.*?)\?=\s*/gi, (_, q: string) =>
  Buffer.from(q.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (__, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'));

/** The text of a captured message: quoted-printable soft breaks joined, escapes decoded. */
const decoded = (raw: string) => raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

const delivery = (over: Partial<ApprovalLinkDelivery> = {}): ApprovalLinkDelivery => ({
  approver: 'bob', email: 'bob@example.com',
  approval: { id: 'a1', runId: 'r1', stepId: 's1', message: '<script>x</script>\r\nsecond line' } as never,
  links: { approve: 'https://n.example/api/approvals/a1/approve?token=t&x=1', reject: 'https://n.example/api/approvals/a1/reject?token=u', expiresAt: '2026-12-02T00:00:00.000Z' },
  ...over,
});

describe('approval mail', () => {
  it('reads an approver\'s address from NOVA_USERS (name:token:roles:email) and refuses a bad one', () => {
    const dir = usersVariable.parse(`bob:${BOB}::bob@example.com,dora:${CAROL}:finance|audit:dora@example.org,ana:${ANA}`)!;
    expect(dir.byName.get('bob')).toEqual({ roles: [], email: 'bob@example.com' });
    expect(dir.byName.get('dora')).toEqual({ roles: ['finance', 'audit'], email: 'dora@example.org' });
    expect(dir.byName.get('ana')).toEqual({ roles: [] });
    for (const bad of ['not-an-address', 'a<b>@x.com', 'x@y.com;z.com', `${'a'.repeat(65)}@x.com`]) {
      const r = usersVariable.safeParse(`bob:${BOB}::${bad}`);
      expect(r.success, bad).toBe(false);
      expect(r.error!.issues[0]!.message).toBe('the address of "bob" is not a plain email address (name:token:roles:email)');
    }
    expect(usersVariable.safeParse(`bob:${BOB}::bob@example.com:extra`).error!.issues[0]!.message).toContain('name:token[:role|role[:email]]');
  });

  it('escapes the message in HTML, keeps the subject to one line, and leaves out approve for a form', () => {
    const mail = approvalMail(delivery());
    expect(mail.subject).toBe('Approval needed: <script>x</script>');
    expect(approvalMail(delivery({ approval: { id: 'a1', runId: 'r1', stepId: 's1', message: 'one\rtwo' } as never })).subject).toBe('Approval needed: one two');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&#60;script&#62;x&#60;/script&#62;');
    expect(mail.html).toContain('href="https://n.example/api/approvals/a1/approve?token=t&#38;x=1"');
    const form = approvalMail(delivery({ links: { ...delivery().links, approve: null } }));
    expect(form.text).not.toContain('Approve:');
    expect(form.text).toContain(`Reject: ${delivery().links.reject}`);
  });

  it('mails nothing, and says so once, without a relay, a public link base or a shared secret', async () => {
    const sink = new SmtpSink();
    await sink.start();
    try {
      const complete = { NOTIFY_SMTP_URL: sink.url, NOTIFY_EMAIL_FROM: 'Nova <n@nova.local>', APPROVAL_LINK_BASE_URL: 'https://n.example', APPROVAL_LINK_SECRET: SECRET };
      for (const missing of ['NOTIFY_SMTP_URL', 'APPROVAL_LINK_BASE_URL', 'APPROVAL_LINK_SECRET'] as const) {
        const warnings: string[] = [];
        const services = { config: { ...complete, [missing]: undefined }, log: { warn: (m: string) => void warnings.push(m) } } as unknown as Services;
        const send = approvalLinkMailer();
        await send(delivery(), services);
        await send(delivery(), services);
        expect(warnings, missing).toEqual([`approval links are not mailed: set ${missing} (approvers decide in the dashboard, the CLI or the API)`]);
      }
      expect(sink.messages()).toEqual([]);
      // All three set: the mail goes (the same sender, another process's settings).
      await approvalLinkMailer()(delivery(), { config: complete, log: { warn: () => {} } } as unknown as Services);
      expect(sink.messages().map((m) => m.to)).toEqual([['bob@example.com']]);
    } finally {
      await sink.stop();
    }
  });
});

describe.each(backends)('approval links by mail on $name', (backend) => {
  let db: TestDb;
  let api: Runtime;
  let hitl: Runtime;
  let base: string;
  const sink = new SmtpSink();

  beforeAll(async () => {
    db = await backend.create();
    await sink.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = {
      POLL_INTERVAL_MS: '100', NOTIFY_SMTP_URL: sink.url, APPROVAL_LINK_SECRET: SECRET, APPROVAL_LINK_BASE_URL: base,
      NOVA_API_TOKEN: API_TOKEN, NOVA_USERS: `bob:${BOB}::bob@example.com,carol:${CAROL},dan:${DAN}::dan@example.com,ana:${ANA}`,
    };
    api = await startRuntime(db, [apiDomain, workflowsDomain({ workflows: [expense] })], { ...env, WORKER_TYPE: 'api,workflow-runner', PORT: String(port), API_HOST: '127.0.0.1' });
    // A hitl-worker on its own, with the sender src/domains.ts wires (notify is declared, not set up here).
    const notify = createNotify({ engine: workflowEngineOf });
    hitl = await startRuntime(db, [workflowsDomain({ workflows: [expense], sendLinks: approvalLinkMailer() }), notify.domain], { ...env, WORKER_TYPE: 'hitl-worker' });
  });
  afterAll(async () => {
    await hitl?.stop();
    await api?.stop();
    await sink.stop();
    await db?.drop();
  });

  const start = async (input: unknown) => {
    const res = await fetch(`${base}/api/workflows/t.mailed-expense/runs`, {
      method: 'POST', headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json', 'x-user-token': ANA }, body: JSON.stringify({ input }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { run: { id: string } }).run.id;
  };
  const approvalOf = async (runId: string) => {
    const [row] = await db.sql.query<{ id: string }>('select id from approvals where run_id = $1', [runId]);
    return row?.id;
  };
  const mailsOf = (approvalId: string) => sink.messages().filter((m) => m.raw.includes(`X-Nova-Approval: ${approvalId}`));

  it('mails an approver with an address their own links, which decide once, and stores the mail nowhere', async () => {
    const runId = await start({});
    let id: string | undefined;
    await until(async () => !!(id = await approvalOf(runId)) && mailsOf(id).length > 0, 10_000, 'the approval mail');
    const [mail] = mailsOf(id!);
    // Only bob has an address; carol decides in the dashboard, the CLI or the API.
    expect(mail!.to).toEqual(['bob@example.com']);
    expect(header(mail!.subject)).toBe('Approval needed: Approve <b>lunch</b> for 42 €?');
    // The message's second line stays in the body, never a header of its own.
    expect(mail!.raw.split(/\r?\n\r?\n/, 1)[0]).not.toMatch(/^Bcc:/im);
    const approve = decoded(mail!.raw).match(/Approve: (\S+)/)?.[1];
    expect(approve).toMatch(new RegExp(`^${base}/api/approvals/${id}/approve\\?token=`));
    expect((await fetch(approve!, { method: 'POST' })).status).toBe(200);
    expect((await fetch(approve!, { method: 'POST' })).status).toBe(410);
    await until(async () => (await db.sql.query<{ status: string }>('select status from runs where id = $1', [runId]))[0]?.status === 'completed', 10_000, 'the run');
    const [decision] = await db.sql.query<{ decided_by: string; channel: string }>('select decided_by, channel from approval_decisions where approval_id = $1', [id]);
    expect(decision).toMatchObject({ decided_by: 'bob', channel: 'link' });
    // Not a notification, not a delivery: those are readable with the API token.
    const [stored] = await db.sql.query<{ n: number }>(
      `select (select count(*) from notify.ent_notification)::int + (select count(*) from notify.ent_notification_delivery)::int as n`);
    expect(stored!.n).toBe(0);
  });

  it('mails only the reject link for an approval with a form', async () => {
    const runId = await start({ form: true });
    let id: string | undefined;
    await until(async () => !!(id = await approvalOf(runId)) && mailsOf(id).length > 0, 10_000, 'the approval mail');
    const text = decoded(mailsOf(id!)[0]!.raw);
    expect(text).not.toMatch(/Approve: http/);
    expect(text).toMatch(new RegExp(`Reject: ${base}/api/approvals/${id}/reject\\?token=`));
  });

  it('mails each approver apart: a relay failure for one keeps no other from their links, and the retry mails the one it missed', async () => {
    sink.failNext(1);
    const runId = await start({ approvers: ['bob', 'dan'] });
    let id: string | undefined;
    const to = (address: string) => mailsOf(id!).filter((m) => m.to.includes(address)).length;
    await until(async () => !!(id = await approvalOf(runId)) && to('bob@example.com') > 0 && to('dan@example.com') > 0, 15_000, 'both mails');
    // One of the two first sends was refused (451); the other went in that same attempt, and
    // went again with the retry, which reached the refused one too.
    await until(() => to('bob@example.com') + to('dan@example.com') === 3, 5000, 'the retried delivery');
    expect([to('bob@example.com'), to('dan@example.com')].sort()).toEqual([1, 2]);
  });
});
