import type { JobView } from '../api/types.ts';
import { clip } from '../format.ts';
import { Link } from '../router.tsx';
import { Ago } from '../time.tsx';
import { ConfirmButton } from '../ui.tsx';

/** One job; its id opens the job page. `fields`: the payload fields that tell the rows apart. */
export function JobRow({ job, fields, onRetry, onDelete }: {
  job: JobView; fields: string[]; onRetry(job: JobView): void; onDelete(job: JobView): void;
}) {
  const when = job.state === 'active' ? job.startedAt : job.state === 'scheduled' || job.state === 'waiting' ? job.runAt : job.finishedAt;
  const payload = job.payload && typeof job.payload === 'object' ? (job.payload as Record<string, unknown>) : null;
  const attempts = Array.isArray(job.attempts) ? job.attempts.length : job.attempts;
  const retryable = (job.state === 'dead' || job.state === 'scheduled') && job.retryable !== false;
  return (
    <tr data-job={job.id}>
      <td><Link to={`/queues/${encodeURIComponent(job.queue)}/jobs/${job.id}`}>#{job.id}</Link></td>
      <td className="mono fields">
        {payload
          ? fields.filter((f) => f in payload).map((f) => <span key={f} className="chip">{f}={clip(JSON.stringify(payload[f]) ?? '', 40)}</span>)
          : clip(JSON.stringify(job.payload) ?? '', 60)}
      </td>
      <td className="n">{attempts}/{job.maxAttempts}</td>
      <td><Ago iso={job.createdAt} /></td>
      <td>{when ? <Ago iso={when} /> : '—'}{job.scheduledReason === 'retry' && <span className="meta"> (retry)</span>}</td>
      <td className="clip error-text">{job.lastError ? `${job.lastError.name}: ${job.lastError.message}` : ''}</td>
      <td className="actions">
        {retryable && <button type="button" onClick={() => onRetry(job)}>Retry</button>}
        {job.state !== 'active' && <ConfirmButton label="Delete" confirm="Sure?" onConfirm={() => onDelete(job)} />}
      </td>
    </tr>
  );
}
