import { useState, type FormEvent } from 'react';
import { api } from '../api/client.ts';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import { ago, dateTime, duration } from '../format.ts';
import { Link } from '../router.tsx';
import { Badge, ConfirmButton, Empty, ErrorNote, FlashNote, useFlash, type Flash } from '../ui.tsx';

/** A schedule as GET /api/schedules returns it (docs/API.md, Schedules). */
interface Schedule {
  name: string;
  cron: string;
  timezone: string;
  queue: string;
  payload: Record<string, unknown>;
  missed: 'skip' | 'run-once';
  catchUpMs: number | null;
  enabled: boolean;
  source: 'code' | 'api';
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastJobId: number | null;
}

/**
 * Cron schedules with their next and last runs. Jobs enqueued on any queue refresh the list (a
 * fired occurrence is one), besides a poll that keeps "in 12s" current.
 */
export function SchedulesPage() {
  const schedules = useResource<{ schedules: Schedule[] }>('/api/schedules', { live: 5_000, offline: 3_000 });
  const refresh = useThrottled(schedules.reload, 500);
  useLive(['queue:*'], (event) => event.type === 'enqueued' && refresh());
  const [flash, setFlash] = useFlash(6000);
  const rows = schedules.data?.schedules ?? [];

  const act = async (what: () => Promise<string>) => {
    try {
      setFlash({ kind: 'ok', text: await what() });
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
    schedules.reload();
  };
  const path = (s: Schedule) => `/api/schedules/${encodeURIComponent(s.name)}`;

  return (
    <section>
      <h1>Schedules</h1>
      <ErrorNote error={schedules.error} />
      <AddSchedule onAdded={schedules.reload} setFlash={setFlash} />
      <FlashNote flash={flash} />
      {schedules.data && rows.length === 0 && <Empty>No schedule yet: domains declare theirs, or add one above.</Empty>}
      {rows.length > 0 && (
        <div className="scroll" tabIndex={0}>
        <table className="grid" aria-label="Schedules">
          <thead>
            <tr>
              <th>schedule</th>
              <th>cron</th>
              <th>queue</th>
              <th>state</th>
              <th>next run</th>
              <th>last run</th>
              <th>missed runs</th>
              <th className="actions" />
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.name} data-schedule={s.name} className={s.enabled ? '' : 'faded'}>
                <td>
                  {s.name} {s.source === 'code' && <span className="chip" title="declared by a domain">code</span>}
                </td>
                <td className="mono" title={s.timezone}>{s.cron} <span className="meta">{s.timezone}</span></td>
                <td><Link to={`/queues/${encodeURIComponent(s.queue)}`}>{s.queue}</Link></td>
                <td><Badge kind={s.enabled ? 'alive' : 'pending'}>{s.enabled ? 'on' : 'off'}</Badge></td>
                <td data-col="next" title={dateTime(s.nextRunAt)}>{s.enabled ? inTime(s.nextRunAt) : '—'}</td>
                <td data-col="last" title={dateTime(s.lastRunAt)}>
                  {ago(s.lastRunAt)} {s.lastJobId !== null && <span className="meta">job {s.lastJobId}</span>}
                </td>
                <td>{s.missed}{s.catchUpMs !== null && ` (≤ ${duration(s.catchUpMs)})`}</td>
                <td className="actions">
                  <button type="button" onClick={() => act(async () => {
                    const r = await api<{ jobId: number }>('POST', `${path(s)}/trigger`);
                    return `${s.name} fired: job ${r.jobId} on ${s.queue}.`;
                  })}>Run now</button>
                  <button type="button" onClick={() => act(async () => {
                    await api('PATCH', path(s), { enabled: !s.enabled });
                    return `${s.name} ${s.enabled ? 'disabled' : 'enabled'}.`;
                  })}>{s.enabled ? 'Disable' : 'Enable'}</button>
                  {s.source === 'api' && (
                    <ConfirmButton label="Delete" confirm="Delete?" onConfirm={() => act(async () => {
                      await api('DELETE', path(s));
                      return `${s.name} deleted.`;
                    })} />
                  )}
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

/** Creates a schedule; the server checks the cron and time zone and its message is shown as is. */
function AddSchedule({ onAdded, setFlash }: { onAdded(): void; setFlash(f: Flash): void }) {
  const [form, setForm] = useState({ name: '', cron: '', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone, queue: '', missed: 'skip' });
  const field = (key: keyof typeof form) => ({
    value: form[key],
    onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }),
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api('POST', '/api/schedules', form);
      setFlash({ kind: 'ok', text: `Schedule ${form.name} added.` });
      setForm({ ...form, name: '', cron: '' });
      onAdded();
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
  };
  return (
    <form className="inline" onSubmit={submit} aria-label="Add a schedule">
      <label>name <input {...field('name')} placeholder="daily-report" /></label>
      <label>cron <input {...field('cron')} placeholder="0 8 * * 1-5" className="mono" /></label>
      <label>time zone <input {...field('timezone')} /></label>
      <label>queue <input {...field('queue')} /></label>
      <label>
        missed{' '}
        <select {...field('missed')}>
          <option value="skip">skip</option>
          <option value="run-once">run once</option>
        </select>
      </label>
      <button type="submit" className="primary" disabled={!form.name || !form.cron || !form.queue}>Add schedule</button>
    </form>
  );
}

function inTime(iso: string | null): string {
  if (!iso) return 'never';
  const ms = Date.parse(iso) - Date.now();
  return ms > 0 ? `in ${duration(ms)}` : 'due';
}
