import { hostname } from 'node:os';
import type { Queryable } from '../storage/index.ts';
import { VERSION } from '../version.ts';

/**
 * The registry of running Nova processes (nova_workers): each registers at start with its roles
 * and ports, heartbeats while it runs, and unregisters when it stops. `GET /api/workers` reads it;
 * a process that died without unregistering shows as not alive, then ages out.
 */

/** Heartbeat period; a worker silent for ALIVE_MS is shown dead, and removed after GONE_MS. */
export const HEARTBEAT_MS = 5_000;
const ALIVE_MS = 30_000;
const GONE_MS = 600_000;

export interface WorkerInfo {
  id: string;
  pid: number;
  /** Defaults to this package's version; kept optional until runtime.ts stops passing its own. */
  version?: string;
  roles: string[];
  healthPort: number | null;
  apiPort: number | null;
}

export interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  version: string;
  roles: string[];
  startedAt: Date;
  heartbeatAt: Date;
  alive: boolean;
  healthPort: number | null;
  apiPort: number | null;
}

/** $1 id, $2 host, $3 pid, $4 version, $5 roles, $6 health port, $7 api port. */
const REGISTER = `
  insert into nova_workers (id, host, pid, version, roles, health_port, api_port)
  values ($1, $2, $3, $4, $5::text[], $6, $7)
  on conflict (id) do update set heartbeat_at = now(), roles = excluded.roles,
    health_port = excluded.health_port, api_port = excluded.api_port`;

/** $1 id. A row removed meanwhile (retention, after a long pause) is registered again by the caller. */
const HEARTBEAT = `update nova_workers set heartbeat_at = now() where id = $1 returning id`;

const UNREGISTER = `delete from nova_workers where id = $1`;

/** $1 alive ms. */
const LIST = `
  select id, host, pid, version, roles, started_at as "startedAt", heartbeat_at as "heartbeatAt",
         heartbeat_at > now() - make_interval(secs => $1::float8 / 1000) as alive,
         health_port as "healthPort", api_port as "apiPort"
  from nova_workers order by started_at desc`;

/** $1 gone ms. */
const PRUNE = `delete from nova_workers where heartbeat_at < now() - make_interval(secs => $1::float8 / 1000)`;

export async function registerWorker(db: Queryable, w: WorkerInfo): Promise<void> {
  await db.query(REGISTER, [w.id, hostname(), w.pid, w.version ?? VERSION, w.roles, w.healthPort, w.apiPort]);
}

export async function heartbeatWorker(db: Queryable, w: WorkerInfo): Promise<void> {
  const rows = await db.query(HEARTBEAT, [w.id]);
  if (rows.length === 0) await registerWorker(db, w);
}

export async function unregisterWorker(db: Queryable, id: string): Promise<void> {
  await db.query(UNREGISTER, [id]);
}

export async function listWorkers(db: Queryable): Promise<WorkerRow[]> {
  return db.query<WorkerRow>(LIST, [ALIVE_MS]);
}

export async function pruneWorkers(db: Queryable): Promise<void> {
  await db.query(PRUNE, [GONE_MS]);
}
