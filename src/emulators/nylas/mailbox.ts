/**
 * Every grant's mailbox: the generated threads (generate.ts) seen through an overlay of
 * mutations. A thread that is mutated is copied whole into the overlay and from then on is
 * skipped by the generator, so each thread has exactly one source of truth.
 *
 * Lists are keyset-paginated on (date desc, id asc): a page is the first `limit` objects after
 * the cursor key, so any page size works at any point (the SDK shrinks `limit` mid-list) and a
 * thread that moves to the top while a client pages is not returned twice.
 */
import { GeneratedMailbox, composeBody, hash32, hex, pick, seededRandom, type MailboxShape } from './generate.ts';
import { PEOPLE, SCOPES, SUBJECTS } from './vocabulary.ts';
import {
  assembleThread, compareKeys, messageKey, mimeHeaders, snippetOf, threadKey,
  type ListKey, type WireGrant, type WireMessage, type WireParticipant, type WireThread,
} from './wire.ts';

/** Filters shared by both lists. Dates are unix seconds over the half-open window [after, before). */
interface CommonQuery {
  limit: number;
  cursor?: ListKey;
  after?: number;
  before?: number;
  unread?: boolean;
  starred?: boolean;
  folder?: string;
  subject?: string;
  anyEmail?: string[];
}
export type ThreadQuery = CommonQuery;
export interface MessageQuery extends CommonQuery {
  threadId?: string;
}
export interface Page<T> {
  items: T[];
  /** Key of the last item, present only when more items follow. */
  next?: ListKey;
}

export interface NewMessage {
  threadId?: string;
  subject?: string;
  body?: string;
  from?: WireParticipant[];
  date?: number;
}
export interface MessageChanges {
  unread?: boolean;
  starred?: boolean;
  folders?: string[];
}

interface OverlayThread {
  id: string;
  messages: WireMessage[];
}

interface GrantState {
  id: string;
  email: string;
  createdAt: number;
  updatedAt: number;
  expired: boolean;
  generated: GeneratedMailbox;
  overlay: Map<string, OverlayThread>;
  /** Generated thread indexes copied into the overlay. */
  replaced: Set<number>;
  /** Message id -> thread id, for messages created in the overlay. */
  created: Map<string, string>;
  sequence: number;
}

/** Generated threads kept in the shared cache (a few MB at most). */
const RECENT_THREADS = 1_000;

/** Thrown for a mutation that names a thread or message the grant does not have. */
export class UnknownObjectError extends Error {}

export class Mailbox {
  private readonly grants = new Map<string, GrantState>();
  private readonly recent = new Map<string, readonly WireMessage[]>();

  constructor(private readonly shape: MailboxShape, private readonly clock: () => number) {}

  /**
   * A path's `{grant_id}` may be the account's email: `<id>@example.com` is the address generated
   * for grant `<id>`, so it resolves to that grant; any other address is a grant id of its own.
   */
  canonicalGrantId(identifier: string): string {
    const match = /^([^@]+)@example\.com$/i.exec(identifier);
    return match?.[1] ?? identifier;
  }

  grant(identifier: string): WireGrant {
    const state = this.state(identifier);
    return {
      id: state.id,
      grant_status: state.expired ? 'invalid' : 'valid',
      provider: 'google',
      email: state.email,
      scope: [...SCOPES],
      created_at: state.createdAt,
      updated_at: state.updatedAt,
    };
  }

  isExpired(identifier: string): boolean {
    return this.grants.get(this.canonicalGrantId(identifier))?.expired ?? false;
  }

  setExpired(identifier: string, expired: boolean): WireGrant {
    const state = this.state(identifier);
    state.expired = expired;
    state.updatedAt = Math.max(this.clock(), state.updatedAt + 1);
    return this.grant(identifier);
  }

  thread(identifier: string, threadId: string): WireThread | undefined {
    const state = this.state(identifier);
    const messages = this.threadMessages(state, threadId);
    return messages && assembleThread(state.id, threadId, state.email, messages);
  }

  /** Messages of a thread, oldest first. Shared objects: callers copy before handing them out. */
  messagesOf(identifier: string, threadId: string): readonly WireMessage[] | undefined {
    return this.threadMessages(this.state(identifier), threadId);
  }

  message(identifier: string, messageId: string): WireMessage | undefined {
    const state = this.state(identifier);
    const threadId = this.threadIdOfMessage(state, messageId);
    return threadId === undefined ? undefined : this.threadMessages(state, threadId)?.find((m) => m.id === messageId);
  }

  listThreads(identifier: string, query: ThreadQuery): Page<WireThread> {
    const state = this.state(identifier);
    const gen = state.generated;
    const matches = (thread: WireThread) => threadMatches(thread, query);
    const overlay = [...state.overlay.values()]
      .map((t) => assembleThread(state.id, t.id, state.email, t.messages))
      .filter(matches);
    // Generated threads are already in key order, so the first limit + 1 matches are enough.
    const generated: WireThread[] = [];
    for (let i = gen.firstIndexAtOrBefore(upperBound(query)); i < gen.count && generated.length <= query.limit; i++) {
      if (query.after !== undefined && gen.latestDate(i) < query.after) break;
      if (state.replaced.has(i)) continue;
      const thread = assembleThread(state.id, gen.threadId(i), state.email, this.generatedMessages(state, i));
      if (matches(thread)) generated.push(thread);
    }
    return paginate([...overlay, ...generated], threadKey, query.limit);
  }

  listMessages(identifier: string, query: MessageQuery): Page<WireMessage> {
    const state = this.state(identifier);
    const matches = (message: WireMessage) => messageMatches(message, query);
    if (query.threadId !== undefined) {
      return paginate((this.threadMessages(state, query.threadId) ?? []).filter(matches), messageKey, query.limit);
    }
    const gen = state.generated;
    const found = [...state.overlay.values()].flatMap((t) => t.messages.filter(matches));
    const want = query.limit + 1;
    // Messages of thread i are never older than its latest date minus maxSpan, so the scan starts
    // that far above the window and stops once no later thread can beat the page's last message.
    const generated: WireMessage[] = [];
    for (let i = gen.firstIndexAtOrBefore(upperBound(query) + gen.maxSpanSeconds); i < gen.count; i++) {
      const latest = gen.latestDate(i);
      if (query.after !== undefined && latest < query.after) break;
      if (generated.length >= want) {
        generated.sort((a, b) => compareKeys(messageKey(a), messageKey(b)));
        generated.length = want;
        if (latest < (generated[want - 1]?.date ?? Number.NEGATIVE_INFINITY)) break;
      }
      if (state.replaced.has(i)) continue;
      for (const message of this.generatedMessages(state, i)) if (matches(message)) generated.push(message);
    }
    return paginate([...found, ...generated], messageKey, query.limit);
  }

  createMessage(identifier: string, input: NewMessage): WireMessage {
    const state = this.state(identifier);
    // Catches the easy slip of passing Date.now(): wire dates are whole unix seconds.
    if (input.date !== undefined && !(Number.isInteger(input.date) && input.date >= 0 && input.date < 1e11)) {
      throw new RangeError(`date must be unix seconds, got ${input.date}`);
    }
    const sequence = ++state.sequence;
    const random = seededRandom(hash32(this.shape.seed, state.id, 'created', sequence));
    const thread = input.threadId === undefined
      ? this.newThread(state, sequence)
      : this.materialize(state, input.threadId);
    if (!thread) throw new UnknownObjectError(`thread ${input.threadId} not found in grant ${state.id}`);
    const owner: WireParticipant = { email: state.email };
    const from = (input.from ?? [pick(random, PEOPLE)]).map((p) => ({ ...p }));
    const fromOwner = from.some((p) => p.email.toLowerCase() === state.email.toLowerCase());
    const first = thread.messages[0];
    const others = first ? assembleThread(state.id, thread.id, state.email, thread.messages).participants
      .filter((p) => p.email.toLowerCase() !== state.email.toLowerCase()) : [];
    const body = input.body ?? composeBody(random, from[0] ?? owner, fromOwner ? (others[0] ?? owner) : owner);
    const message: WireMessage = {
      grant_id: state.id,
      id: `${state.generated.tag}m${hex(sequence, 7)}`,
      object: 'message',
      thread_id: thread.id,
      subject: input.subject ?? (first ? `Re: ${first.subject.replace(/^Re: /, '')}` : pick(random, SUBJECTS)),
      from,
      to: fromOwner ? (others.length ? others : [pick(random, PEOPLE)]) : [owner],
      cc: [],
      bcc: [],
      reply_to: [],
      date: input.date ?? this.clock(),
      unread: !fromOwner,
      starred: false,
      snippet: snippetOf(body),
      body,
      folders: fromOwner ? ['SENT'] : ['INBOX'],
      attachments: [],
      metadata: {},
    };
    message.headers = mimeHeaders(message, thread.messages.map((m) => m.id));
    thread.messages.push(message);
    // Stable sort: a message dated like an earlier one stays after it.
    thread.messages.sort((a, b) => a.date - b.date);
    state.created.set(message.id, thread.id);
    return message;
  }

  updateMessage(identifier: string, messageId: string, changes: MessageChanges): WireMessage {
    const state = this.state(identifier);
    const threadId = this.threadIdOfMessage(state, messageId);
    const message = threadId === undefined ? undefined : this.materialize(state, threadId)?.messages.find((m) => m.id === messageId);
    if (!message) throw new UnknownObjectError(`message ${messageId} not found in grant ${state.id}`);
    if (changes.unread !== undefined) message.unread = changes.unread;
    if (changes.starred !== undefined) message.starred = changes.starred;
    if (changes.folders !== undefined) message.folders = [...changes.folders];
    return message;
  }

  private state(identifier: string): GrantState {
    const id = this.canonicalGrantId(identifier);
    let state = this.grants.get(id);
    if (!state) {
      const email = id.includes('@') ? id : `${id}@example.com`;
      // Connected before the oldest generated thread, so the whole mailbox predates nothing odd.
      const createdAt = this.shape.now - 560 * 86_400 - (hash32(this.shape.seed, id, 'grant') % 86_400);
      state = {
        id, email, createdAt, updatedAt: createdAt, expired: false,
        generated: new GeneratedMailbox(this.shape, id, email),
        overlay: new Map(), replaced: new Set(), created: new Map(), sequence: 0,
      };
      this.grants.set(id, state);
    }
    return state;
  }

  /**
   * Generated messages of thread i through a small cache shared by all grants: paging and the hot
   * URLs of a load test stop regenerating threads, while memory stays bounded for any mailbox.
   */
  private generatedMessages(state: GrantState, i: number): readonly WireMessage[] {
    const key = `${state.id}\u0000${i}`;
    let messages = this.recent.get(key);
    if (messages) {
      this.recent.delete(key);
    } else {
      messages = state.generated.messages(i);
      const oldest = this.recent.keys().next();
      if (this.recent.size >= RECENT_THREADS && !oldest.done) this.recent.delete(oldest.value);
    }
    this.recent.set(key, messages);
    return messages;
  }

  private threadMessages(state: GrantState, threadId: string): readonly WireMessage[] | undefined {
    const overlay = state.overlay.get(threadId);
    if (overlay) return overlay.messages;
    const index = state.generated.indexOfThread(threadId);
    return index === undefined ? undefined : this.generatedMessages(state, index);
  }

  private threadIdOfMessage(state: GrantState, messageId: string): string | undefined {
    const created = state.created.get(messageId);
    if (created !== undefined) return created;
    const found = state.generated.indexOfMessage(messageId);
    return found && state.generated.threadId(found.thread);
  }

  /** Copies a generated thread into the overlay (once) so it can change. */
  private materialize(state: GrantState, threadId: string): OverlayThread | undefined {
    const existing = state.overlay.get(threadId);
    if (existing) return existing;
    const index = state.generated.indexOfThread(threadId);
    if (index === undefined) return undefined;
    // A copy: the cached generated objects are shared and must never change.
    const thread = { id: threadId, messages: structuredClone([...this.generatedMessages(state, index)]) };
    state.overlay.set(threadId, thread);
    state.replaced.add(index);
    return thread;
  }

  private newThread(state: GrantState, sequence: number): OverlayThread {
    const thread = { id: `${state.generated.tag}n${hex(sequence, 7)}`, messages: [] };
    state.overlay.set(thread.id, thread);
    return thread;
  }
}

/** The newest date a list may return: just below `before` and no newer than the cursor. */
function upperBound(query: CommonQuery): number {
  return Math.min(query.cursor?.date ?? Number.POSITIVE_INFINITY, (query.before ?? Number.POSITIVE_INFINITY) - 1);
}

function inWindow(key: ListKey, query: CommonQuery): boolean {
  if (query.after !== undefined && key.date < query.after) return false;
  if (query.before !== undefined && key.date >= query.before) return false;
  return query.cursor === undefined || compareKeys(query.cursor, key) < 0;
}

function threadMatches(thread: WireThread, query: ThreadQuery): boolean {
  return (
    inWindow(threadKey(thread), query) &&
    (query.unread === undefined || thread.unread === query.unread) &&
    (query.starred === undefined || thread.starred === query.starred) &&
    (query.folder === undefined || thread.folders.includes(query.folder)) &&
    (query.subject === undefined || thread.subject === query.subject) &&
    (query.anyEmail === undefined || mentionsAny(thread.participants, query.anyEmail))
  );
}

function messageMatches(message: WireMessage, query: MessageQuery): boolean {
  return (
    inWindow(messageKey(message), query) &&
    (query.threadId === undefined || message.thread_id === query.threadId) &&
    (query.unread === undefined || message.unread === query.unread) &&
    (query.starred === undefined || message.starred === query.starred) &&
    (query.folder === undefined || message.folders.includes(query.folder)) &&
    (query.subject === undefined || message.subject === query.subject) &&
    (query.anyEmail === undefined ||
      mentionsAny([...message.from, ...message.to, ...message.cc, ...message.bcc], query.anyEmail))
  );
}

function mentionsAny(people: WireParticipant[], emails: string[]): boolean {
  const wanted = new Set(emails.map((e) => e.toLowerCase()));
  return people.some((p) => wanted.has(p.email.toLowerCase()));
}

function paginate<T>(items: T[], keyOf: (item: T) => ListKey, limit: number): Page<T> {
  items.sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  return items.length > limit && last ? { items: page, next: keyOf(last) } : { items: page };
}
