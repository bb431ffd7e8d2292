import { createServer } from 'node:net';
import type { Config } from '../config.ts';
import { shown } from '../config.ts';
import type { Domain } from '../runtime/domain.ts';

/**
 * Checks `nova start` makes before the runtime takes anything (a singleton lease, a job): a
 * port in use is found while nothing has been claimed yet, and named by the variable that sets
 * it. And the words for a database that cannot be reached, naming DATABASE_URL.
 */

/** A port Nova must listen on is taken: exit 78 with the variable to change. */
export class PortInUse extends Error {
  override name = 'PortInUse';
}

export async function checkPorts(config: Config, roles: Set<string>, domains: readonly Domain[]): Promise<void> {
  const servesHttp = domains.some((d) => d.routes && (d.httpRoles ?? ['api']).some((r) => roles.has(r)));
  const wanted: [variable: string, host: string, port: number][] = [['WORKER_HEALTH_PORT', config.NOVA_HEALTH_HOST, config.WORKER_HEALTH_PORT]];
  if (servesHttp) wanted.push(['PORT', config.API_HOST, config.PORT]);
  for (const [variable, host, port] of wanted) {
    if (port === 0) continue; // any free port: nothing to collide with
    const problem = await tryListen(host, port);
    if (problem === 'EADDRINUSE') {
      throw new PortInUse(`${variable}=${port}: port ${port} on ${host} is already in use (EADDRINUSE); stop what listens there (another nova start?) or set ${variable} to a free port`);
    }
    if (problem === 'EACCES') throw new PortInUse(`${variable}=${port}: not allowed to listen on port ${port} (EACCES); choose a port above 1023`);
  }
}

function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', 'CONNECT_TIMEOUT', '28P01', '28000', '3D000']);

/**
 * For an error from opening or migrating the database: one line that names DATABASE_URL (its
 * password masked) and the embedded fallback, or undefined when the error is something else.
 */
export function databaseProblem(err: unknown, config: Config): string | undefined {
  if (!config.DATABASE_URL) return undefined;
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (!code || !CONNECTION_CODES.has(code)) return undefined;
  const what = code === '28P01' || code === '28000' ? 'authentication failed' : code === '3D000' ? 'the database does not exist'
    : code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host not found' : code;
  return `cannot use the database at DATABASE_URL=${shown('DATABASE_URL', config.DATABASE_URL)}: ${what} (${(err as Error).message}). ` +
    'Check DATABASE_URL and that PostgreSQL is running, or unset DATABASE_URL to use the embedded database in NOVA_DATA_DIR.';
}
