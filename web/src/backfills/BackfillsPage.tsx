import { useEffect, useState } from 'react';
import { api } from '../api/client.ts';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import type { BackfillProgressData, JobView, Progress } from '../api/types.ts';
import { failedThreadJobs } from '../jobs/links.ts';
import { Link } from '../router.tsx';
import { Ago } from '../time.tsx';
import { Badge, Empty, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import { ProgressBar } from './ProgressBar.tsx';
import { viewOf } from './progress.ts';
import { StartBackfill } from './StartBackfill.tsx';

/**
 * Every backfill with a live progress bar: each row listens on `backfill:<configId>` and moves
 * with the events; the list is fetched again when one finishes (and polled while offline).
 */
export function BackfillsPage({ highlight }: { highlight?: string | null }) {
  const list = useResource<{ backfills: Progress[] }>('/api/backfills', { live: 20_000, offline: 2_000 });
  const [events, setEvents] = useState<Record<string, BackfillProgressData>>({});
  const refresh = useThrottled(list.reload, 1000);
  // A fresh list is newer than the events before it.
  useEffect(() => setEvents({}), [list.data]);

  const rows = list.data?.backfills ?? [];
  const [flash, setFlash] = useFlash(6000);
  // The dead thread jobs of this backfill, run again: what "retry failed" means.
  const retryFailed = async (configId: string) => {
    try {
      const q = new URLSearchParams({ state: 'dead', limit: '500', 'payload.configId': configId });
      const { jobs } = await api<{ jobs: JobView[] }>('GET', `/api/queues/thread_sync_jobs/jobs?${q}`);
      for (const job of jobs) await api('POST', `/api/jobs/${job.id}/retry`);
      setFlash({ kind: 'ok', text: jobs.length ? `${jobs.length} failed thread${jobs.length === 1 ? '' : 's'} queued again.` : 'No dead thread job is left to retry.' });
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
    refresh();
  };
  useLive(
    rows.map((r) => `backfill:${r.configId}`),
    (event) => {
      const data = event.data as BackfillProgressData | undefined;
      if (!data?.configId) return;
      setEvents((e) => ({ ...e, [data.configId]: data }));
      if (data.status === 'completed' || data.status === 'failed') refresh();
    },
  );

  return (
    <section>
      <h1>Backfills</h1>
      <StartBackfill onStarted={list.reload} backfills={list.data} />
      <ErrorNote error={list.error} />
      <FlashNote flash={flash} />
      {list.data && rows.length === 0 && <Empty>No backfill has run yet.</Empty>}
      {rows.length > 0 && (
        <div className="scroll" tabIndex={0}>
        <table className="grid" aria-label="Backfills">
          <thead>
            <tr>
              <th>inbox</th>
              <th>status</th>
              <th className="wide">progress</th>
              <th className="n">threads</th>
              <th className="n">failed</th>
              <th className="n">messages</th>
              <th>started</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const v = viewOf(row, events[row.configId]);
              // Completed with failed threads is not a plain success: amber, with a way to them.
              const partial = v.status === 'completed' && v.failed > 0;
              const shown = partial ? 'partial' : v.status;
              return (
                <tr key={v.configId} data-config={v.configId} className={highlight === v.configId ? 'highlight' : undefined}>
                  <td title={v.configId}>{v.who}</td>
                  <td>
                    <Badge kind={shown}>{partial ? 'completed with failures' : v.status.replace('_', ' ')}</Badge>
                    {v.error && <div className="error-text small">{v.error}</div>}
                    {v.failed > 0 && (
                      <div className="small links">
                        <Link to={failedThreadJobs(v.configId)}>{v.failed} failed thread{v.failed === 1 ? '' : 's'}</Link>
                        <button type="button" onClick={() => retryFailed(v.configId)}>Retry failed</button>
                      </div>
                    )}
                  </td>
                  <td><ProgressBar percent={v.percent} status={shown} label={`Backfill of ${v.who}`} /></td>
                  <td className="n">{v.completed + v.failed}/{v.total}</td>
                  <td className="n">{v.failed}</td>
                  <td className="n">{v.messages}</td>
                  <td><Ago iso={v.startedAt} /></td>
                </tr>
              );
            })}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}
