/**
 * The generated part of a grant's mailbox. Nothing is stored: thread `i` is recomputed from
 * (seed, grant id, i) on every call, so a mailbox of any size costs a few numbers of memory and
 * reproduces byte for byte. Mutations live in the overlay (mailbox.ts), never here.
 *
 * Ordering invariant the list endpoints rely on: the latest message of thread i is strictly newer
 * than that of thread i + 1, and is always a received message. Every other message of thread i is
 * at most `maxSpanSeconds` older than its latest.
 */
import { escapeHtml, mimeHeaders, snippetOf, type WireAttachment, type WireMessage, type WireParticipant } from './wire.ts';
import { ATTACHMENTS, CATEGORIES, GREETINGS, LABELS, OWNER_NAMES, PEOPLE, SENTENCES, SIGNOFFS, SUBJECTS } from './vocabulary.ts';

/** 32-bit FNV-1a over the parts, finished with murmur3's mix so neighbouring inputs land far apart. */
export function hash32(...parts: ReadonlyArray<string | number>): number {
  const text = parts.join('\u001f');
  let h = 0x811c9dc5;
  for (let k = 0; k < text.length; k++) {
    h ^= text.charCodeAt(k);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Small seeded PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

export const hex = (n: number, width: number): string => (n >>> 0).toString(16).padStart(width, '0');

/** Odd multiplier scrambling thread indexes into ids, and its inverse mod 2^32 (Newton's method). */
const SCRAMBLE = 0x9e3779b1;
const UNSCRAMBLE = [1, 2, 3, 4, 5].reduce((x) => Math.imul(x, 2 - Math.imul(SCRAMBLE, x)), SCRAMBLE);

const DAY = 86_400;
/** Threads spread over the 18 months before `now`, so "the last year" backfills find most of them. */
export const WINDOW_SECONDS = 548 * DAY;
/** Replies in a generated thread come 5 minutes to 2 days apart (bounds the look-ahead of message lists). */
const MIN_GAP = 300;
const MAX_GAP = 2 * DAY;

export interface MailboxShape {
  seed: number;
  threads: number;
  messagesPerThread: number;
  /** Unix seconds the mailbox is generated relative to. */
  now: number;
}

export class GeneratedMailbox {
  /** 8 hex digits shared by every id of this (seed, grant): ids never collide across grants. */
  readonly tag: string;
  readonly count: number;
  readonly maxSpanSeconds: number;
  private readonly mask: number;
  private readonly step: number;
  private readonly newest: number;
  private readonly ownerName: string;

  constructor(private readonly shape: MailboxShape, readonly grantId: string, readonly ownerEmail: string) {
    const tagHash = hash32(shape.seed, grantId, 'tag');
    this.tag = hex(tagHash, 8);
    this.mask = hash32(shape.seed, grantId, 'mask');
    this.count = shape.threads;
    this.step = Math.max(1, Math.floor(WINDOW_SECONDS / Math.max(1, shape.threads)));
    this.newest = shape.now - 60;
    this.maxSpanSeconds = (shape.messagesPerThread - 1) * MAX_GAP;
    this.ownerName = pick(seededRandom(tagHash), OWNER_NAMES);
  }

  /**
   * Latest (received) message date of thread i. Thread i owns the slot [i*step, (i+1)*step) back
   * from `newest` and sits at a hashed offset inside it, which keeps dates strictly decreasing.
   */
  latestDate(i: number): number {
    const jitter = Math.floor((hash32(this.shape.seed, this.grantId, 'date', i) / 4294967296) * this.step);
    return this.newest - i * this.step - jitter;
  }

  /** The first thread index whose latest date is at or before `date` (count when none is). */
  firstIndexAtOrBefore(date: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.latestDate(mid) <= date) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Bijective in i, so ids look random yet parse back to the index without a lookup table. */
  threadId(i: number): string {
    return this.tag + hex(Math.imul(i ^ this.mask, SCRAMBLE), 8);
  }

  messageId(i: number, j: number): string {
    return this.threadId(i) + hex(j, 4);
  }

  indexOfThread(id: string): number | undefined {
    if (id.length !== 16 || !id.startsWith(this.tag) || !/^[0-9a-f]+$/.test(id)) return undefined;
    const i = (Math.imul(Number.parseInt(id.slice(8), 16), UNSCRAMBLE) ^ this.mask) >>> 0;
    return i < this.count ? i : undefined;
  }

  indexOfMessage(id: string): { thread: number; message: number } | undefined {
    if (id.length !== 20) return undefined;
    const thread = this.indexOfThread(id.slice(0, 16));
    const message = /^[0-9a-f]{4}$/.test(id.slice(16)) ? Number.parseInt(id.slice(16), 16) : Number.NaN;
    if (thread === undefined || !(message < this.shape.messagesPerThread)) return undefined;
    return { thread, message };
  }

  /** Messages of thread i, oldest first, with their MIME headers. */
  messages(i: number): WireMessage[] {
    const random = seededRandom(hash32(this.shape.seed, this.grantId, 'thread', i));
    const m = this.shape.messagesPerThread;
    const owner: WireParticipant = { name: this.ownerName, email: this.ownerEmail };
    const contacts = distinct(random, PEOPLE, 1 + Math.floor(random() * 3));
    const subject = pick(random, SUBJECTS);
    const archived = random() < 0.2;
    const received = [
      ...(archived ? [] : ['INBOX']),
      pick(random, CATEGORIES),
      ...(random() < 0.25 ? ['IMPORTANT'] : []),
    ];
    const label = random() < 0.3 ? [pick(random, LABELS)] : [];

    const dates: number[] = new Array<number>(m);
    dates[m - 1] = this.latestDate(i);
    for (let j = m - 2; j >= 0; j--) {
      const gap = MIN_GAP + Math.floor(random() * random() * (MAX_GAP - MIN_GAP));
      dates[j] = (dates[j + 1] ?? 0) - gap;
    }

    const messages: WireMessage[] = [];
    for (let j = 0; j < m; j++) {
      // The last message is always received: the list order follows latest_message_received_date.
      const fromOwner = j === m - 1 ? false : j === 0 ? random() < 0.2 : random() < 0.5;
      const contact = contacts[j % contacts.length] ?? owner;
      const from = fromOwner ? owner : contact;
      const others = contacts.filter((c) => c !== from);
      const id = this.messageId(i, j);
      const isLatest = j === m - 1;
      const body = composeBody(random, from, fromOwner ? contact : owner);
      const message: WireMessage = {
        grant_id: this.grantId,
        id,
        object: 'message',
        thread_id: this.threadId(i),
        subject: j === 0 ? subject : `Re: ${subject}`,
        from: [from],
        to: [fromOwner ? contact : owner],
        cc: others.length > 0 && random() < 0.4 ? others : [],
        bcc: [],
        reply_to: [],
        date: dates[j] ?? 0,
        unread: !fromOwner && random() < (isLatest ? 0.4 : 0.05),
        starred: random() < 0.06,
        snippet: snippetOf(body),
        body,
        folders: fromOwner ? ['SENT', ...label] : [...received, ...label],
        attachments: random() < 0.18 ? this.attachments(random, id) : [],
        metadata: {},
      };
      message.headers = mimeHeaders(message, messages.map((earlier) => earlier.id));
      messages.push(message);
    }
    return messages;
  }

  private attachments(random: () => number, messageId: string): WireAttachment[] {
    const count = 1 + Math.floor(random() * 2);
    return Array.from({ length: count }, (_, k) => {
      const kind = pick(random, ATTACHMENTS);
      const inline = kind.contentType.startsWith('image/') && random() < 0.5;
      return {
        id: `${messageId}a${k}`,
        grant_id: this.grantId,
        filename: kind.filename,
        content_type: kind.contentType,
        size: 1_024 + Math.floor(random() * 2_000_000),
        content_id: `${inline ? 'ii' : 'f'}_${messageId}${k}`,
        content_disposition: inline ? 'inline' : 'attachment',
        is_inline: inline,
      };
    });
  }
}

function distinct<T>(random: () => number, items: readonly T[], count: number): T[] {
  const chosen: T[] = [];
  while (chosen.length < Math.min(count, items.length)) {
    const item = pick(random, items);
    if (!chosen.includes(item)) chosen.push(item);
  }
  return chosen;
}

/** An HTML body; names and sentences are escaped, so "R&D" arrives as "R&amp;D" like real mail. */
export function composeBody(random: () => number, from: WireParticipant, to: WireParticipant): string {
  const first = (to.name ?? to.email).split(' ')[0] ?? '';
  const sentences = Array.from({ length: 1 + Math.floor(random() * 3) }, () => `<p>${escapeHtml(pick(random, SENTENCES))}</p>`);
  return (
    `<div dir="ltr"><p>${escapeHtml(pick(random, GREETINGS))} ${escapeHtml(first)},</p>${sentences.join('')}` +
    `<p>${escapeHtml(pick(random, SIGNOFFS))},<br>${escapeHtml(from.name ?? from.email)}</p></div>`
  );
}
