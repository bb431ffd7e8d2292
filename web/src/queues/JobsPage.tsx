import { useState } from 'react';
import { api } from '../api/client.ts';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import { JOB_STATES, type JobState, type JobView, type QueueStats } from '../api/types.ts';
import { Link, navigate } from '../router.tsx';
import { Empty, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import { JobRow } from './JobRow.tsx';

const LABELS: Record<JobState, string> = {
  waiting: 'waiting', delayed: 'delayed', active: 'active', failed: 'retrying', dead: 'dead', completed: 'completed',
};
const PAGE = 50;
const MAX_LIMIT = 500;

/** One queue's jobs in one state, newest first, with retry, delete and redrive. */
export function JobsPage({ name, state }: { name: string; state: JobState }) {
  const [limit, setLimit] = useState(PAGE);
  const [flash, setFlash] = useFlash();
  const base = `/api/queues/${encodeURIComponent(name)}`;
  const stats = useResource<QueueStats>(base, { live: 15_000, offline: 3_000 });
  const jobs = useResource<{ jobs: JobView[]; next: number | null }>(`${base}/jobs?state=${state}&limit=${limit}`, { live: 15_000, offline: 3_000 });
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
  const retry = (job: JobView) =>
    act(async () => {
      await api('POST', `/api/jobs/${job.id}/retry`);
      return `Job ${job.id} queued again.`;
    });
  const remove = (job: JobView) =>
    act(async () => {
      await api('DELETE', `/api/jobs/${job.id}`);
      return `Job ${job.id} deleted.`;
    });
  const redrive = () =>
    act(async () => {
      const res = await api<{ redriven: number }>('POST', `${base}/redrive`);
      return `${res.redriven} dead job${res.redriven === 1 ? '' : 's'} sent back to waiting.`;
    });

  const list = jobs.data?.jobs ?? [];
  const dead = stats.data?.dead ?? 0;
  return (
    <section>
      <p className="crumbs"><Link to="/queues">Queues</Link> /</p>
      <div className="title-row">
        <h1>{name}</h1>
        <button type="button" onClick={redrive} disabled={dead === 0} title="Every dead job of this queue back to waiting">
          Redrive {dead} dead
        </button>
      </div>
      <ErrorNote error={stats.error ?? jobs.error} />
      <FlashNote flash={flash} />
      <nav className="tabs" aria-label="Job states">
        {JOB_STATES.map((s) => (
          <button
            key={s}
            type="button"
            role="tab"
            aria-selected={s === state}
            className={s === state ? 'tab current' : 'tab'}
            onClick={() => {
              setLimit(PAGE);
              navigate(`/queues/${encodeURIComponent(name)}?state=${s}`);
            }}
          >
            {LABELS[s]} <span className="count">{stats.data?.[s] ?? '·'}</span>
          </button>
        ))}
      </nav>
      {jobs.data && list.length === 0 && <Empty>No {LABELS[state]} jobs.</Empty>}
      {list.length > 0 && (
        <table className="grid" aria-label={`${LABELS[state]} jobs`}>
          <thead>
            <tr>
              <th>id</th>
              <th>payload</th>
              <th className="n">attempts</th>
              <th>created</th>
              <th>{state === 'delayed' || state === 'failed' ? 'runs' : state === 'active' ? 'started' : 'finished'}</th>
              <th>last error</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((job) => <JobRow key={job.id} job={job} onRetry={retry} onDelete={remove} />)}
          </tbody>
        </table>
      )}
      {jobs.data?.next != null && limit < MAX_LIMIT && (
        <button type="button" className="more" onClick={() => setLimit((l) => Math.min(l + PAGE, MAX_LIMIT))}>Show more</button>
      )}
    </section>
  );
}
