import { api } from '../api/client.ts';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import { compactJson, dateTime, duration } from '../format.ts';
import { Link, navigate } from '../router.tsx';
import { Badge, ConfirmButton, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import { LIVE, type Run, type Step } from './types.ts';
import { AgentPanel } from './AgentPanel.tsx';

/**
 * One run: status, input and output, and the step timeline (durations, attempts, inputs and
 * outputs, errors), live on `run:<id>`; cancel while it runs, re-run from the failed step after.
 * An agent step's turns, tool calls and streamed text show above the timeline (AgentPanel).
 */
export function RunPage({ id }: { id: string }) {
  const got = useResource<{ run: Run; steps: Step[]; children: { id: string; workflow: string; status: string; parent_step_id: string }[] }>(
    `/api/runs/${id}`, { live: 30_000, offline: 2_000 },
  );
  const refresh = useThrottled(got.reload, 300);
  // Streamed tokens are drawn by AgentPanel; everything else changes the stored run.
  useLive([`run:${id}`], (event) => {
    if (event.type !== 'agent.token') refresh();
  });
  const [flash, setFlash] = useFlash();
  const act = async (what: 'cancel' | 'rerun') => {
    try {
      await api('POST', `/api/runs/${id}/${what}`);
      setFlash({ kind: 'ok', text: what === 'cancel' ? 'cancelled' : 're-running from the failed step' });
      got.reload();
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
  };
  const run = got.data?.run;
  const steps = got.data?.steps ?? [];
  const t0 = run ? new Date(run.createdAt).getTime() : 0;
  const span = Math.max(1, ...steps.map((s) => new Date(s.finishedAt ?? Date.now()).getTime() - t0));

  return (
    <section>
      <h1><Link to="/workflows">Workflows</Link> / run {id.slice(0, 8)}</h1>
      <ErrorNote error={got.error} />
      <FlashNote flash={flash} />
      {run && (
        <>
          <p>
            {run.workflow} v{run.version} <Badge kind={run.status}>{run.status.replace('_', ' ')}</Badge>{' '}
            started {dateTime(run.createdAt)}{run.durationMs !== null && <>, took {duration(run.durationMs)}</>}
            {run.parentRunId && <> · child of <Link to={`/workflows/runs/${run.parentRunId}`}>{run.parentRunId.slice(0, 8)}</Link></>}
          </p>
          <p>
            {LIVE.has(run.status) && <ConfirmButton label="Cancel" confirm="Cancel run and children?" onConfirm={() => void act('cancel')} />}
            {(run.status === 'failed' || run.status === 'timed_out') && <button type="button" onClick={() => void act('rerun')}>Re-run from failed step</button>}
            <button type="button" onClick={() => navigate(`/workflows?workflow=${encodeURIComponent(run.workflow)}`)}>Other runs</button>
          </p>
          {run.error && <p className="note error">{run.error.name}: {run.error.message}</p>}
          <p className="small">input <code>{compactJson(run.input, 300)}</code>{run.output !== null && <> · output <code>{compactJson(run.output, 300)}</code></>}</p>
        </>
      )}
      <AgentPanel runId={id} steps={steps} />
      <div className="scroll" tabIndex={0}>
      <table className="grid" aria-label="Steps">
        <thead>
          <tr><th>step</th><th>kind</th><th>status</th><th className="n">attempt</th><th className="wide">timeline</th><th className="n">took</th><th>output / error</th></tr>
        </thead>
        <tbody>
          {steps.map((s) => {
            const start = new Date(s.startedAt).getTime() - t0;
            const end = new Date(s.finishedAt ?? Date.now()).getTime() - t0;
            return (
              <tr key={s.stepId} data-step={s.stepId}>
                <td title={`input: ${compactJson(s.input, 500)}`}>{s.stepId}{s.input !== null && <div className="small"><code>{compactJson(s.input, 60)}</code></div>}</td>
                <td>{s.kind}</td>
                <td><Badge kind={s.status}>{s.status}</Badge>{s.wakeAt && s.status === 'waiting' && <div className="small">until {dateTime(s.wakeAt)}</div>}</td>
                <td className="n">{s.attempt}</td>
                <td>
                  <div className="progress" title={`${duration(start)} → ${duration(end)}`}>
                    <div className="progress-fill" style={{ marginLeft: `${(100 * start) / span}%`, width: `${Math.max(0.5, (100 * (end - start)) / span)}%` }} />
                  </div>
                </td>
                <td className="n">{s.durationMs === null ? '-' : duration(s.durationMs)}</td>
                <td className="clip">
                  {s.error ? <span className="error-text">{s.error.message}</span> : <code>{compactJson(s.output)}</code>}
                  {s.childRunId && <> · <Link to={`/workflows/runs/${s.childRunId}`}>child run</Link></>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      </div>
    </section>
  );
}
