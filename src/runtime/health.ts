import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody } from './http-error.ts';

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
 * runs and how it is doing), /metrics (Prometheus), and seed 002's /health/detailed and
 * /health/subscriptions (the notification pollers). Plain node:http: three read-only routes need
 * no framework. They have no auth, so they listen on NOVA_HEALTH_HOST, loopback by default.
 * Errors use the API's one shape.
 */
export async function startHealthServer(sources: HealthSources, port: number, host: string): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'application/json') => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const error = (code: number, name: string, message: string) => send(code, JSON.stringify(errorBody(name, message)));
    if (req.method !== 'GET' && req.method !== 'HEAD') return error(405, 'method_not_allowed', `${req.method} is not served; use GET`);
    const handle = async () => {
      if (path === '/health') {
        const up = await sources.checkDatabase();
        return send(up ? 200 : 503, JSON.stringify({ status: up ? 'ok' : 'unavailable', database: up ? 'up' : 'down' }));
      }
      if (path === '/status') return send(200, JSON.stringify(await sources.status()));
      // Seed 002's worker health routes (the XNovu worker served them on WORKER_HEALTH_PORT).
      if (path === '/health/detailed') {
        const up = await sources.checkDatabase();
        const status = (await sources.status()) as { version?: string; uptimeMs?: number; loops?: { name: string }[] };
        return send(up ? 200 : 503, JSON.stringify({
          status: up ? 'healthy' : 'unhealthy', uptime: Math.max(0.001, (status.uptimeMs ?? 0) / 1000), timestamp: new Date().toISOString(),
          version: status.version, database: up ? 'up' : 'down',
          process: { pid: process.pid, memory: process.memoryUsage(), cpu: process.cpuUsage(), nodeVersion: process.version },
          runtime: status,
        }, null, 2));
      }
      if (path === '/health/subscriptions') {
        const status = (await sources.status()) as { loops?: { name: string; running: boolean; leader: boolean }[] };
        const polling = (status.loops ?? []).filter((l) => l.name.startsWith('notify-poll'));
        const timestamp = new Date().toISOString();
        if (polling.length === 0) return send(200, JSON.stringify({ status: 'no_polling_loop', message: 'this process runs no notification polling loop (role notifications)', timestamp }, null, 2));
        return send(200, JSON.stringify({ status: 'healthy', polling_loop: { status: 'running', loops: polling }, timestamp }, null, 2));
      }
      if (path === '/metrics') {
        const m = await sources.metrics();
        return send(200, m.body, m.contentType);
      }
      error(404, 'not_found', 'no such route; the health server has /health, /health/detailed, /health/subscriptions, /status and /metrics');
    };
    handle().catch(() => error(500, 'internal', 'internal error'));
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
