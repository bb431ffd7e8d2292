import { api } from '../api/client.ts';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import type { Attempt, ErrorView, JobView } from '../api/types.ts';
import { dateTime, duration } from '../format.ts';
import { Link, navigate } from '../router.tsx';
import { Ago } from '../time.tsx';
import { Badge, ConfirmButton, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import { domainLinks } from './links.ts';

/**
 * One job at its own URL (/queues/:queue/jobs/:id): state and why, payload, result, every
 * attempt, the error with its cause chain, progress, links to what it works on, retry and
 * delete. Events on `job:<id>` reload it.
 */
export function JobPage({ queue, id }: { queue: string; id: string }) {
  const job = useResource<JobView>(`/api/jobs/${encodeURIComponent(id)}`, { live: 15_000, offline: 3_000 });
  const refresh = useThrottled(job.reload, 300);
  useLive([`job:${id}`], refresh);
  const [flash, setFlash] = useFlash();
  const back = `/queues/${encodeURIComponent(queue)}`;
  const j = job.data;

  const retry = async () => {
    try {
      await api('POST', `/api/jobs/${id}/retry`);
      setFlash({ kind: 'ok', text: `Job ${id} queued again.` });
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
    refresh();
  };
  const remove = async () => {
    try {
      await api('DELETE', `/api/jobs/${id}`);
      navigate(`${back}?state=${j?.state ?? 'waiting'}`);
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
  };

  const history = j && (Array.isArray(j.attempts) ? j.attempts : j.attemptHistory);
  const count = j && (Array.isArray(j.attempts) ? j.attempts.length : j.attempts);
  const retryable = j && (j.state === 'dead' || j.state === 'scheduled') && j.retryable !== false;
  return (
    <section className="job-page">
      <p className="crumbs">
        <Link to="/queues">Queues</Link> / <Link to={`${back}?state=${j?.state ?? 'waiting'}`}>{queue}</Link> /
      </p>
      <div className="title-row">
        <h1>Job #{id}</h1>
        {j && <Badge kind={j.state}>{j.state}{j.scheduledReason ? ` (${j.scheduledReason === 'retry' ? 'retry' : 'delayed'})` : ''}</Badge>}
        <span className="spacer" />
        {retryable && <button type="button" onClick={retry}>Retry</button>}
        {j && j.state !== 'active' && <ConfirmButton label="Delete" confirm="Sure?" onConfirm={remove} />}
      </div>
      <ErrorNote error={job.error} />
      <FlashNote flash={flash} />
      {j && (
        <>
          {j.retryable === false && j.lastError && (
            <p className="note warn" role="note">
              Not retryable: {j.lastError.message}. Running it again would fail the same way; send a corrected job instead.
            </p>
          )}
          <dl className="facts">
            <dt>attempts</dt>
            <dd>{count}/{j.maxAttempts}</dd>
            <dt>created</dt>
            <dd><Ago iso={j.createdAt} /></dd>
            {j.state === 'scheduled' && (
              <>
                <dt>runs</dt>
                <dd>{dateTime(j.runAt)} {j.scheduledReason === 'retry' ? '(waiting for its retry)' : '(delayed)'}</dd>
              </>
            )}
            {j.startedAt && (
              <>
                <dt>started</dt>
                <dd><Ago iso={j.startedAt} /></dd>
              </>
            )}
            {j.finishedAt && (
              <>
                <dt>finished</dt>
                <dd><Ago iso={j.finishedAt} /></dd>
              </>
            )}
            <dt>keys</dt>
            <dd>priority {j.priority} · group {j.groupKey ?? '—'} · dedup {j.dedupKey ?? '—'}</dd>
            {domainLinks(j.payload).length > 0 && (
              <>
                <dt>related</dt>
                <dd className="links">{domainLinks(j.payload).map((l) => <Link key={l.to} to={l.to}>{l.label}</Link>)}</dd>
              </>
            )}
          </dl>
          {j.progress != null && <Block title="Progress"><ProgressView progress={j.progress} /></Block>}
          <Block title="Payload"><pre>{JSON.stringify(j.payload, null, 2)}</pre></Block>
          {j.result != null && <Block title="Result"><pre>{JSON.stringify(j.result, null, 2)}</pre></Block>}
          {history && history.length > 0 ? (
            <Block title="Attempts"><Attempts attempts={history} /></Block>
          ) : (
            j.lastError && <Block title={`Last error (attempt ${count})`}><ErrorChain error={j.lastError} /></Block>
          )}
        </>
      )}
    </section>
  );
}

function Block({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="block" aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** The error and every `cause` under it: "fetch failed" ← "connect ECONNREFUSED 10.0.0.5:5432". */
export function ErrorChain({ error }: { error: ErrorView }) {
  const chain: ErrorView[] = [];
  for (let e: ErrorView | undefined = error; e && chain.length < 6; e = e.cause) chain.push(e);
  return (
    <ol className="error-chain">
      {chain.map((e, i) => (
        <li key={i}>
          {i > 0 && <span className="meta">caused by </span>}
          <strong className="error-text">{e.name}{e.code ? ` [${e.code}]` : ''}</strong>: {e.message}
        </li>
      ))}
      {error.stack && (
        <li>
          <details>
            <summary>stack</summary>
            <pre>{error.stack}</pre>
          </details>
        </li>
      )}
    </ol>
  );
}

function Attempts({ attempts }: { attempts: Attempt[] }) {
  return (
    <div className="scroll" tabIndex={0}>
      <table className="grid" aria-label="Attempts">
        <thead>
          <tr><th className="n">#</th><th>started</th><th className="n">took</th><th>worker</th><th>error</th></tr>
        </thead>
        <tbody>
          {attempts.map((a, i) => (
            <tr key={`${a.attempt}-${i}`}>
              <td className="n">{a.attempt}</td>
              <td>{a.startedAt ? <Ago iso={a.startedAt} /> : '—'}</td>
              <td className="n">{a.durationMs == null ? '—' : a.durationMs < 1000 ? `${a.durationMs} ms` : duration(a.durationMs)}</td>
              <td className="mono">{a.worker ?? '—'}</td>
              <td>{a.error ? <ErrorChain error={a.error} /> : a.outcome === 'running' ? 'running' : 'ok'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A bar for `{percent}` or `{done, total}` progress, the JSON for anything else. */
function ProgressView({ progress }: { progress: unknown }) {
  const p = progress as { percent?: unknown; done?: unknown; total?: unknown };
  const percent = typeof p.percent === 'number' ? p.percent
    : typeof p.done === 'number' && typeof p.total === 'number' && p.total > 0 ? (p.done / p.total) * 100 : null;
  return (
    <>
      {percent !== null && (
        <div className="progress" role="progressbar" aria-label="Job progress" aria-valuenow={Math.round(percent)} aria-valuemin={0} aria-valuemax={100}>
          <div className="progress-fill" style={{ width: `${Math.min(100, percent)}%` }} />
          <span className="progress-text">{percent.toFixed(0)} %</span>
        </div>
      )}
      <pre>{JSON.stringify(progress, null, 2)}</pre>
    </>
  );
}
