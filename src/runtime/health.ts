import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthSources {
  /** Resolves true when the database answers. */
  checkDatabase(): Promise<boolean>;
  status(): Promise<unknown>;
  /** Prometheus exposition text and its content type. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The per-process health server: /health (liveness and database), /status (what this process
 * runs and how it is doing), /metrics (Prometheus). Plain node:http: three read-only routes need
 * no framework.
 */
export async function startHealthServer(sources: HealthSources, port: number, host: string): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'application/json') => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, JSON.stringify({ error: 'method not allowed' }));
    const handle = async () => {
      if (path === '/health') {
        const up = await sources.checkDatabase();
        return send(up ? 200 : 503, JSON.stringify({ status: up ? 'ok' : 'unavailable', database: up ? 'up' : 'down' }));
      }
      if (path === '/status') return send(200, JSON.stringify(await sources.status()));
      if (path === '/metrics') {
        const m = await sources.metrics();
        return send(200, m.body, m.contentType);
      }
      send(404, JSON.stringify({ error: 'not found', routes: ['/health', '/status', '/metrics'] }));
    };
    handle().catch((err: unknown) => send(500, JSON.stringify({ error: err instanceof Error ? err.message : String(err) })));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
