import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { ZodError } from 'zod';
import type { Logger } from '../log.ts';
import { requireToken } from './auth.ts';
import { errorBody, HttpError } from './http-error.ts';
import type { Domain, Services } from './domain.ts';

/**
 * The API server of the `api` role: one Fastify instance that mounts the routes every domain
 * declares. Fastify because webhooks need the raw body per route, it is among the fastest Node
 * servers (the webhook intake has a throughput target), and its plugin scoping keeps a domain's
 * parsers and hooks to its own routes.
 *
 * Every error leaves in one shape: `{ "error": { "code", "message" } }`.
 */

export interface ApiServer {
  port: number;
  app: FastifyInstance;
  /** Open sockets: HTTP keep-alive and WebSocket connections. */
  connections(): number;
  /** Stops listening and ends every connection, forcibly after SHUTDOWN_TIMEOUT_MS. */
  close(): Promise<void>;
}

export async function startApiServer(options: {
  /** The domains whose routes this process serves. */
  domains: readonly Domain[];
  services: Services;
  port: number;
  host: string;
  /** NOVA_API_TOKEN: required on /api routes when set. */
  token?: string | undefined;
  log: Logger;
}): Promise<ApiServer> {
  const { log } = options;
  const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
  if (options.token) requireToken(app, options.token);

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof HttpError) return reply.status(err.status).send(errorBody(err.code, err.message));
    if (err instanceof ZodError) {
      const issues = err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      return reply.status(400).send(errorBody('invalid_request', issues));
    }
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      return reply.status(status).send(errorBody((err as FastifyError).code ?? 'bad_request', err.message));
    }
    log.error('request failed', { method: req.method, url: req.url, error: err });
    return reply.status(500).send(errorBody('internal', 'internal error'));
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody('not_found', `no route for ${req.method} ${req.url.split('?')[0]}`)));

  for (const domain of options.domains) {
    if (domain.routes) await app.register(async (scope) => domain.routes!(scope, options.services));
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
