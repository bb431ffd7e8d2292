import { useState } from 'react';
import { api } from '../api/client.ts';
import { useResource } from '../api/hooks.ts';
import { ago } from '../format.ts';
import { Link } from '../router.tsx';
import { Badge, Empty, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import type { Approval, FormSchema } from './types.ts';

const VIEWS = [
  ['pending', 'Pending'],
  ['mine', 'Mine to decide'],
  ['decided', 'Decided'],
] as const;
type View = (typeof VIEWS)[number][0];

/** The user this browser decides as: the dashboard has one API token, not per-user sign-in. */
const ME_KEY = 'nova.approvals.me';

/**
 * The approvals inbox: pending approvals (all, or those naming you), and decided ones with
 * their audit trail. A pending approval shows its form; approve and reject post a decision as
 * the user named at the top. Polled (approval events go to per-user topics the page may not know).
 */
export function ApprovalsPage({ view }: { view: string | null }) {
  const current: View = VIEWS.some(([v]) => v === view) ? (view as View) : 'pending';
  const [me, setMe] = useState(() => localStorage.getItem(ME_KEY) ?? '');
  const q = current === 'decided' ? 'limit=100' : `status=pending&limit=100${current === 'mine' && me ? `&approver=${encodeURIComponent(me)}` : ''}`;
  const list = useResource<{ approvals: Approval[] }>(`/api/approvals?${q}`, { live: 5_000, offline: 5_000 });
  const rows = (list.data?.approvals ?? []).filter((a) => (current === 'decided' ? a.status !== 'pending' : true));
  const saveMe = (v: string) => {
    setMe(v);
    localStorage.setItem(ME_KEY, v);
  };

  return (
    <section>
      <h1>Approvals</h1>
      <p>
        <label>You are <input aria-label="your user name" value={me} onChange={(e) => saveMe(e.target.value.trim())} size={16} /></label>
        {' '}
        {VIEWS.map(([v, label]) => (
          <Link key={v} to={`/approvals?view=${v}`} className={v === current ? 'current' : ''}>{label} </Link>
        ))}
      </p>
      <ErrorNote error={list.error} />
      {current === 'mine' && !me && <Empty>Name yourself above to see the approvals waiting for you.</Empty>}
      {list.data && rows.length === 0 && <Empty>No {current === 'decided' ? 'decided' : 'pending'} approvals.</Empty>}
      {rows.map((a) => <ApprovalCard key={a.id} approval={a} me={me} onDecided={list.reload} />)}
    </section>
  );
}

function ApprovalCard({ approval: a, me, onDecided }: { approval: Approval; me: string; onDecided(): void }) {
  const approvals = (a.decisions ?? []).filter((d) => d.decision === 'approve').length;
  const canDecide = a.status === 'pending' && !!me && a.approvers.includes(me) && me !== a.startedBy && !(a.decisions ?? []).some((d) => d.by === me);
  return (
    <article className="card" aria-label={`approval ${a.id}`} data-approval={a.id}>
      <header>
        <Badge kind={a.status}>{a.status.replace('_', ' ')}</Badge>{' '}
        <strong>{a.message ?? a.stepId}</strong>{' '}
        <span>run <Link to={`/workflows/runs/${a.runId}`}>{a.runId.slice(0, 8)}</Link>, step {a.stepId}, asked {ago(a.createdAt)} by {a.startedBy}</span>
      </header>
      <p>
        {approvals} of {a.required} approvals from {a.approvers.join(', ')}
        {a.timeoutAt && a.status === 'pending' && <> · on {new Date(a.timeoutAt).toLocaleString()} it will {a.onTimeout === 'fail' ? 'fail the step' : `${a.onTimeout} by timeout`}</>}
      </p>
      {(a.decisions ?? []).length > 0 && (
        <div className="scroll" tabIndex={0}>
        <table className="grid" aria-label="Decisions">
          <thead><tr><th>by</th><th>decision</th><th>reason</th><th>data</th><th>via</th><th>from</th><th>when</th></tr></thead>
          <tbody>
            {a.decisions!.map((d) => (
              <tr key={d.by}>
                <td>{d.by}</td><td>{d.decision}</td><td>{d.reason ?? ''}</td><td><code>{d.data === null ? '' : JSON.stringify(d.data)}</code></td>
                <td>{d.channel}</td><td>{d.ip ?? ''}</td><td>{ago(d.at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      {canDecide && <DecisionForm approval={a} me={me} onDecided={onDecided} />}
    </article>
  );
}

/** Fields for a flat object form (string, number, integer, boolean, enum); JSON otherwise. */
function DecisionForm({ approval: a, me, onDecided }: { approval: Approval; me: string; onDecided(): void }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [raw, setRaw] = useState('{}');
  const [reason, setReason] = useState('');
  const [flash, setFlash] = useFlash();
  const fields = simpleFields(a.form);

  const data = (): unknown => {
    if (!a.form) return undefined;
    if (!fields) return JSON.parse(raw);
    const out: Record<string, unknown> = {};
    for (const [name, type] of fields) {
      const v = values[name];
      if (v === undefined || v === '') continue;
      out[name] = type === 'number' || type === 'integer' ? Number(v) : type === 'boolean' ? v === 'true' : v;
    }
    return out;
  };
  const decide = async (decision: 'approve' | 'reject') => {
    let body: Record<string, unknown>;
    try {
      body = { decision, by: me, ...(reason && { reason }), ...(decision === 'approve' && a.form && { data: data() }) };
    } catch {
      return setFlash({ kind: 'error', text: 'the form data is not valid JSON' });
    }
    try {
      const r = await api<{ status: string }>('POST', `/api/approvals/${a.id}/decision`, body);
      setFlash({ kind: 'ok', text: `${decision === 'approve' ? 'approved' : 'rejected'}: the approval is ${r.status}` });
      onDecided();
    } catch (err) {
      // The server's message names the field at fault (form) or what is missing (reason).
      setFlash({ kind: 'error', text: (err as Error).message });
    }
  };

  return (
    <form onSubmit={(e) => e.preventDefault()} aria-label={`decide ${a.id}`}>
      {fields?.map(([name, type, enumValues]) => (
        <label key={name}>
          {a.form!.properties![name]!.title ?? name}{a.form!.required?.includes(name) ? ' *' : ''}{' '}
          {enumValues ? (
            <select value={values[name] ?? ''} onChange={(e) => setValues({ ...values, [name]: e.target.value })}>
              <option value="" />
              {enumValues.map((v) => <option key={String(v)} value={String(v)}>{String(v)}</option>)}
            </select>
          ) : type === 'boolean' ? (
            <select value={values[name] ?? ''} onChange={(e) => setValues({ ...values, [name]: e.target.value })}>
              <option value="" /><option value="true">yes</option><option value="false">no</option>
            </select>
          ) : (
            <input type={type === 'number' || type === 'integer' ? 'number' : 'text'} value={values[name] ?? ''} onChange={(e) => setValues({ ...values, [name]: e.target.value })} />
          )}
        </label>
      ))}
      {a.form && !fields && <label>Form data (JSON) <textarea value={raw} onChange={(e) => setRaw(e.target.value)} rows={4} cols={50} /></label>}
      <label>Reason{a.requireReason ? ' *' : ' (required to reject)'} <input value={reason} onChange={(e) => setReason(e.target.value)} size={40} /></label>
      <button type="button" onClick={() => void decide('approve')}>Approve</button>
      <button type="button" onClick={() => void decide('reject')}>Reject</button>
      <FlashNote flash={flash} />
    </form>
  );
}

function simpleFields(form: FormSchema | null): [string, string, unknown[] | undefined][] | null {
  if (!form || form.type !== 'object' || !form.properties) return null;
  const fields: [string, string, unknown[] | undefined][] = [];
  for (const [name, p] of Object.entries(form.properties)) {
    if (Array.isArray(p.enum)) fields.push([name, 'string', p.enum]);
    else if (p.type && ['string', 'number', 'integer', 'boolean'].includes(p.type)) fields.push([name, p.type, undefined]);
    else return null;
  }
  return fields;
}
