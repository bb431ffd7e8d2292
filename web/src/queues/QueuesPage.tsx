import { useResource, useLive, useThrottled } from '../api/hooks.ts';
import type { HistoryPoint, QueueStats } from '../api/types.ts';
import { duration } from '../format.ts';
import { Link } from '../router.tsx';
import { Empty, ErrorNote } from '../ui.tsx';

/** Every queue with its live counts: job events on `queue:*` refresh the table. */
export function QueuesPage() {
  const queues = useResource<{ queues: QueueStats[] }>('/api/queues', { live: 15_000, offline: 3_000 });
  const refresh = useThrottled(queues.reload, 500);
  useLive(['queue:*'], refresh);
  const rows = [...(queues.data?.queues ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const kept = rows[0]?.retention.completed;

  return (
    <section>
      <h1>Queues</h1>
      <ErrorNote error={queues.error} />
      {queues.data && rows.length === 0 && <Empty>No queue has been declared or sent to yet.</Empty>}
      {rows.length > 0 && (
        <div className="scroll" tabIndex={0}>
          <table className="grid" aria-label="Queues">
            <thead>
              <tr>
                <th>queue</th>
                <th className="n">waiting</th>
                <th className="n" title="not due yet: delayed, or waiting for a retry">scheduled</th>
                <th className="n">active</th>
                <th className="n">dead</th>
                <th className="n" title={`completed jobs kept by retention (the newest ${kept} per queue)`}>completed (kept)</th>
                <th className="n" title="completed or dead in the last hour, from the per-minute counters">processed 1h</th>
                <th>last hour</th>
                <th className="n">oldest waiting</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((q) => {
                const at = (state: string) => `/queues/${encodeURIComponent(q.name)}?state=${state}`;
                return (
                  <tr key={q.name} data-queue={q.name}>
                    <td><Link to={`/queues/${encodeURIComponent(q.name)}`}>{q.name}</Link></td>
                    <td className="n" data-col="waiting">{q.waiting}</td>
                    <td className="n" data-col="scheduled" title={`${q.scheduledReasons.retry} waiting for a retry, ${q.scheduledReasons.delayed} delayed`}>
                      {q.scheduled}{q.scheduledReasons.retry > 0 && <span className="meta"> ({q.scheduledReasons.retry} retry)</span>}
                    </td>
                    <td className="n" data-col="active">{q.active}</td>
                    <td className="n" data-col="dead">{q.dead > 0 ? <Link className="dead" to={at('dead')}>{q.dead}</Link> : 0}</td>
                    <td className="n" data-col="completed">{q.completed}</td>
                    <td className="n" data-col="processed">{q.processed.lastHour}</td>
                    <td><Sparkline queue={q.name} /></td>
                    <td className="n">{duration(q.oldestWaitingMs)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {kept !== undefined && <p className="meta">completed: the newest {kept} per queue are kept (NOVA_RETAIN_COMPLETED); processed counts every job finished.</p>}
    </section>
  );
}

/** Jobs processed per minute over the last hour, dead ones in red, as a strip of bars. */
function Sparkline({ queue }: { queue: string }) {
  const history = useResource<{ points: HistoryPoint[] }>(`/api/queues/${encodeURIComponent(queue)}/history?range=hour`, { live: 60_000, offline: 60_000 });
  const points = history.data?.points ?? [];
  const max = Math.max(1, ...points.map((p) => p.processed));
  const total = points.reduce((n, p) => n + p.processed, 0);
  const dead = points.reduce((n, p) => n + p.failed, 0);
  return (
    <svg className="spark" viewBox="0 0 120 24" role="img" aria-label={`${queue}: ${total} processed, ${dead} dead in the last hour`} preserveAspectRatio="none">
      {points.map((p, i) => (
        <g key={p.at}>
          <rect className="bar" x={i * 2} y={24 - (p.processed / max) * 24} width={1.6} height={(p.processed / max) * 24} />
          {p.failed > 0 && <rect className="bar-failed" x={i * 2} y={24 - (p.failed / max) * 24} width={1.6} height={(p.failed / max) * 24} />}
        </g>
      ))}
    </svg>
  );
}
