import { useState } from 'react';
import { get } from '../api/client.ts';
import { useLive, useResource, useThrottled } from '../api/hooks.ts';
import type { Inbox, Thread } from '../api/types.ts';
import { dateTime } from '../format.ts';
import { navigate } from '../router.tsx';
import { Badge, Empty, ErrorNote } from '../ui.tsx';
import { ThreadView } from './ThreadView.tsx';

const PAGE = 50;
const LIVE_TOPICS = ['queue:thread_sync_jobs', 'queue:nylas_webhook_notifications'];

/** Inboxes, the chosen inbox's threads (newest first), and the chosen thread's messages. */
export function InboxPage({ inboxId, threadId }: { inboxId: string | null; threadId: string | null }) {
  const inboxes = useResource<{ inboxes: Inbox[] }>('/api/inboxes');
  const list = inboxes.data?.inboxes ?? [];
  const current = inboxId ?? list[0]?.id ?? null;
  const open = (inbox: string, thread?: string) => navigate(`/inbox?inbox=${inbox}${thread ? `&thread=${thread}` : ''}`);

  return (
    <section className="inbox">
      <h1>Inbox</h1>
      <ErrorNote error={inboxes.error} />
      {inboxes.data && list.length === 0 && <Empty>No inbox is connected (connect one on the Backfills page).</Empty>}
      {list.length > 0 && (
        <div className="inbox-picker" role="tablist" aria-label="Inboxes">
          {list.map((i) => (
            <button key={i.id} type="button" role="tab" aria-selected={i.id === current} className={i.id === current ? 'tab current' : 'tab'} onClick={() => open(i.id)}>
              {i.email ?? i.grantId} {i.status !== 'active' && <Badge kind="failed">{i.status}</Badge>}
            </button>
          ))}
        </div>
      )}
      {current && (
        <div className="panes">
          <ThreadList key={current} inboxId={current} selected={threadId} onSelect={(t) => open(current, t)} />
          {threadId ? <ThreadView threadId={threadId} /> : <Empty>Choose a thread.</Empty>}
        </div>
      )}
    </section>
  );
}

function ThreadList({ inboxId, selected, onSelect }: { inboxId: string; selected: string | null; onSelect(id: string): void }) {
  const first = useResource<{ threads: Thread[] }>(`/api/inboxes/${inboxId}/threads?limit=${PAGE}`, { live: 30_000, offline: 5_000 });
  // Threads change when a thread sync or a webhook finishes: the newest page follows them live.
  const refresh = useThrottled(first.reload, 1000);
  useLive(LIVE_TOPICS, (event) => {
    if (event.type === 'completed') refresh();
  });
  const [older, setOlder] = useState<{ threads: Thread[]; done: boolean; error?: Error }>({ threads: [], done: false });
  const threads = [...(first.data?.threads ?? []), ...older.threads];
  const last = threads[threads.length - 1]?.latestMessageReceivedDate;
  const more = async () => {
    if (!last) return;
    try {
      const page = await get<{ threads: Thread[] }>(`/api/inboxes/${inboxId}/threads?limit=${PAGE}&before=${encodeURIComponent(last)}`);
      setOlder((o) => ({ threads: [...o.threads, ...page.threads], done: page.threads.length < PAGE }));
    } catch (error) {
      setOlder((o) => ({ ...o, error: error as Error }));
    }
  };
  const full = (first.data?.threads.length ?? 0) === PAGE && !older.done;
  return (
    <div className="thread-list" aria-label="Threads">
      <ErrorNote error={first.error ?? older.error} />
      {first.data && threads.length === 0 && <Empty>No threads synced yet.</Empty>}
      <ul>
        {threads.map((t) => <ThreadItem key={t.id} thread={t} selected={t.id === selected} onSelect={onSelect} />)}
      </ul>
      {full && <button type="button" className="more" onClick={more}>Older threads</button>}
    </div>
  );
}

function ThreadItem({ thread, selected, onSelect }: { thread: Thread; selected: boolean; onSelect(id: string): void }) {
  const who = (thread.participants ?? []).map((p) => p.name || p.email).slice(0, 3).join(', ');
  return (
    <li>
      <button type="button" className={selected ? 'thread current' : 'thread'} onClick={() => onSelect(thread.id)} data-thread={thread.id}>
        <span className={thread.unread ? 'subject unread' : 'subject'}>{thread.subject || '(no subject)'}</span>
        <span className="meta">{who} · {dateTime(thread.latestMessageReceivedDate)} · {thread.messageIds?.length ?? 0} msg</span>
        <span className="snippet">{thread.snippet}</span>
      </button>
    </li>
  );
}
