import { loadNovaConfig as loadConfig } from '../../src/domains.ts';
import { silentLogger } from '../../src/log.ts';
import type { Domain } from '../../src/runtime/domain.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import type { TestDb } from './db.ts';

/**
 * Starts a Runtime on the test database. On PostgreSQL it opens its own pool (a separate set of
 * connections, as a separate process would); on PGlite it shares the one embedded instance.
 */
export async function startRuntime(
  db: TestDb,
  domains: Domain[],
  env: Record<string, string> = {},
  options: { health?: boolean } = {},
): Promise<Runtime> {
  const runtime = newRuntime(db, domains, env, options);
  await runtime.start();
  return runtime;
}

/** The Runtime startRuntime starts, not started yet. */
export function newRuntime(
  db: TestDb,
  domains: Domain[],
  env: Record<string, string> = {},
  options: { health?: boolean } = {},
): Runtime {
  const config = loadConfig({ POLL_INTERVAL_MS: '1000', WORKER_HEALTH_PORT: '0', NOVA_HEALTH_HOST: '127.0.0.1', ...db.env, ...env });
  const shared = config.DATABASE_URL ? {} : { sql: db.sql };
  return new Runtime({ config, domains, logger: silentLogger, health: options.health ?? false, ...shared });
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port free on loopback right now (for servers whose URL must be known before they start). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
