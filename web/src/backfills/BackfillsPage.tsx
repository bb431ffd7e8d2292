import { useEffect, useState } from 'react';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import type { BackfillProgressData, Progress } from '../api/types.ts';
import { failedThreadJobs } from '../jobs/links.ts';
import { Link } from '../router.tsx';
import { Ago } from '../time.tsx';
import { Badge, Empty, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import { ProgressBar } from './ProgressBar.tsx';
import { viewOf } from './progress.ts';
import { retryFailedThreads } from './retry.ts';
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
  const retryFailed = async (configId: string) => {
    try {
      setFlash({ kind: 'ok', text: await retryFailedThreads(configId) });
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
                  <td title={v.configId}>
                    <Link to={`/backfills/${encodeURIComponent(v.configId)}`}>{v.who}</Link>
                    {v.run !== null && <div className="small meta">run {v.run}</div>}
                  </td>
                  <td>
                    <Badge kind={shown}>{partial ? 'completed with failures' : v.status.replace('_', ' ')}</Badge>
                    {v.error && <div className="error-text small">{v.error}</div>}
                    {v.failed > 0 && (
                      <div className="small links">
                        <Link to={`/backfills/${encodeURIComponent(v.configId)}#failed`}>{v.failed} failed thread{v.failed === 1 ? '' : 's'}</Link>
                        <Link to={failedThreadJobs(v.configId)}>dead jobs</Link>
                        <button type="button" onClick={() => retryFailed(v.configId)}>Retry failed</button>
                      </div>
                    )}
                  </td>
                  <td><ProgressBar percent={v.percent} status={shown} label={`Backfill of ${v.who}`} /></td>
                  <td className="n">
                    {v.completed + v.failed}/{v.total}
                    {v.alreadySynced > 0 && <div className="small meta">{v.alreadySynced} already synced</div>}
                  </td>
                  <td className="n">{v.failed}</td>
                  <td className="n">
                    {v.messages}
                    {v.alreadyMessages > 0 && <div className="small meta">{v.alreadyMessages} already stored</div>}
                  </td>
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
