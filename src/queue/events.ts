import { randomUUID } from 'node:crypto';
import type { Sql } from '../storage/index.ts';

/** Job lifecycle event types. Domains may publish their own types (a backfill's progress, say). */
export type JobEventType = 'enqueued' | 'started' | 'progress' | 'completed' | 'failed' | 'dead';

export interface NovaEvent {
  type: JobEventType | (string & {});
  /** The queue of the jobs concerned. */
  queue?: string;
  /** The jobs concerned; one event covers a whole batch. */
  ids?: number[];
  /** Free-form subject for non-job events, such as `backfill:<configId>`. */
  topic?: string;
  data?: unknown;
  error?: string;
  /** Milliseconds since the epoch when the change committed. */
  at: number;
}

export type EventListener = (event: NovaEvent) => void;

const CHANNEL = 'nova_events';
/** How long events gather before they are published together. */
const FLUSH_MS = 5;
// NOTIFY payloads must stay under 8,000 bytes; leave room for the envelope.
const MAX_PAYLOAD = 7_000;

/**
 * Delivers events to listeners in this process at once and, once connected, to every other
 * Nova process on the same database through LISTEN/NOTIFY. Events emitted within a few
 * milliseconds travel in one notification.
 */
export class EventHub {
  private readonly listeners = new Set<EventListener>();
  private readonly origin = randomUUID();
  private sql: Sql | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private outbox: NovaEvent[] = [];
  private flushScheduled = false;
  onPublishError: (err: unknown) => void = () => {};

  /**
   * Adds a listener. Once connected, the hub starts receiving other processes' events with its
   * first listener (see `listening`): a process nobody listens in does not pay for parsing them.
   */
  on(listener: EventListener): () => void {
    this.listeners.add(listener);
    if (this.sql && !this.listening) this.listening = this.listen(this.sql);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once events of other processes are being received (after `connect` and `on`). */
  listening: Promise<void> | undefined;

  emit(event: NovaEvent): void {
    this.deliver(event);
    if (!this.sql) return;
    this.outbox.push(event);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A few milliseconds' worth of events travel in one notification: every NOTIFY is a
      // commit, and wakes every listening process.
      setTimeout(() => this.flush(), FLUSH_MS);
    }
  }

  /** Publishes to and receives from other processes through `sql`. */
  async connect(sql: Sql): Promise<void> {
    this.sql = sql;
    if (this.listeners.size) await (this.listening = this.listen(sql));
  }

  private async listen(sql: Sql): Promise<void> {
    this.unlisten = await sql.listen(CHANNEL, (payload) => {
      let message: { o: string; e: NovaEvent[] };
      try {
        message = JSON.parse(payload);
      } catch {
        return;
      }
      if (message.o === this.origin) return;
      for (const event of message.e) this.deliver(event);
    });
  }

  async disconnect(): Promise<void> {
    this.flush();
    await this.listening;
    await this.unlisten?.();
    this.sql = undefined;
    this.unlisten = undefined;
    this.listening = undefined;
  }

  private deliver(event: NovaEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the others still get the event.
      }
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const events = this.outbox;
    this.outbox = [];
    const sql = this.sql;
    if (!sql || events.length === 0) return;
    for (const chunk of chunkEvents(events)) {
      sql.notify(CHANNEL, JSON.stringify({ o: this.origin, e: chunk })).catch(this.onPublishError);
    }
  }
}

function chunkEvents(events: NovaEvent[]): NovaEvent[][] {
  const chunks: NovaEvent[][] = [];
  let current: NovaEvent[] = [];
  let size = 0;
  for (const event of events) {
    for (const piece of splitIds(event)) {
      const len = JSON.stringify(piece).length;
      if (len > MAX_PAYLOAD) continue; // an oversized data blob cannot travel; local listeners had it
      if (size + len > MAX_PAYLOAD && current.length) {
        chunks.push(current);
        current = [];
        size = 0;
      }
      current.push(piece);
      size += len + 1;
    }
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** Splits an event about many jobs into pieces small enough for one notification. */
function splitIds(event: NovaEvent): NovaEvent[] {
  const ids = event.ids;
  if (!ids || ids.length <= 400) return [event];
  const pieces: NovaEvent[] = [];
  for (let i = 0; i < ids.length; i += 400) pieces.push({ ...event, ids: ids.slice(i, i + 400) });
  return pieces;
}
