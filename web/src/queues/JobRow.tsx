import { Fragment, useState } from 'react';
import type { JobView } from '../api/types.ts';
import { ago, compactJson, dateTime } from '../format.ts';
import { ConfirmButton } from '../ui.tsx';

const RETRYABLE = new Set(['dead', 'failed', 'delayed']);

/** One job; its id opens the full payload, error stack and progress. */
export function JobRow({ job, onRetry, onDelete }: { job: JobView; onRetry(job: JobView): void; onDelete(job: JobView): void }) {
  const [open, setOpen] = useState(false);
  const when = job.state === 'active' ? job.startedAt : job.state === 'delayed' || job.state === 'failed' ? job.runAt : job.finishedAt;
  return (
    <Fragment>
      <tr data-job={job.id}>
        <td>
          <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>#{job.id}</button>
        </td>
        <td className="mono clip">{compactJson(job.payload, 80)}</td>
        <td className="n">{job.attempts}/{job.maxAttempts}</td>
        <td title={dateTime(job.createdAt)}>{ago(job.createdAt)}</td>
        <td>{dateTime(when)}</td>
        <td className="clip error-text">{job.lastError ? `${job.lastError.name}: ${job.lastError.message}` : ''}</td>
        <td className="actions">
          {RETRYABLE.has(job.state) && <button type="button" onClick={() => onRetry(job)}>Retry</button>}
          {job.state !== 'active' && <ConfirmButton label="Delete" confirm="Sure?" onConfirm={() => onDelete(job)} />}
        </td>
      </tr>
      {open && (
        <tr className="detail">
          <td colSpan={7}>
            <dl>
              <dt>payload</dt>
              <dd><pre>{JSON.stringify(job.payload, null, 2)}</pre></dd>
              {job.lastError?.stack && (
                <>
                  <dt>stack</dt>
                  <dd><pre>{job.lastError.stack}</pre></dd>
                </>
              )}
              {job.progress != null && (
                <>
                  <dt>progress</dt>
                  <dd><pre>{JSON.stringify(job.progress, null, 2)}</pre></dd>
                </>
              )}
              <dt>keys</dt>
              <dd>priority {job.priority} · group {job.groupKey ?? '—'} · dedup {job.dedupKey ?? '—'}</dd>
            </dl>
          </td>
        </tr>
      )}
    </Fragment>
  );
}
