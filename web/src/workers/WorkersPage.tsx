import { useResource } from '../api/hooks.ts';
import type { Worker } from '../api/types.ts';
import { Ago } from '../time.tsx';
import { Badge, Empty, ErrorNote } from '../ui.tsx';

/** Every registered Nova process with its roles and health (heartbeat within 30 s = alive). */
export function WorkersPage() {
  const workers = useResource<{ workers: Worker[] }>('/api/workers', { live: 5_000, offline: 5_000 });
  const rows = workers.data?.workers ?? [];
  const alive = rows.filter((w) => w.alive).length;
  return (
    <section>
      <h1>Workers</h1>
      <ErrorNote error={workers.error} />
      {workers.data && <p className="summary">{alive} alive, {rows.length - alive} silent</p>}
      {workers.data && rows.length === 0 && <Empty>No process has registered.</Empty>}
      {rows.length > 0 && (
        <div className="scroll" tabIndex={0}>
        <table className="grid" aria-label="Workers">
          <thead>
            <tr>
              <th>health</th>
              <th>process</th>
              <th>roles</th>
              <th>heartbeat</th>
              <th>started</th>
              <th>ports</th>
              <th>version</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((w) => (
              <tr key={w.id} className={w.alive ? '' : 'faded'} data-worker={w.id}>
                <td><Badge kind={w.alive ? 'alive' : 'silent'}>{w.alive ? 'alive' : 'silent'}</Badge></td>
                <td className="mono" title={w.id}>{w.host}:{w.pid}</td>
                <td>{w.roles.map((r) => <span key={r} className="chip">{r}</span>)}</td>
                <td><Ago iso={w.heartbeatAt} /></td>
                <td><Ago iso={w.startedAt} /></td>
                <td className="mono">
                  {w.healthPort != null && <span>health {w.healthPort}</span>} {w.apiPort != null && <span>api {w.apiPort}</span>}
                </td>
                <td>{w.version}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}
