import { useState } from 'react';
import { ApiError } from '../api/client.ts';
import { useResource } from '../api/hooks.ts';
import type { Extraction, Message, Participant } from '../api/types.ts';
import { dateTime, htmlToText } from '../format.ts';
import { Empty, ErrorNote } from '../ui.tsx';
import { ExtractionPanel } from './ExtractionPanel.tsx';

/** A thread's messages, oldest first, each with its body and its extraction. */
export function ThreadView({ threadId }: { threadId: string }) {
  const messages = useResource<{ messages: Message[] }>(`/api/threads/${threadId}/messages`);
  const list = messages.data?.messages ?? [];
  return (
    <div className="thread-view">
      <ErrorNote error={messages.error} />
      {messages.data && list.length === 0 && <Empty>This thread has no stored messages.</Empty>}
      {list.map((m, i) => <MessageCard key={m.id} message={m} initiallyOpen={i === list.length - 1} />)}
    </div>
  );
}

const people = (list: Participant[] | null) => (list ?? []).map((p) => (p.name ? `${p.name} <${p.email}>` : p.email)).join(', ');

function MessageCard({ message, initiallyOpen }: { message: Message; initiallyOpen: boolean }) {
  const [open, setOpen] = useState(initiallyOpen);
  return (
    <article className="message" data-message={message.id}>
      <button type="button" className="message-head" aria-expanded={open} onClick={() => setOpen(!open)}>
        <strong>{people(message.fromParticipants) || '(unknown sender)'}</strong>
        <span className="meta">{dateTime(message.date)}</span>
        {!open && <span className="snippet">{message.snippet}</span>}
      </button>
      {open && (
        <>
          <p className="meta">to {people(message.toParticipants) || '—'} · {message.subject || '(no subject)'}</p>
          <pre className="body">{htmlToText(message.body ?? message.snippet ?? '')}</pre>
          <MessageExtraction messageId={message.id} />
        </>
      )}
    </article>
  );
}

function MessageExtraction({ messageId }: { messageId: string }) {
  const res = useResource<Extraction>(`/api/messages/${messageId}/extraction`);
  if (res.error instanceof ApiError && res.error.code === 'not_extracted') {
    return <p className="empty small">Not extracted yet.</p>;
  }
  if (res.error) return <ErrorNote error={res.error} />;
  if (!res.data) return null;
  return <ExtractionPanel value={res.data} />;
}
