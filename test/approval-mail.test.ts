import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiDomain } from '../src/http/index.ts';
import { SmtpSink } from '../src/emulators/smtp/index.ts';
import { approvalMail } from '../src/notify/approval-mail.ts';
import { createNotify } from '../src/notify/index.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { usersVariable } from '../src/workflows/identity.ts';
import { defineWorkflow, workflowEngineOf, workflowsDomain, type WorkflowsDomain } from '../src/workflows/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { freePort, startRuntime, until } from './helpers/runtime.ts';

const BOB = 'bob-mail-personal-token-0123456789';
const CAROL = 'carol-mail-personal-token-0123456789';
const ANA = 'ana-mail-personal-token-0123456789';
const API_TOKEN = 'approval-mail-api-token-0123456789';

const expense = defineWorkflow({ name: 't.mailed-expense' }, async ({ input, step }) => {
  const o = input as { form?: boolean };
  return step.approval('manager', {
    approvers: ['bob', 'carol'], message: 'Approve <b>lunch</b> for 42 €?\r\nBcc: evil@example.com',
    ...(o.form && { form: { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] } }),
  });
});

/** A header's value, its RFC 2047 Q-encoded words decoded. */
const header = (value: string) => value.replace(/=\?UTF-8\?Q\?(.*?)\?=\s*/gi, (_, q: string) =>
  Buffer.from(q.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (__, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'));

/** The text of a captured message: quoted-printable soft breaks joined, escapes decoded. */
const decoded = (raw: string) => raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

describe('approval mail', () => {
  it('reads an approver\'s address from NOVA_USERS (name:token:roles:email) and refuses a bad one', () => {
    const dir = usersVariable.parse(`bob:${BOB}::bob@example.com,dora:${CAROL}:finance|audit:dora@example.org,ana:${ANA}`)!;
    expect(dir.byName.get('bob')).toEqual({ roles: [], email: 'bob@example.com' });
    expect(dir.byName.get('dora')).toEqual({ roles: ['finance', 'audit'], email: 'dora@example.org' });
    expect(dir.byName.get('ana')).toEqual({ roles: [] });
    for (const bad of [`bob:${BOB}::not-an-address`, `bob:${BOB}::bob@example.com:extra`]) {
      const r = usersVariable.safeParse(bad);
      expect(r.success, bad).toBe(false);
      expect(r.error!.issues[0]!.message).toContain('name:token[:role|role[:email]]');
    }
  });

  it('escapes the message in HTML, keeps the subject to one line, and leaves out approve for a form', () => {
    const approval = { id: 'a1', runId: 'r1', stepId: 's1', message: '<script>x</script>\r\nsecond line' } as never;
    const links = { approve: 'https://n.example/api/approvals/a1/approve?token=t&x=1', reject: 'https://n.example/api/approvals/a1/reject?token=u', expiresAt: '2026-12-02T00:00:00.000Z' };
    const mail = approvalMail({ approver: 'bob', email: 'bob@example.com', approval, links });
    expect(mail.subject).toBe('Approval needed: <script>x</script>');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('&#60;script&#62;x&#60;/script&#62;');
    expect(mail.html).toContain('href="https://n.example/api/approvals/a1/approve?token=t&#38;x=1"');
    const form = approvalMail({ approver: 'bob', email: 'bob@example.com', approval, links: { ...links, approve: null } });
    expect(form.text).not.toContain('Approve:');
    expect(form.text).toContain(`Reject: ${links.reject}`);
  });
});

describe.each(backends)('approval links by mail on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let base: string;
  const sink = new SmtpSink();

  beforeAll(async () => {
    db = await backend.create();
    await sink.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // As src/domains.ts wires them: the workflows domain hands its links to the notify domain's mailer.
    const notify = createNotify({ engine: workflowEngineOf });
    const workflows: WorkflowsDomain = { ...workflowsDomain({ workflows: [expense, ...notify.workflows], sendLinks: notify.approvalLinks }), setupRoles: ['notifications'] };
    runtime = await startRuntime(db, [apiDomain, workflows, notify.domain], {
      WORKER_TYPE: 'api,workflow-runner,hitl-worker', PORT: String(port), API_HOST: '127.0.0.1', POLL_INTERVAL_MS: '100',
      NOTIFY_SMTP_URL: sink.url, APPROVAL_LINK_SECRET: 'mail-approval-link-secret-0123456789abcdef', APPROVAL_LINK_BASE_URL: base,
      NOVA_API_TOKEN: API_TOKEN, NOVA_USERS: `bob:${BOB}::bob@example.com,carol:${CAROL},ana:${ANA}`,
    });
  });
  afterAll(async () => {
    await runtime?.stop();
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
    const text = decoded(mail!.raw);
    const approve = text.match(/Approve: (\S+)/)?.[1];
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
});
