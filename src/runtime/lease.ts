import type { Queryable, Sql } from '../storage/index.ts';

/** $1 name, $2 holder, $3 ttl ms: takes the lease if free or lapsed, renews it if ours. */
const ACQUIRE = `
  insert into nova_leases as l (name, holder, token, expires_at)
  values ($1, $2, nextval('nova_lease_seq'), now() + make_interval(secs => $3::float8 / 1000))
  on conflict (name) do update
    set holder = excluded.holder,
        token = case when l.holder = excluded.holder then l.token else excluded.token end,
        expires_at = excluded.expires_at
    where l.holder = excluded.holder or l.expires_at < now()
  returning token`;

/** $1 name, $2 holder. */
const RELEASE = `delete from nova_leases where name = $1 and holder = $2`;

/** $1 name, $2 token: the lease is held with this token and has not lapsed; locks it for the transaction. */
const HOLDS = `select 1 from nova_leases where name = $1 and token = $2 and expires_at > now() for share`;

export const LIST_LEASES = `select name, holder, token, expires_at from nova_leases order by name`;

/**
 * A named lease in the database: at most one holder at a time, for singletons (a cron scheduler,
 * one inbox's discovery). The holder must renew within the TTL; a crashed holder's lease lapses
 * and the next caller of `acquire` takes it with a new fencing token.
 */
export class Lease {
  private token: number | null = null;

  constructor(
    private readonly sql: Sql,
    readonly name: string,
    readonly holder: string,
    readonly ttlMs: number,
  ) {}

  /** Takes or renews the lease; returns whether this holder has it now. */
  async acquire(): Promise<boolean> {
    const [row] = await this.sql.query<{ token: number }>(ACQUIRE, [this.name, this.holder, this.ttlMs]);
    this.token = row?.token ?? null;
    return this.token !== null;
  }

  /** The fencing token of the current holding, or null when not held. */
  get heldToken(): number | null {
    return this.token;
  }

  /**
   * Whether this holder still has the lease, checked in the database. Inside a transaction the
   * row stays locked until it ends, so no one can take the lease over while that transaction's
   * writes are made in its name (a fence against a holder that was paused past its TTL).
   */
  async confirm(db: Queryable): Promise<boolean> {
    if (this.token === null) return false;
    return (await db.query(HOLDS, [this.name, this.token])).length > 0;
  }

  async release(): Promise<void> {
    if (this.token === null) return;
    this.token = null;
    await this.sql.query(RELEASE, [this.name, this.holder]);
  }
}
