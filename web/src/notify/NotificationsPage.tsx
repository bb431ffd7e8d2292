import { useState } from 'react';
import { api } from '../api/client.ts';
import { useLive, useResource } from '../api/hooks.ts';
import { ago } from '../format.ts';
import { Link } from '../router.tsx';
import { Badge, Empty, ErrorNote } from '../ui.tsx';

/** The notifications routes' shapes (docs/API.md, Notifications), as far as these pages read them. */
interface Notification {
  id: number; name: string; status: string; recipients: string[]; channels: string[] | null; payload: unknown;
  errorDetails: unknown; runId: string | null; dispatchCount: number; scheduledFor: string | null; createdAt: string; processedAt: string | null;
}
interface Delivery { id: number; recipient: string; channel: string; status: string; attempts: number; provider: string | null; content: { subject?: string | null; body?: string; actionUrl?: string | null } | null; error: string | null }
interface InboxMessage { id: number; title: string | null; body: string; actionUrl: string | null; read: boolean; seen: boolean; createdAt: string }

const kind = (status: string) => (status === 'SENT' ? 'completed' : status === 'FAILED' ? 'failed' : status === 'RETRACTED' ? 'cancelled' : status.toLowerCase());

/** The latest notifications with their status. */
export function NotificationsPage() {
  const list = useResource<{ notifications: Notification[] }>('/api/notifications?limit=100', { live: 3_000, offline: 3_000 });
  const rows = list.data?.notifications ?? [];
  return (
    <section>
      <h1>Notifications</h1>
      <p className="small"><Link to="/notifications/inbox">In-app inbox demo</Link></p>
      <ErrorNote error={list.error} />
      {list.data && rows.length === 0 && <Empty>No notification yet.</Empty>}
      {rows.length > 0 && (
        <table className="grid" aria-label="Notifications">
          <thead><tr><th>id</th><th>name</th><th>status</th><th>channels</th><th>recipients</th><th>created</th><th>processed</th></tr></thead>
          <tbody>{rows.map((n) => (
            <tr key={n.id}>
              <td><Link to={`/notifications/${n.id}`}>{n.id}</Link></td><td>{n.name}</td><td><Badge kind={kind(n.status)}>{n.status}</Badge></td>
              <td>{(n.channels ?? []).join(', ')}</td><td>{n.recipients.length}</td><td>{ago(n.createdAt)}</td><td>{n.processedAt ? ago(n.processedAt) : '—'}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

/** One notification: its deliveries per recipient and channel, with what was rendered, and its run. */
export function NotificationPage({ id }: { id: string }) {
  const detail = useResource<{ notification: Notification; deliveries: Delivery[] }>(`/api/notifications/${id}`, { live: 2_000, offline: 2_000 });
  const [note, setNote] = useState<string>();
  const n = detail.data?.notification;
  const retract = async () => {
    const r = await api<{ previousStatus: string; inAppRetracted: number }>('POST', `/api/notifications/${id}/retract`, { reason: 'retracted from the dashboard' });
    setNote(`retracted (was ${r.previousStatus}; ${r.inAppRetracted} in-app message(s) withdrawn)`);
  };
  const resend = async () => {
    await api('POST', `/api/notifications/${id}/resend`, {});
    setNote('sent again: deliveries already SENT are not repeated');
  };
  return (
    <section>
      <p><Link to="/notifications">Notifications</Link></p>
      <h1>Notification {id} {n && <Badge kind={kind(n.status)}>{n.status}</Badge>}</h1>
      <ErrorNote error={detail.error} />
      {n && (
        <>
          <p>
            {n.name} · dispatches {n.dispatchCount} · {n.runId ? <Link to={`/workflows/runs/${n.runId}`}>delivery run</Link> : 'no run yet'}
            {n.status === 'FAILED' && <> · <button type="button" onClick={() => void resend()}>Resend</button></>}
            {n.status !== 'RETRACTED' && <> · <button type="button" onClick={() => void retract()}>Retract</button></>} {note && <span className="small">{note}</span>}
          </p>
          <h2>Deliveries</h2>
          {detail.data!.deliveries.length === 0 ? <Empty>No delivery yet.</Empty> : (
            <table className="grid" aria-label="Deliveries">
              <thead><tr><th>recipient</th><th>channel</th><th>status</th><th>attempts</th><th className="wide">rendered</th></tr></thead>
              <tbody>{detail.data!.deliveries.map((d) => (
                <tr key={d.id}>
                  <td className="small">{d.recipient}</td><td>{d.channel}</td><td><Badge kind={kind(d.status)}>{d.status}</Badge></td><td>{d.attempts}</td>
                  <td>{d.content?.subject && <strong>{d.content.subject}<br /></strong>}<span className="small">{d.content?.body ?? '—'}</span>
                    {d.content?.actionUrl && <div className="small">action: {d.content.actionUrl}</div>}{d.error && <div className="error-text small">{d.error}</div>}</td>
                </tr>
              ))}</tbody>
            </table>
          )}
          <h2>Payload</h2>
          <pre>{JSON.stringify(n.payload, null, 2)}</pre>
          <h2>Result (error_details)</h2>
          <pre>{JSON.stringify(n.errorDetails, null, 2)}</pre>
        </>
      )}
    </section>
  );
}

const DEMO_SUBSCRIBER = '00000000-0000-4000-8000-00000000d3e0';

/**
 * An in-app inbox: a subscriber's messages, unread count, mark read / archive. Live over `/ws`
 * (topic `inbox:<subscriberId>`: new, updated and retracted messages); polled only while the
 * socket is down.
 */
export function InboxDemoPage() {
  const [subscriber, setSubscriber] = useState(DEMO_SUBSCRIBER);
  const inbox = useResource<{ messages: InboxMessage[]; unread: number; total: number }>(`/api/notify/inbox/${subscriber}`, { live: 60_000, offline: 3_000 });
  useLive([`inbox:${subscriber}`], () => inbox.reload());
  const mark = async (action: string, ids?: number[]) => {
    await api('POST', `/api/notify/inbox/${subscriber}/mark`, { action, ...(ids && { ids }) });
    inbox.reload();
  };
  return (
    <section>
      <p><Link to="/notifications">Notifications</Link></p>
      <h1>Inbox {inbox.data && <Badge kind="waiting">{inbox.data.unread} unread</Badge>}</h1>
      <p><label>Subscriber <input value={subscriber} onChange={(e) => setSubscriber(e.target.value.trim())} size={40} /></label>{' '}
        <button type="button" onClick={() => void mark('read')}>Mark all read</button></p>
      <ErrorNote error={inbox.error} />
      {inbox.data && inbox.data.messages.length === 0 && <Empty>No message.</Empty>}
      {inbox.data && inbox.data.messages.length > 0 && (
        <table className="grid" aria-label="Inbox">
          <thead><tr><th>message</th><th>received</th><th /></tr></thead>
          <tbody>{inbox.data.messages.map((m) => (
            <tr key={m.id}>
              <td>{!m.read && <Badge kind="waiting">new</Badge>} <strong>{m.title}</strong> {m.body}{m.actionUrl && /^https?:\/\//.test(m.actionUrl) && <> · <a href={m.actionUrl} rel="noreferrer">open</a></>}</td><td>{ago(m.createdAt)}</td>
              <td>{!m.read && <button type="button" onClick={() => void mark('read', [m.id])}>Read</button>} <button type="button" onClick={() => void mark('archive', [m.id])}>Archive</button></td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}
