import { useResource, useLive, useThrottled } from '../api/hooks.ts';
import type { QueueStats } from '../api/types.ts';
import { duration } from '../format.ts';
import { Link } from '../router.tsx';
import { Empty, ErrorNote } from '../ui.tsx';

/** Every queue with its live counts: job events on `queue:*` refresh the table. */
export function QueuesPage() {
  const queues = useResource<{ queues: QueueStats[] }>('/api/queues', { live: 15_000, offline: 3_000 });
  const refresh = useThrottled(queues.reload, 500);
  useLive(['queue:*'], refresh);
  const rows = [...(queues.data?.queues ?? [])].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <section>
      <h1>Queues</h1>
      <ErrorNote error={queues.error} />
      {queues.data && rows.length === 0 && <Empty>No queue has been declared or sent to yet.</Empty>}
      {rows.length > 0 && (
        <table className="grid" aria-label="Queues">
          <thead>
            <tr>
              <th>queue</th>
              <th className="n">waiting</th>
              <th className="n">delayed</th>
              <th className="n">active</th>
              <th className="n">retrying</th>
              <th className="n">dead</th>
              <th className="n">completed</th>
              <th className="n">per minute</th>
              <th className="n">oldest waiting</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((q) => (
              <tr key={q.name} data-queue={q.name}>
                <td><Link to={`/queues/${encodeURIComponent(q.name)}`}>{q.name}</Link></td>
                <td className="n" data-col="waiting">{q.waiting}</td>
                <td className="n" data-col="delayed">{q.delayed}</td>
                <td className="n" data-col="active">{q.active}</td>
                <td className="n" data-col="failed">{q.failed}</td>
                <td className="n" data-col="dead">
                  {q.dead > 0 ? (
                    <Link className="dead" to={`/queues/${encodeURIComponent(q.name)}?state=dead`}>{q.dead}</Link>
                  ) : 0}
                </td>
                <td className="n" data-col="completed">{q.completed}</td>
                <td className="n">{q.throughputPerMinute}</td>
                <td className="n">{duration(q.oldestWaitingMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
