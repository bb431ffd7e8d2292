import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api/client.ts';
import { useResource } from '../api/hooks.ts';
import type { Inbox, Progress } from '../api/types.ts';
import { FlashNote, useFlash } from '../ui.tsx';

const DAY_MS = 86_400_000;

/** Connects an inbox by grant id, and starts a backfill of a connected one over the last N days. */
export function StartBackfill({ onStarted, backfills }: { onStarted(): void; backfills: unknown }) {
  const inboxes = useResource<{ inboxes: Inbox[] }>('/api/inboxes');
  const { reload } = inboxes;
  // Each inbox's phase follows the backfill list.
  useEffect(reload, [reload, backfills]);
  const [inboxId, setInboxId] = useState('');
  const [days, setDays] = useState('365');
  const [grant, setGrant] = useState('');
  const [flash, setFlash] = useFlash(6000);
  const list = inboxes.data?.inboxes ?? [];
  const chosen = inboxId || list[0]?.id || '';
  const current = list.find((i) => i.id === chosen);
  // One backfill per inbox at a time: Start waits until the running one ends (no 409 to read).
  // `pending` is also the state of an inbox never backfilled: running only once a run started.
  const started = (backfills as { backfills?: Progress[] } | undefined)?.backfills?.find((b) => b.configId === current?.configId)?.backfillStartedAt;
  const status = current?.backfillStatus;
  const running = status === 'discovering' || status === 'thread_sync' || (status === 'pending' && !!started);
  const [starting, setStarting] = useState(false);

  const start = async (e: FormEvent) => {
    e.preventDefault();
    const n = Number(days);
    // A full year is the server's default window; sending it would race the server's clock.
    const body = n > 0 && n < 365 ? { since: new Date(Date.now() - n * DAY_MS).toISOString() } : {};
    setStarting(true);
    try {
      await api('POST', `/api/inboxes/${chosen}/backfill`, body);
      setFlash({ kind: 'ok', text: 'Backfill started.' });
      onStarted();
      reload();
    } catch (err) {
      const who = current?.email ?? current?.grantId ?? 'this inbox';
      setFlash({ kind: 'error', text: (err as { status?: number }).status === 409 ? `A backfill of ${who} is already running.` : (err as Error).message });
    } finally {
      setStarting(false);
    }
  };
  const connect = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const res = await api<{ inbox: { id: string } }>('POST', '/api/inboxes', { grantId: grant.trim() });
      setInboxId(res.inbox.id);
      setGrant('');
      inboxes.reload();
      setFlash({ kind: 'ok', text: 'Inbox connected.' });
    } catch (err) {
      setFlash({ kind: 'error', text: (err as Error).message });
    }
  };

  const connectForm = (
    <form className="inline" onSubmit={connect} aria-label="Connect an inbox">
      <label>
        grant id <input value={grant} onChange={(e) => setGrant(e.target.value)} placeholder="Nylas grant id" />
      </label>
      <button type="submit" className={list.length === 0 ? 'primary' : undefined} disabled={!grant.trim()}>Connect inbox</button>
    </form>
  );
  // With no inbox yet, connecting is the only thing to do: it comes first.
  if (inboxes.data && list.length === 0) {
    return (
      <div className="forms">
        <p className="meta">Connect an inbox by its Nylas grant id, then start its backfill.</p>
        {connectForm}
        <FlashNote flash={flash} />
      </div>
    );
  }
  return (
    <div className="forms">
      <form className="inline" onSubmit={start} aria-label="Start a backfill">
        <label>
          inbox{' '}
          <select value={chosen} onChange={(e) => setInboxId(e.target.value)} disabled={list.length === 0}>
            {list.map((i) => (
              <option key={i.id} value={i.id}>{i.email ?? i.grantId} ({i.backfillStatus ?? 'never'})</option>
            ))}
          </select>
        </label>
        <label>
          last <input type="number" min={1} max={365} value={days} onChange={(e) => setDays(e.target.value)} className="short" /> days
        </label>
        <button type="submit" className="primary" disabled={!chosen || running || starting} title={running ? 'a backfill of this inbox is running' : undefined}>
          Start backfill
        </button>
        {running && <span className="meta">running…</span>}
      </form>
      {connectForm}
      <FlashNote flash={flash} />
    </div>
  );
}
