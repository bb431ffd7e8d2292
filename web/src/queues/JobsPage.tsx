import { useMemo, useState, type FormEvent } from 'react';
import { api } from '../api/client.ts';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import { JOB_STATES, type JobState, type JobView, type QueueStats } from '../api/types.ts';
import { differingFields } from '../jobs/links.ts';
import { Link, navigate } from '../router.tsx';
import { Empty, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import { QueueHistory } from './Chart.tsx';
import { JobRow } from './JobRow.tsx';

const PAGE = 50;
const SINCE: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 };

/** What the job list shows besides the state: from the address bar, so a search can be linked. */
export interface JobSearch {
  where: string;
  error: string;
  since: string;
}

/**
 * One queue's jobs in one state, newest first, searched on the server (payload fields, error
 * text, time range) and paged by id, with retry, delete and redrive, and the queue's charts.
 */
export function JobsPage({ name, state, search }: { name: string; state: JobState; search: JobSearch }) {
  const [before, setBefore] = useState<number[]>([]);
  const [flash, setFlash] = useFlash();
  const base = `/api/queues/${encodeURIComponent(name)}`;
  const stats = useResource<QueueStats>(base, { live: 15_000, offline: 3_000 });
  // `from` is fixed when the search changes, so polling does not refetch a moving window.
  const query = useMemo(() => searchQuery(state, search, before.at(-1)), [state, search, before]);
  const jobs = useResource<{ jobs: JobView[]; next: number | null }>(`${base}/jobs?${query}`, { live: 15_000, offline: 3_000 });
  const refresh = useThrottled(() => {
    stats.reload();
    jobs.reload();
  }, 500);
  useLive([`queue:${name}`], refresh);

  const act = async (what: () => Promise<string>) => {
    try {
      setFlash({ kind: 'ok', text: await what() });
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
    refresh();
  };
  const retry = (job: JobView) => act(async () => {
    await api('POST', `/api/jobs/${job.id}/retry`);
    return `Job ${job.id} queued again.`;
  });
  const remove = (job: JobView) => act(async () => {
    await api('DELETE', `/api/jobs/${job.id}`);
    return `Job ${job.id} deleted.`;
  });
  const redrive = () => act(async () => {
    const res = await api<{ redriven: number }>('POST', `${base}/redrive`);
    return `${res.redriven} dead job${res.redriven === 1 ? '' : 's'} sent back to waiting.`;
  });
  const go = (next: Partial<JobSearch> & { state?: JobState }) => {
    setBefore([]);
    navigate(jobsUrl(name, next.state ?? state, { ...search, ...next }));
  };

  const list = jobs.data?.jobs ?? [];
  const s = stats.data;
  const fields = differingFields(list.map((j) => j.payload));
  const label = (st: JobState) => (st === 'completed' && s ? `completed (last ${s.retention.completed} kept)` : st);
  return (
    <section>
      <p className="crumbs"><Link to="/queues">Queues</Link> /</p>
      <div className="title-row">
        <h1>{name}</h1>
        <span className="spacer" />
        <button type="button" onClick={redrive} disabled={!s?.dead} title="Every dead job of this queue back to waiting">
          Redrive {s?.dead ?? 0} dead
        </button>
      </div>
      {s && (
        <p className="meta">
          {s.processed.lastHour} processed in the last hour, {s.processed.lastDay} in the last day · {s.throughputPerMinute}/min now
        </p>
      )}
      <ErrorNote error={stats.error ?? jobs.error} />
      <FlashNote flash={flash} />
      <QueueHistory queue={name} />
      <div className="tabs" role="tablist" aria-label="Job states">
        {JOB_STATES.map((st) => (
          <button key={st} type="button" role="tab" aria-selected={st === state} className={st === state ? 'tab current' : 'tab'} onClick={() => go({ state: st })}>
            {label(st)} <span className="count">{s?.[st] ?? '·'}</span>
          </button>
        ))}
      </div>
      {state === 'scheduled' && s && (
        <p className="meta">{s.scheduledReasons.retry} waiting for a retry, {s.scheduledReasons.delayed} delayed</p>
      )}
      <SearchForm key={`${search.where}|${search.error}|${search.since}`} search={search} onSearch={go} />
      {jobs.data && list.length === 0 && <Empty>No {state} jobs{search.where || search.error || search.since ? ' match this search' : ''}.</Empty>}
      {list.length > 0 && (
        <div className="scroll" tabIndex={0}>
          <table className="grid" aria-label={`${state} jobs`}>
            <thead>
              <tr>
                <th>id</th>
                <th>payload</th>
                <th className="n">attempts</th>
                <th>created</th>
                <th>{state === 'scheduled' ? 'runs' : state === 'active' ? 'started' : state === 'waiting' ? 'due' : 'finished'}</th>
                <th>last error</th>
                <th><span className="sr-only">actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.map((job) => <JobRow key={job.id} job={job} fields={fields} onRetry={retry} onDelete={remove} />)}
            </tbody>
          </table>
        </div>
      )}
      <div className="pager">
        {before.length > 0 && <button type="button" onClick={() => setBefore([])}>Newest</button>}
        {jobs.data?.next != null && <button type="button" onClick={() => setBefore((b) => [...b, jobs.data!.next!])}>Older</button>}
      </div>
    </section>
  );
}

function SearchForm({ search, onSearch }: { search: JobSearch; onSearch(s: JobSearch): void }) {
  const [where, setWhere] = useState(search.where);
  const [error, setError] = useState(search.error);
  const [since, setSince] = useState(search.since);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSearch({ where: where.trim(), error: error.trim(), since });
  };
  return (
    <form className="inline search" onSubmit={submit} role="search" aria-label="Search jobs">
      <label>payload <input value={where} onChange={(e) => setWhere(e.target.value)} placeholder="threadId=t1, n=2" /></label>
      <label>error <input value={error} onChange={(e) => setError(e.target.value)} placeholder="text in the error" /></label>
      <label>
        when{' '}
        <select value={since} onChange={(e) => setSince(e.target.value)}>
          <option value="">any time</option>
          <option value="1h">last hour</option>
          <option value="24h">last day</option>
          <option value="7d">last week</option>
        </select>
      </label>
      <button type="submit">Search</button>
      {(search.where || search.error || search.since) && (
        <button type="button" onClick={() => onSearch({ where: '', error: '', since: '' })}>Clear</button>
      )}
    </form>
  );
}

export function jobsUrl(queue: string, state: JobState, search: JobSearch): string {
  const q = new URLSearchParams({ state });
  if (search.where) q.set('where', search.where);
  if (search.error) q.set('error', search.error);
  if (search.since) q.set('since', search.since);
  return `/queues/${encodeURIComponent(queue)}?${q}`;
}

/** The API query of a search: `field=value` pairs become `payload.field=value`. */
function searchQuery(state: JobState, search: JobSearch, before: number | undefined): string {
  const q = new URLSearchParams({ state, limit: String(PAGE) });
  if (before !== undefined) q.set('before', String(before));
  for (const pair of search.where.split(/[,\s]+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq > 0) q.append(`payload.${pair.slice(0, eq)}`, pair.slice(eq + 1));
  }
  if (search.error) q.set('error', search.error);
  const window = SINCE[search.since];
  if (window) q.set('from', new Date(Date.now() - window).toISOString());
  return q.toString();
}
