import { useEffect, useState } from 'react';
import { api, ApiError } from '../api/client.ts';
import { useAuth, useLive, useResource, useThrottled } from '../api/hooks.ts';
import { UserTokenDialog, userToken } from '../auth/UserTokenDialog.tsx';
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

/** Without NOVA_USERS (development) the server trusts a name: the one this browser decides as. */
const ME_KEY = 'nova.approvals.me';

/** Who this browser decides as: the user of its personal token (NOVA_USERS), or a typed name. */
interface Identity {
  /** The server has NOVA_USERS: decisions need the personal token. */
  directory: boolean;
  user: string;
  roles: string[];
  token: string | null;
}

/** GET /api/approvals/me with the kept token: whether the server wants one, and whose it is. */
function useIdentity() {
  const { version } = useAuth();
  const [token, setToken] = useState(userToken.get);
  const [name, setName] = useState(() => localStorage.getItem(ME_KEY) ?? '');
  const [server, setServer] = useState<{ directory: boolean; user: string | null; roles: string[] }>();
  const [problem, setProblem] = useState<string>();
  const [asking, setAsking] = useState(false);
  useEffect(() => {
    let current = true;
    api<{ directory: boolean; user: string | null; roles: string[] }>('GET', '/api/approvals/me', undefined, userToken.headers(token)).then(
      (r) => current && (setServer(r), setProblem(undefined)),
      (err: unknown) => {
        if (!current) return;
        // Another failure (the server unreachable): decide as a typed name; a decision refused
        // for want of a token opens the token dialog all the same.
        if (!(err instanceof ApiError) || !err.code.startsWith('identity_')) return setServer((s) => s ?? { directory: false, user: null, roles: [] });
        setServer({ directory: true, user: null, roles: [] });
        if (err.code !== 'identity_invalid') return;
        // As with the API token: a token the server does not know is forgotten and asked for again.
        userToken.set(null);
        setProblem('Token rejected: it matches no user of the server\'s NOVA_USERS.');
        setAsking(true);
      },
    );
    return () => {
      current = false;
    };
  }, [token, version]);
  const directory = server?.directory ?? false;
  const identity: Identity = { directory, user: directory ? server?.user ?? '' : name, roles: directory ? server?.roles ?? [] : [], token: directory ? token : null };
  return {
    identity,
    /** The server answered who this is (until then the page shows neither a name field nor a sign-in). */
    known: server !== undefined,
    problem,
    asking,
    /** Opens the token dialog, saying why when a decision was refused for the token. */
    ask(why?: string) {
      setProblem(why);
      setAsking(true);
    },
    saveToken(t: string | null) {
      userToken.set(t);
      setToken(t);
      setAsking(false);
    },
    cancel: () => setAsking(false),
    saveName(v: string) {
      setName(v);
      localStorage.setItem(ME_KEY, v);
    },
  };
}

const mayDecide = (a: Approval, me: Identity) => !!me.user && (a.approvers.includes(me.user) || me.roles.some((r) => a.approvers.includes(`role:${r}`)));

/**
 * The approvals inbox: pending approvals (all, or those you may decide), and decided ones with
 * their audit trail. A pending approval shows its form; approve and reject post a decision as the
 * user of your personal token (servers with NOVA_USERS) or the name typed at the top. The server
 * has the last word: a refusal (not an approver, your own run's approval) is shown on the card.
 * Live on `approvals:<user>` and `approvals:role:<role>` once the user is known (subscribed with
 * the personal token, which the server requires for them under NOVA_USERS); polled as well
 * (decisions are published on the runs' topics).
 */
export function ApprovalsPage({ view }: { view: string | null }) {
  const current: View = VIEWS.some(([v]) => v === view) ? (view as View) : 'pending';
  const id = useIdentity();
  const me = id.identity;
  const q = current === 'decided' ? 'limit=100' : 'status=pending&limit=100';
  const list = useResource<{ approvals: Approval[] }>(`/api/approvals?${q}`, { live: 5_000, offline: 5_000 });
  // New requests for this user (or a role of theirs) reload the list at once; polling covers the rest.
  const reload = useThrottled(list.reload, 300);
  // With NOVA_USERS the server admits these topics only with the user's own token.
  useLive(me.user ? [`approvals:${me.user}`, ...me.roles.map((r) => `approvals:role:${r}`)] : [], (event) => {
    if (event.type.startsWith('approval.')) reload();
  }, me.token);
  const rows = (list.data?.approvals ?? []).filter((a) => (current === 'decided' ? a.status !== 'pending' : current === 'mine' ? mayDecide(a, me) : true));

  return (
    <section>
      <h1>Approvals</h1>
      <p>
        {!id.known ? null : me.directory ? (
          me.user ? (
            <>
              Signed in as <b aria-label="signed in user">{me.user}</b>{me.roles.length > 0 && <> ({me.roles.join(', ')})</>}{' '}
              <button type="button" onClick={() => id.saveToken(null)}>Sign out</button>
            </>
          ) : (
            <button type="button" className="primary" onClick={() => id.ask(id.problem)}>Enter your user token</button>
          )
        ) : (
          <label>You are <input aria-label="your user name" value={me.user} onChange={(e) => id.saveName(e.target.value.trim())} size={16} /></label>
        )}
        {' '}
        {VIEWS.map(([v, label]) => (
          <Link key={v} to={`/approvals?view=${v}`} className={v === current ? 'current' : ''}>{label} </Link>
        ))}
      </p>
      {me.directory && !me.user && id.problem && !id.asking && <p className="note error" role="alert">{id.problem}</p>}
      {id.asking && <UserTokenDialog problem={id.problem} onSave={id.saveToken} onCancel={id.cancel} />}
      <ErrorNote error={list.error} />
      {current === 'mine' && !me.user && <Empty>{me.directory ? 'Sign in with your user token' : 'Name yourself above'} to see the approvals waiting for you.</Empty>}
      {list.data && rows.length === 0 && <Empty>No {current === 'decided' ? 'decided' : 'pending'} approvals.</Empty>}
      {rows.map((a) => <ApprovalCard key={a.id} approval={a} me={me} onDecided={list.reload} onIdentity={id.ask} />)}
    </section>
  );
}

interface CardProps {
  approval: Approval;
  me: Identity;
  onDecided(): void;
  /** A decision was refused for the personal token (missing or unknown): ask for it. */
  onIdentity(why: string): void;
}

function ApprovalCard({ approval: a, me, onDecided, onIdentity }: CardProps) {
  const approvals = (a.decisions ?? []).filter((d) => d.decision === 'approve').length;
  // The run's starter still gets the buttons: the server refuses self-approval, and says so here.
  const canDecide = a.status === 'pending' && mayDecide(a, me) && !(a.decisions ?? []).some((d) => d.by === me.user);
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
      {canDecide && <DecisionForm approval={a} me={me} onDecided={onDecided} onIdentity={onIdentity} />}
    </article>
  );
}

/** Fields for a flat object form (string, number, integer, boolean, enum); JSON otherwise. */
function DecisionForm({ approval: a, me, onDecided, onIdentity }: Omit<CardProps, 'approval'> & { approval: Approval }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [raw, setRaw] = useState('{}');
  const [reason, setReason] = useState('');
  const [flash, setFlash] = useFlash();
  /** The server's refusal of the last attempt; stays until the next one. */
  const [refusal, setRefusal] = useState<string>();
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
    setRefusal(undefined);
    try {
      // With a personal token the server takes the user from it; a name is only claimed without one.
      body = { decision, ...(!me.directory && { by: me.user }), ...(reason && { reason }), ...(decision === 'approve' && a.form && { data: data() }) };
    } catch {
      return setRefusal('the form data is not valid JSON');
    }
    try {
      const r = await api<{ status: string }>('POST', `/api/approvals/${a.id}/decision`, body, userToken.headers(me.token));
      setFlash({ kind: 'ok', text: `${decision === 'approve' ? 'approved' : 'rejected'}: the approval is ${r.status}` });
      onDecided();
    } catch (err) {
      // The server's message names the field at fault (form), what is missing (reason), or why
      // this user may not decide (403: not an approver, the run's own starter).
      const text = (err as Error).message;
      if (err instanceof ApiError && err.status === 401) {
        setRefusal(`Not signed in: ${text}`);
        onIdentity(err.code === 'identity_invalid' ? 'Token rejected: it matches no user of the server\'s NOVA_USERS.' : 'Deciding needs your user token.');
      } else if (err instanceof ApiError && err.status === 403) setRefusal(`Refused: ${text}`);
      else setRefusal(text);
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
      {refusal && <p className="note error" role="alert">{refusal}</p>}
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
