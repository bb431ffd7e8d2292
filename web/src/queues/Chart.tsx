import { useState } from 'react';
import { useResource } from '../api/hooks.ts';
import type { HistoryPoint } from '../api/types.ts';

/**
 * A queue's last hour or day, drawn by hand in SVG (a chart library would cost more bytes than
 * these two charts): processed jobs per bucket as bars with the failed part in red, and the
 * depth samples (waiting + scheduled, active) as lines.
 */

const W = 600;
const H = 120;

export function QueueHistory({ queue }: { queue: string }) {
  const [range, setRange] = useState<'hour' | 'day'>('hour');
  const history = useResource<{ points: HistoryPoint[]; bucketSeconds: number }>(
    `/api/queues/${encodeURIComponent(queue)}/history?range=${range}`, { live: 30_000, offline: 30_000 },
  );
  const points = history.data?.points ?? [];
  const processed = points.reduce((n, p) => n + p.processed, 0);
  const failed = points.reduce((n, p) => n + p.failed, 0);
  return (
    <section className="history" aria-label="History">
      <div className="title-row">
        <h2>Last {range}</h2>
        <span className="meta">{processed} processed · {failed} dead</span>
        <span className="spacer" />
        <div role="group" aria-label="Range">
          {(['hour', 'day'] as const).map((r) => (
            <button key={r} type="button" aria-pressed={r === range} className={r === range ? 'tab current' : 'tab'} onClick={() => setRange(r)}>{r}</button>
          ))}
        </div>
      </div>
      <div className="charts">
        <Bars points={points} label={`Jobs processed per ${history.data?.bucketSeconds === 60 ? 'minute' : '15 minutes'}, dead in red`} />
        <Depth points={points} label="Queue depth: waiting and scheduled (line), active (dashed)" />
      </div>
    </section>
  );
}

function Bars({ points, label }: { points: HistoryPoint[]; label: string }) {
  const max = Math.max(1, ...points.map((p) => p.processed));
  const w = W / Math.max(1, points.length);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="none">
        {points.map((p, i) => {
          const h = (p.processed / max) * (H - 4);
          const f = (Math.min(p.failed, p.processed) / max) * (H - 4);
          return (
            <g key={p.at}>
              <rect className="bar" x={i * w + 0.5} y={H - h} width={Math.max(1, w - 1)} height={h}><title>{`${new Date(p.at).toLocaleTimeString()}: ${p.processed} processed, ${p.failed} dead`}</title></rect>
              {f > 0 && <rect className="bar-failed" x={i * w + 0.5} y={H - f} width={Math.max(1, w - 1)} height={f} />}
            </g>
          );
        })}
      </svg>
      <figcaption className="meta">{label} · peak {max}</figcaption>
    </figure>
  );
}

function Depth({ points, label }: { points: HistoryPoint[]; label: string }) {
  const sampled = points.map((p, i) => ({ i, queued: p.waiting === null ? null : p.waiting + (p.scheduled ?? 0), active: p.active }));
  const max = Math.max(1, ...sampled.map((s) => Math.max(s.queued ?? 0, s.active ?? 0)));
  const x = (i: number) => (i + 0.5) * (W / Math.max(1, points.length));
  const y = (v: number) => H - 2 - (v / max) * (H - 6);
  const path = (key: 'queued' | 'active') =>
    sampled.filter((s) => s[key] !== null).map((s, n) => `${n ? 'L' : 'M'}${x(s.i).toFixed(1)},${y(s[key]!).toFixed(1)}`).join(' ');
  const none = sampled.every((s) => s.queued === null);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="none">
        <path className="line" d={path('queued')} />
        <path className="line line-active" d={path('active')} />
      </svg>
      <figcaption className="meta">{none ? 'Depth: no sample yet (taken once a minute)' : `${label} · peak ${max}`}</figcaption>
    </figure>
  );
}
