import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import type { Logger } from '../log.ts';
import type { EventHub, NovaEvent } from '../queue/events.ts';
import { crossOriginRefusal, tokenMatches } from '../runtime/auth.ts';

/**
 * The WebSocket fan-out (`GET /ws`, role `fanout`; part of `api`): clients subscribe to topics
 * and receive the runtime's events on them (docs/API.md). Events from every process arrive
 * through the event hub (LISTEN/NOTIFY or Redis). Each event is serialized once per topic, not
 * once per client. A client whose unsent data passes MAX_BUFFERED is closed, never buffered
 * without bound; one that stops answering pings is dropped.
 *
 * The API token lets a client in; some topics also need the subscriber to prove who they are
 * (`mayWatch`: with NOVA_USERS, `approvals:<user>` needs that user's personal token). The token
 * comes with a subscribe message (`userToken`, what a browser can send) or as `X-User-Token` on
 * the upgrade; a refused topic is answered with an error frame and left out of `subscribed`.
 */

const PATH = '/ws';
/** Unsent bytes a client may have before it is dropped as too slow. */
export const MAX_BUFFERED = 1 << 20;
const PING_MS = 15_000;
const MAX_TOPICS = 1000;

const clientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('subscribe'), topics: z.array(z.string().min(1).max(300)).max(MAX_TOPICS), userToken: z.string().min(1).max(1000).optional() }),
  z.object({ type: z.literal('unsubscribe'), topics: z.array(z.string().min(1).max(300)).max(MAX_TOPICS) }),
]);

interface Client {
  socket: WebSocket;
  topics: Set<string>;
  alive: boolean;
  /** `X-User-Token` of the upgrade, if any: the subscriber's identity for guarded topics. */
  userToken: string | undefined;
}

export interface Fanout {
  /** Connected clients. */
  clients(): number;
  close(): Promise<void>;
}

/** The topics an event is published on. */
export function topicsOf(event: NovaEvent): string[] {
  const topics: string[] = [];
  if (event.topic) topics.push(event.topic);
  if (event.queue) {
    topics.push(`queue:${event.queue}`, 'queue:*');
    for (const id of event.ids ?? []) topics.push(`job:${id}`);
  }
  return topics;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

export function attachFanout(
  server: Server,
  events: EventHub,
  options: {
    token: string | undefined;
    allowedOrigins?: readonly string[];
    log: Logger;
    /** Whether a subscriber with this personal token (if any) may watch `topic`; unset: any topic. */
    mayWatch?: ((topic: string, userToken: string | undefined) => boolean) | undefined;
  },
): Fanout {
  const { log, token, mayWatch } = options;
  const allowedOrigins = options.allowedOrigins ?? [];
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const clients = new Set<Client>();
  const byTopic = new Map<string, Set<Client>>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://nova.invalid');
    if (url.pathname !== PATH) {
      // No other upgrade is served; an unanswered socket would stay open for ever.
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    // A page of another origin must not read events with the visitor's network position (a
    // local Nova) or a token its browser holds: browsers always send Origin on a handshake.
    const refusal = crossOriginRefusal(req.headers, allowedOrigins);
    if (refusal) {
      const body = JSON.stringify({ error: { code: 'cross_origin', message: refusal } });
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    if (token && !tokenMatches(req.headers.authorization, url.searchParams.get('token'), token)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"unauthorized","message":"a valid API token is required"}}');
      return;
    }
    const userToken = typeof req.headers['x-user-token'] === 'string' && req.headers['x-user-token'] ? req.headers['x-user-token'] : undefined;
    wss.handleUpgrade(req, socket, head, (ws) => connected(ws, userToken));
  };
  server.on('upgrade', onUpgrade);

  function connected(socket: WebSocket, userToken: string | undefined): void {
    const client: Client = { socket, topics: new Set(), alive: true, userToken };
    clients.add(client);
    socket.on('pong', () => (client.alive = true));
    socket.on('message', (raw, isBinary) => {
      let message: z.infer<typeof clientMessage>;
      try {
        message = clientMessage.parse(JSON.parse(isBinary ? '' : raw.toString()));
      } catch {
        send(client, JSON.stringify({ type: 'error', message: 'expected {"type":"subscribe"|"unsubscribe","topics":[...]}' }));
        return;
      }
      const refused: string[] = [];
      for (const topic of message.topics) {
        if (message.type === 'subscribe' && mayWatch && !client.topics.has(topic) && !mayWatch(topic, message.userToken ?? client.userToken)) {
          refused.push(topic);
        } else if (message.type === 'subscribe' && client.topics.size < MAX_TOPICS) {
          client.topics.add(topic);
          let set = byTopic.get(topic);
          if (!set) byTopic.set(topic, (set = new Set()));
          set.add(client);
        } else if (message.type === 'unsubscribe') {
          client.topics.delete(topic);
          forget(client, topic);
        }
      }
      if (refused.length) {
        send(client, JSON.stringify({
          type: 'error', code: 'forbidden', topics: refused,
          message: 'these topics need the personal token of the user (or a member of the role) they name: "userToken" in the subscribe message, or X-User-Token on the upgrade',
        }));
      }
      send(client, JSON.stringify({ type: 'subscribed', topics: [...client.topics] }));
    });
    socket.on('close', () => drop(client));
    socket.on('error', () => drop(client));
  }

  function forget(client: Client, topic: string): void {
    const set = byTopic.get(topic);
    set?.delete(client);
    if (set?.size === 0) byTopic.delete(topic);
  }

  function drop(client: Client): void {
    if (!clients.delete(client)) return;
    for (const topic of client.topics) forget(client, topic);
  }

  function send(client: Client, frame: string): void {
    if (client.socket.readyState !== client.socket.OPEN) return;
    if (client.socket.bufferedAmount > MAX_BUFFERED) {
      // Too slow to keep up: closing is the only bound that holds.
      log.warn('dropping a slow WebSocket client', { buffered: client.socket.bufferedAmount });
      drop(client);
      client.socket.terminate();
      return;
    }
    client.socket.send(frame);
  }

  const unsubscribe = events.on((event) => {
    for (const topic of topicsOf(event)) {
      const set = byTopic.get(topic);
      if (!set?.size) continue;
      const frame = JSON.stringify({ type: 'event', topic, event });
      for (const client of set) send(client, frame);
    }
  });

  const pinger = setInterval(() => {
    const ping = JSON.stringify({ type: 'ping', at: Date.now() });
    for (const client of clients) {
      // No pong since the last round: the connection is dead or hopelessly behind.
      if (!client.alive) {
        drop(client);
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      client.socket.ping();
      send(client, ping);
    }
  }, PING_MS);
  pinger.unref();

  return {
    clients: () => clients.size,
    async close() {
      clearInterval(pinger);
      unsubscribe();
      server.off('upgrade', onUpgrade);
      for (const client of clients) client.socket.close(1001, 'server shutting down');
      // A client that does not answer the close handshake must not hold the shutdown.
      const stragglers = setTimeout(() => {
        for (const client of clients) client.socket.terminate();
      }, 1000);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await until(() => clients.size === 0, 1500);
      clearTimeout(stragglers);
    },
  };
}
