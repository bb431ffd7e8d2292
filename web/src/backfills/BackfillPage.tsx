import { useEffect } from 'react';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import type { BackfillRun, FailedThread } from '../api/types.ts';
import { dateTime, duration, num } from '../format.ts';
import { failedThreadJobs } from '../jobs/links.ts';
import { Link } from '../router.tsx';
import { Ago } from '../time.tsx';
import { Badge, Empty, ErrorNote, FlashNote, useFlash } from '../ui.tsx';
import { retryFailedThreads } from './retry.ts';

const RUNNING = new Set(['pending', 'discovering', 'thread_sync']);

/**
 * One backfill (/backfills/:configId): every run kept, newest first, with what each synced and
 * what it found synced already; the current run's failed threads with their dead jobs, and
 * "Retry failed". Progress events on `backfill:<configId>` reload it.
 */
export function BackfillPage({ configId }: { configId: string }) {
  const id = encodeURIComponent(configId);
  const runs = useResource<{ runs: BackfillRun[] }>(`/api/backfills/${id}/runs`, { live: 20_000, offline: 3_000 });
  const failed = useResource<{ threads: FailedThread[] }>(`/api/backfills/${id}/failed-threads`, { live: 20_000, offline: 3_000 });
  const refresh = useThrottled(() => {
    runs.reload();
    failed.reload();
  }, 1000);
  useLive([`backfill:${configId}`], refresh);
  const [flash, setFlash] = useFlash(6000);

  const list = runs.data?.runs ?? [];
  const current = list.find((r) => r.current);
  const who = current?.email ?? current?.grantId ?? configId;
  const threads = failed.data?.threads ?? [];
  const running = current ? RUNNING.has(current.status) : false;
  // Linked as /backfills/:id#failed from the list: shown once the threads are in.
  const loaded = failed.data !== undefined;
  useEffect(() => {
    if (loaded && location.hash === '#failed') document.getElementById('failed')?.scrollIntoView();
  }, [loaded]);

  const retry = async () => {
    try {
      setFlash({ kind: 'ok', text: await retryFailedThreads(configId) });
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
    refresh();
  };

  return (
    <section>
      <p className="crumbs"><Link to="/backfills">Backfills</Link> /</p>
      <div className="title-row">
        <h1>Backfill of {who}</h1>
        {current && <OutcomeBadge run={current} />}
      </div>
      <ErrorNote error={runs.error ?? failed.error} />
      <FlashNote flash={flash} />

      <h2>Runs</h2>
      {runs.data && list.length === 0 && <Empty>This inbox has not been backfilled yet.</Empty>}
      {list.length > 0 && (
        <div className="scroll" tabIndex={0}>
          <table className="grid" aria-label="Runs">
            <thead>
              <tr>
                <th className="n">run</th>
                <th>outcome</th>
                <th className="n">threads</th>
                <th className="n">failed</th>
                <th className="n">messages</th>
                <th className="n">already synced</th>
                <th>window</th>
                <th>started</th>
                <th>took</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.run} data-run={r.run}>
                  <td className="n">{r.run}</td>
                  <td>
                    <OutcomeBadge run={r} />
                    {r.error && <div className="error-text small">{r.error}</div>}
                  </td>
                  <td className="n">{r.threadsTotal === null ? '–' : `${num(r.threadsCompleted) + num(r.threadsFailed)}/${r.threadsTotal}`}</td>
                  <td className="n">{r.threadsFailed ?? '–'}</td>
                  <td className="n">{r.messagesSynced ?? '–'}</td>
                  <td className="n">
                    {r.threadsAlreadySynced === null ? '–' : `${r.threadsAlreadySynced} threads`}
                    {!!r.messagesAlreadySynced && <div className="small meta">{r.messagesAlreadySynced} messages</div>}
                  </td>
                  <td className="small">{r.since ? `${dateTime(r.since)} → ${dateTime(r.until)}` : '–'}</td>
                  <td><Ago iso={r.startedAt} /></td>
                  <td>{r.startedAt && r.endedAt ? duration(Date.parse(r.endedAt) - Date.parse(r.startedAt)) : RUNNING.has(r.status) && r.current ? 'running' : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="title-row" id="failed">
        <h2>Failed threads</h2>
        <span className="spacer" />
        {threads.length > 0 && (
          <>
            <Link to={failedThreadJobs(configId)}>dead jobs</Link>
            <button type="button" onClick={retry} disabled={running} title={running ? 'the run is still going' : undefined}>Retry failed</button>
          </>
        )}
      </div>
      {failed.data && threads.length === 0 && <Empty>No thread of the current run failed.</Empty>}
      {threads.length > 0 && (
        <div className="scroll" tabIndex={0}>
          <table className="grid" aria-label="Failed threads">
            <thead>
              <tr>
                <th>thread</th>
                <th>error</th>
                <th className="n">attempts</th>
                <th>failed</th>
                <th>dead job</th>
              </tr>
            </thead>
            <tbody>
              {threads.map((t) => (
                <tr key={t.threadId} data-thread={t.threadId}>
                  <td>
                    <span className="mono">{t.threadId}</span>
                    {t.subject && <div className="small meta">{t.subject}</div>}
                  </td>
                  <td className="error-text small">{t.error ?? '–'}</td>
                  <td className="n">{t.attempts}</td>
                  <td><Ago iso={t.failedAt} /></td>
                  <td>
                    {t.deadJobId === null
                      ? <span className="meta">pruned</span>
                      : <Link to={`/queues/thread_sync_jobs/jobs/${t.deadJobId}`}>#{t.deadJobId}</Link>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function OutcomeBadge({ run }: { run: BackfillRun }) {
  if (run.outcome === 'completed_with_failures') return <Badge kind="partial">completed with failures</Badge>;
  return <Badge kind={run.status}>{run.status.replace('_', ' ')}</Badge>;
}
