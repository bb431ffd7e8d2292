import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { ZodError } from 'zod';
import type { Logger } from '../log.ts';
import { guardApi } from './auth.ts';
import { errorBody, errorReply } from './http-error.ts';
import type { Domain, Services } from './domain.ts';

/**
 * The API server of the `api` role: one Fastify instance that mounts the routes every domain
 * declares. Fastify because webhooks need the raw body per route, it is among the fastest Node
 * servers (the webhook intake has a throughput target), and its plugin scoping keeps a domain's
 * parsers and hooks to its own routes.
 *
 * Every error leaves in one shape, `{ "error": { "code", "message" } }`: route errors, Fastify's
 * own (bad JSON, too large, bad URL), unknown routes, and errors Node's HTTP parser reports before
 * Fastify sees a request (a timed-out body, oversized headers).
 *
 * A request has NOVA_HTTP_REQUEST_TIMEOUT_MS to arrive in full, headers and body: a client that
 * trickles bytes is cut off (408) rather than holding a socket for ever.
 */

export interface ApiServer {
  port: number;
  app: FastifyInstance;
  /** Open sockets: HTTP keep-alive and WebSocket connections. */
  connections(): number;
  /** Stops listening and ends every connection, forcibly after SHUTDOWN_TIMEOUT_MS. */
  close(): Promise<void>;
}

/** The general body limit; webhook routes read their own, smaller one (WEBHOOK_BODY_LIMIT_BYTES). */
const BODY_LIMIT = 1024 * 1024;

export async function startApiServer(options: {
  /** The domains whose routes this process serves, each with what its setup built. */
  domains: readonly { domain: Domain; deps: unknown }[];
  services: Services;
  port: number;
  host: string;
  /** NOVA_API_TOKEN: required on /api routes when set. */
  token?: string | undefined;
  log: Logger;
}): Promise<ApiServer> {
  const { log, services } = options;
  const timeout = services.config.NOVA_HTTP_REQUEST_TIMEOUT_MS;
  const send = (reply: FastifyReply, err: unknown) => {
    const answer = errorReply(err);
    if (answer.retryAfterSeconds !== undefined) reply.header('retry-after', String(answer.retryAfterSeconds));
    return reply.status(answer.status).send(answer.body);
  };
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    requestTimeout: timeout,
    // Node checks request timeouts every connectionsCheckingInterval (30 s by default), which
    // would let a trickling client hold its socket up to half a minute past the timeout.
    http: { connectionsCheckingInterval: Math.min(1000, timeout), headersTimeout: Math.min(timeout, 60_000) },
    frameworkErrors: (err, _req, reply) => send(reply, err),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => clientError(err, socket),
  });
  guardApi(app, { token: options.token, allowedOrigins: services.config.NOVA_ALLOWED_ORIGINS });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof ZodError) {
      const issues = err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      return reply.status(400).send(errorBody('invalid_request', issues));
    }
    const answer = errorReply(err);
    if (answer.unexpected) log.error('request failed', { method: req.method, url: req.url.slice(0, 500), error: err });
    return send(reply, err);
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody('not_found', `no route for ${req.method} ${req.url.split('?')[0]!.slice(0, 500)}`)));

  for (const { domain, deps } of options.domains) {
    if (domain.routes) await app.register(async (scope) => domain.routes!(scope, options.services, deps));
  }
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    app,
    connections: () => sockets.size,
    close: () => closeWithin(app, options.services.config.SHUTDOWN_TIMEOUT_MS),
  };
}

/** Errors Node's HTTP parser raises before there is a request (Fastify's default uses another shape). */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', 'the request did not arrive in time']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large', 'the request headers are too large']
    : [400, 'bad_request', 'the request could not be parsed'];
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${code.replace(/_/g, ' ')}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/**
 * Fastify's close ends idle keep-alive sockets once, when it starts; a socket whose request
 * finishes afterwards would stay open until the client leaves. So idle sockets are ended every
 * 100 ms while requests drain, and whatever is still open at the deadline is cut.
 */
async function closeWithin(app: FastifyInstance, deadlineMs: number): Promise<void> {
  const server = app.server;
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const cut = setTimeout(() => server.closeAllConnections(), deadlineMs);
  try {
    await app.close();
  } finally {
    clearInterval(idle);
    clearTimeout(cut);
  }
}

export { errorBody, HttpError } from './http-error.ts';
