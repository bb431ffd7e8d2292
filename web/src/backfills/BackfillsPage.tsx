import { useEffect, useState } from 'react';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import type { BackfillProgressData, Progress } from '../api/types.ts';
import { ago, dateTime } from '../format.ts';
import { Badge, Empty, ErrorNote } from '../ui.tsx';
import { ProgressBar } from './ProgressBar.tsx';
import { viewOf } from './progress.ts';
import { StartBackfill } from './StartBackfill.tsx';

/**
 * Every backfill with a live progress bar: each row listens on `backfill:<configId>` and moves
 * with the events; the list is fetched again when one finishes (and polled while offline).
 */
export function BackfillsPage() {
  const list = useResource<{ backfills: Progress[] }>('/api/backfills', { live: 20_000, offline: 2_000 });
  const [events, setEvents] = useState<Record<string, BackfillProgressData>>({});
  const refresh = useThrottled(list.reload, 1000);
  // A fresh list is newer than the events before it.
  useEffect(() => setEvents({}), [list.data]);

  const rows = list.data?.backfills ?? [];
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
      {list.data && rows.length === 0 && <Empty>No backfill has run yet.</Empty>}
      {rows.length > 0 && (
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
              return (
                <tr key={v.configId} data-config={v.configId}>
                  <td title={v.configId}>{v.who}</td>
                  <td>
                    <Badge kind={v.status}>{v.status.replace('_', ' ')}</Badge>
                    {v.error && <div className="error-text small">{v.error}</div>}
                  </td>
                  <td><ProgressBar percent={v.percent} status={v.status} label={`Backfill of ${v.who}`} /></td>
                  <td className="n">{v.completed + v.failed}/{v.total}</td>
                  <td className="n">{v.failed}</td>
                  <td className="n">{v.messages}</td>
                  <td title={dateTime(v.startedAt)}>{ago(v.startedAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
