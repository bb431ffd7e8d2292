import { useState } from 'react';
import { api } from '../api/client.ts';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import { ago, duration } from '../format.ts';
import { Link, navigate } from '../router.tsx';
import { Badge, Empty, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import type { Run, WorkflowSummary } from './types.ts';

/**
 * Workflows (start one with a JSON input) and their runs, newest first. The list follows the
 * `workflow:<name>` topics, so statuses move live; it is fetched again (throttled) on each event.
 */
export function RunsPage({ workflow }: { workflow: string | null }) {
  const workflows = useResource<{ workflows: WorkflowSummary[] }>('/api/workflows', { live: 30_000, offline: 5_000 });
  const path = `/api/runs?limit=50${workflow ? `&workflow=${encodeURIComponent(workflow)}` : ''}`;
  const runs = useResource<{ runs: Run[] }>(path, { live: 30_000, offline: 2_000 });
  const refresh = useThrottled(() => {
    runs.reload();
    workflows.reload();
  }, 500);
  useLive((workflows.data?.workflows ?? []).map((w) => `workflow:${w.name}`), refresh);

  return (
    <section>
      <h1>Workflows</h1>
      <ErrorNote error={workflows.error} />
      {workflows.data && workflows.data.workflows.length === 0 && <Empty>No workflow is declared or submitted yet.</Empty>}
      {workflows.data && workflows.data.workflows.length > 0 && (
        <div className="scroll" tabIndex={0}>
        <table className="grid" aria-label="Workflows">
          <thead>
            <tr><th>workflow</th><th>kind</th><th className="n">version</th><th className="n">runs</th><th className="n">active</th><th className="actions">start a run</th></tr>
          </thead>
          <tbody>
            {workflows.data.workflows.map((w) => (
              <tr key={w.name} className={workflow === w.name ? 'current' : ''}>
                <td><Link to={`/workflows?workflow=${encodeURIComponent(w.name)}`}>{w.name}</Link></td>
                <td>{w.kind}</td>
                <td className="n">{w.version}</td>
                <td className="n">{w.runs}</td>
                <td className="n">{w.active}</td>
                <td className="actions"><StartRun name={w.name} onStarted={refresh} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
      <h2>Runs{workflow && <> of {workflow} <Link to="/workflows">(all)</Link></>}</h2>
      <ErrorNote error={runs.error} />
      {runs.data && runs.data.runs.length === 0 && <Empty>No runs yet.</Empty>}
      {runs.data && runs.data.runs.length > 0 && (
        <div className="scroll" tabIndex={0}>
        <table className="grid" aria-label="Runs">
          <thead>
            <tr><th>run</th><th>workflow</th><th>status</th><th>started</th><th className="n">took</th></tr>
          </thead>
          <tbody>
            {runs.data.runs.map((r) => (
              <tr key={r.id} data-run={r.id}>
                <td><Link to={`/workflows/runs/${r.id}`}>{r.id.slice(0, 8)}</Link></td>
                <td>{r.workflow} v{r.version}</td>
                <td><Badge kind={r.status}>{r.status.replace('_', ' ')}</Badge></td>
                <td>{ago(r.createdAt)}</td>
                <td className="n">{r.durationMs === null ? '-' : duration(r.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}

function StartRun({ name, onStarted }: { name: string; onStarted(): void }) {
  const [input, setInput] = useState('{}');
  const [flash, setFlash] = useFlash();
  const start = async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      return setFlash({ kind: 'error', text: 'input is not valid JSON' });
    }
    try {
      const { run } = await api<{ run: Run }>('POST', `/api/workflows/${encodeURIComponent(name)}/runs`, { input: parsed });
      onStarted();
      navigate(`/workflows/runs/${run.id}`);
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
  };
  return (
    <span>
      <input aria-label={`input of ${name}`} value={input} onChange={(e) => setInput(e.target.value)} size={14} />
      <button type="button" onClick={() => void start()}>Start</button>
      <FlashNote flash={flash} />
    </span>
  );
}
