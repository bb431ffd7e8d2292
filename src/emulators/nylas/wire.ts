/**
 * Nylas v3 wire objects exactly as the API serialises them (snake_case), and the pure functions
 * that derive one from another (a thread from its messages, a snippet from a body).
 *
 * Glossary: a *grant* is one connected mailbox; a *thread* groups messages; *folders* are Google
 * label ids ("INBOX", "SENT", "Label_3"); a *key* is the (date, id) pair lists are ordered by.
 */

/** A name/address pair as it appears in from, to, cc, bcc, reply_to and participants. */
export interface WireParticipant {
  name?: string;
  email: string;
}

/** Attachment metadata carried on a message (content is fetched separately in the real API). */
export interface WireAttachment {
  id: string;
  grant_id: string;
  filename: string;
  content_type: string;
  size: number;
  content_id: string;
  content_disposition: 'attachment' | 'inline';
  is_inline: boolean;
}

/** One raw MIME header, sent only with `fields=include_headers` (or the basic subset). */
export interface WireHeader {
  name: string;
  value: string;
}

/** A message; `headers` appears only when asked for. */
export interface WireMessage {
  grant_id: string;
  id: string;
  object: 'message';
  thread_id: string;
  subject: string;
  from: WireParticipant[];
  to: WireParticipant[];
  cc: WireParticipant[];
  bcc: WireParticipant[];
  reply_to: WireParticipant[];
  /** Unix seconds, when the message was received (or sent, for the owner's messages). */
  date: number;
  unread: boolean;
  starred: boolean;
  snippet: string;
  body: string;
  folders: string[];
  attachments: WireAttachment[];
  metadata: Record<string, string>;
  headers?: WireHeader[];
}

/** A thread; `latest_message_sent_date` is absent when the owner never wrote in it. */
export interface WireThread {
  grant_id: string;
  id: string;
  object: 'thread';
  subject: string;
  snippet: string;
  participants: WireParticipant[];
  message_ids: string[];
  draft_ids: string[];
  folders: string[];
  has_attachments: boolean;
  has_drafts: boolean;
  unread: boolean;
  starred: boolean;
  earliest_message_date: number;
  latest_message_received_date?: number;
  latest_message_sent_date?: number;
  latest_draft_or_message: WireMessage;
}

/** A grant (connected account). */
export interface WireGrant {
  id: string;
  grant_status: 'valid' | 'invalid';
  provider: 'google';
  email: string;
  scope: string[];
  created_at: number;
  updated_at: number;
}

/** List envelope: a flat `data` array; `next_cursor` is absent on the last page. */
export interface WireList<T> {
  request_id: string;
  data: T[];
  next_cursor?: string;
}

/** Error envelope; the same request id is also sent as the `x-request-id` header. */
export interface WireError {
  request_id: string;
  error: { type: string; message: string; provider_error?: unknown };
}

/** The position of an object in a newest-first list; ties on date are broken by id. */
export interface ListKey {
  date: number;
  id: string;
}

/** Negative when `a` comes first in a newest-first list. */
export function compareKeys(a: ListKey, b: ListKey): number {
  if (a.date !== b.date) return b.date - a.date;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The sort key of a thread: its latest received message, or its latest message when none was received. */
export function threadKey(thread: WireThread): ListKey {
  return { date: thread.latest_message_received_date ?? thread.latest_draft_or_message.date, id: thread.id };
}

export function messageKey(message: WireMessage): ListKey {
  return { date: message.date, id: message.id };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' };

/** First 100 characters of the visible text. Counted in code points so an emoji is never split in half. */
export function snippetOf(html: string): string {
  const text = html
    .replace(/<(br|\/p|\/div|\/li|\/h\d)\b[^>]*>/gi, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, name: string) => ENTITIES[name] ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  let end = 0;
  let count = 0;
  for (const char of text) {
    if (count++ === 100) break;
    end += char.length;
  }
  return text.slice(0, end);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (char) => ESCAPES[char] ?? char);
}

/** The message as the API returns it: headers only when asked for (`basic` keeps the common ones). */
export function presentMessage(message: WireMessage, headers: 'none' | 'basic' | 'all'): WireMessage {
  const { headers: all, ...rest } = message;
  if (headers === 'none' || !all) return rest;
  if (headers === 'all') return { ...rest, headers: all };
  return { ...rest, headers: all.filter((h) => BASIC_HEADERS.has(h.name.toLowerCase())) };
}

const BASIC_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'subject', 'date', 'message-id']);

/**
 * Derives a thread from its messages (in date order). Both generated and mutated threads go
 * through here, so the aggregate fields can never disagree with the messages.
 */
export function assembleThread(grantId: string, threadId: string, ownerEmail: string, messages: readonly WireMessage[]): WireThread {
  const first = messages[0];
  const latest = messages[messages.length - 1];
  if (!first || !latest) throw new Error(`thread ${threadId} has no messages`);
  const owner = ownerEmail.toLowerCase();
  const participants = new Map<string, WireParticipant>();
  const folders = new Set<string>();
  let received: number | undefined;
  let sent: number | undefined;
  for (const message of messages) {
    for (const person of [...message.from, ...message.to, ...message.cc]) {
      const email = person.email.toLowerCase();
      if (!participants.has(email)) participants.set(email, { ...person });
    }
    for (const folder of message.folders) folders.add(folder);
    const fromOwner = message.from.some((p) => p.email.toLowerCase() === owner);
    if (fromOwner) sent = Math.max(sent ?? message.date, message.date);
    else received = Math.max(received ?? message.date, message.date);
  }
  return {
    grant_id: grantId,
    id: threadId,
    object: 'thread',
    subject: first.subject,
    snippet: latest.snippet,
    participants: [...participants.values()],
    message_ids: messages.map((m) => m.id),
    draft_ids: [],
    folders: [...folders],
    has_attachments: messages.some((m) => m.attachments.length > 0),
    has_drafts: false,
    unread: messages.some((m) => m.unread),
    starred: messages.some((m) => m.starred),
    earliest_message_date: first.date,
    ...(received !== undefined && { latest_message_received_date: received }),
    ...(sent !== undefined && { latest_message_sent_date: sent }),
    latest_draft_or_message: presentMessage(latest, 'none'),
  };
}

/** Headers a mail client would have written; the chain of Message-IDs ties a reply to its thread. */
export function mimeHeaders(message: WireMessage, earlierMessageIds: readonly string[]): WireHeader[] {
  const list = (people: WireParticipant[]) => people.map((p) => (p.name ? `"${p.name}" <${p.email}>` : p.email)).join(', ');
  const messageId = (id: string) => `<${id}@mail.emulator.nylas.test>`;
  const headers: WireHeader[] = [
    { name: 'Message-ID', value: messageId(message.id) },
    { name: 'Date', value: new Date(message.date * 1000).toUTCString().replace('GMT', '+0000') },
    { name: 'From', value: list(message.from) },
    { name: 'To', value: list(message.to) },
  ];
  if (message.cc.length) headers.push({ name: 'Cc', value: list(message.cc) });
  headers.push({ name: 'Subject', value: message.subject });
  const parent = earlierMessageIds[earlierMessageIds.length - 1];
  if (parent) {
    headers.push({ name: 'In-Reply-To', value: messageId(parent) });
    headers.push({ name: 'References', value: earlierMessageIds.map(messageId).join(' ') });
  }
  headers.push({ name: 'MIME-Version', value: '1.0' }, { name: 'Content-Type', value: 'text/html; charset="UTF-8"' });
  return headers;
}
