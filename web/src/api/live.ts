import { authStore } from './client.ts';
import type { NovaEvent } from './types.ts';

/**
 * One WebSocket to `/ws` for the whole page (docs/API.md, fan-out). Views subscribe to topics
 * with handlers; the socket sends the union of topics, resubscribes after a reconnect, and
 * reconnects with backoff when the connection drops or the token changes. The token goes in the
 * query string because browsers cannot set headers on a WebSocket. Topics that need the
 * subscriber's personal token (`approvals:<user>` on a server with NOVA_USERS) are subscribed
 * with it as `userToken`, in their own subscribe message: it goes only with those topics.
 */

export type LiveStatus = 'connecting' | 'open' | 'closed';
export type EventHandler = (event: NovaEvent, topic: string) => void;

const MAX_BACKOFF_MS = 10_000;

class LiveSocket {
  private ws: WebSocket | undefined;
  private readonly handlers = new Map<string, Set<EventHandler>>();
  /** The personal token a topic was subscribed with, if any. */
  private readonly userTokens = new Map<string, string>();
  private readonly statusListeners = new Set<() => void>();
  private status: LiveStatus = 'closed';
  private backoffMs = 500;
  private retry: number | undefined;
  private authVersion = authStore.get().version;

  constructor() {
    authStore.subscribe(() => {
      const { version } = authStore.get();
      if (version === this.authVersion) return;
      this.authVersion = version;
      this.restart();
    });
  }

  getStatus = (): LiveStatus => this.status;

  onStatus = (listener: () => void): (() => void) => {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  };

  subscribe(topics: readonly string[], handler: EventHandler, userToken?: string | null): () => void {
    const added: string[] = [];
    for (const topic of topics) {
      let set = this.handlers.get(topic);
      if (!set) {
        this.handlers.set(topic, (set = new Set()));
        added.push(topic);
        if (userToken) this.userTokens.set(topic, userToken);
      }
      set.add(handler);
    }
    if (added.length) this.send({ type: 'subscribe', topics: added, ...(userToken && { userToken }) });
    this.ensureOpen();
    return () => {
      const removed: string[] = [];
      for (const topic of topics) {
        const set = this.handlers.get(topic);
        if (!set?.delete(handler) || set.size > 0) continue;
        this.handlers.delete(topic);
        this.userTokens.delete(topic);
        removed.push(topic);
      }
      if (removed.length) this.send({ type: 'unsubscribe', topics: removed });
    };
  }

  /** Opens the socket (once): the page stays connected, so the indicator tells the truth. */
  ensureOpen(): void {
    if (this.ws || this.retry !== undefined) return;
    const token = authStore.get().token;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setStatus('connecting');
    ws.onopen = () => {
      this.backoffMs = 500;
      this.setStatus('open');
      this.resubscribe();
    };
    ws.onmessage = (msg) => this.receive(msg.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.setStatus('closed');
      this.retry = window.setTimeout(() => {
        this.retry = undefined;
        this.ensureOpen();
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    };
  }

  /** Every topic again after a (re)connect, grouped by the personal token each needs. */
  private resubscribe(): void {
    const byToken = new Map<string | undefined, string[]>();
    for (const topic of this.handlers.keys()) {
      const token = this.userTokens.get(topic);
      byToken.set(token, [...(byToken.get(token) ?? []), topic]);
    }
    for (const [userToken, topics] of byToken) this.send({ type: 'subscribe', topics, ...(userToken && { userToken }) });
  }

  private restart(): void {
    const old = this.ws;
    this.ws = undefined;
    old?.close();
    clearTimeout(this.retry);
    this.retry = undefined;
    this.backoffMs = 500;
    this.ensureOpen();
  }

  private receive(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let frame: { type?: string; topic?: string; event?: NovaEvent };
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (frame.type !== 'event' || !frame.event) return;
    const event = frame.event;
    // A frame names one topic; a handler of `queue:*` or `queue:<name>` wants it whichever
    // of those the server chose to name, and each handler runs once per frame.
    const topics = new Set([frame.topic, event.topic]);
    if (event.queue) topics.add(`queue:${event.queue}`).add('queue:*');
    for (const id of event.ids ?? []) topics.add(`job:${id}`);
    const called = new Set<EventHandler>();
    for (const topic of topics) {
      if (!topic) continue;
      for (const handler of this.handlers.get(topic) ?? []) {
        if (called.has(handler)) continue;
        called.add(handler);
        handler(event, topic);
      }
    }
  }

  private send(frame: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    this.statusListeners.forEach((l) => l());
  }
}

export const live = new LiveSocket();
