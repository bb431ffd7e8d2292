/**
 * A private PostgreSQL cluster for the chaos suite: initdb into a temporary directory, a free
 * port on loopback, and a crash (`pg_ctl stop -m immediate`: every backend killed, no checkpoint,
 * crash recovery at the next start) the suite can cause whenever it likes without touching the
 * shared server. Binaries come from /usr/lib/postgresql/<newest>/bin (or CHAOS_PG_BIN); as root
 * they run as the `postgres` OS user, since initdb and postgres refuse to run as root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  port: number;
  /** Crash: SIGQUIT to every backend, no shutdown checkpoint. Resolves once the postmaster is gone. */
  crash(): void;
  /** Starts the cluster (crash recovery first after a crash); resolves once it accepts connections. */
  start(): void;
  /** Stops it for good and removes its directory. */
  destroy(): void;
  /** The end of the server log, for a failure report. */
  logTail(lines?: number): string;
}

function pgBin(): string {
  if (process.env.CHAOS_PG_BIN) return process.env.CHAOS_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => join(root, v, 'bin')).find((dir) => existsSync(join(dir, 'pg_ctl')));
  if (!found) throw new Error('no PostgreSQL binaries in /usr/lib/postgresql/*/bin: set CHAOS_PG_BIN to the directory holding initdb and pg_ctl');
  return found;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startCluster(): Promise<PgCluster> {
  const bin = pgBin();
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'nova-chaos-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const run = (tool: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    const result = spawnSync(cmd, argv, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
    return result.stdout;
  };
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  // An immediate stop kills processes, not the machine: what was committed is in the OS page
  // cache and survives, so fsync would only slow the run down on a shared disk.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c full_page_writes=off -c max_connections=200`;
  const cluster: PgCluster = {
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start: () => void run('pg_ctl', ['start', '-D', data, '-l', log, '-w', '-t', '60', '-o', options]),
    crash: () => void run('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w']),
    destroy() {
      spawnSync(asRoot ? 'runuser' : join(bin, 'pg_ctl'), asRoot ? ['-u', 'postgres', '--', join(bin, 'pg_ctl'), 'stop', '-D', data, '-m', 'immediate'] : ['stop', '-D', data, '-m', 'immediate']);
      rmSync(dir, { recursive: true, force: true });
    },
    logTail(lines = 20) {
      try {
        return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
  cluster.start();
  return cluster;
}
