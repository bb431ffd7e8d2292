import postgres from 'postgres';
import { runCommitHooks, type Queryable, type Sql } from './sql.ts';

export interface PostgresOptions {
  url: string;
  poolSize?: number;
  /** Extra connection parameters, for example `{ search_path: 'tenant' }`. */
  connection?: Record<string, string>;
}

type Client = postgres.Sql<Record<string, never>>;

// int8 as a JS number: job ids and counts stay far below 2^53, and PGlite is set up alike.
const int8 = { to: 20, from: [20], serialize: (v: unknown) => String(v), parse: (v: string) => Number(v) };

export function openPostgres(options: PostgresOptions): Sql {
  const client = postgres(options.url, {
    max: options.poolSize ?? 10,
    onnotice: () => {},
    types: { int8 } as never,
    connection: { application_name: 'nova', ...options.connection },
    // Reconnect within about a second after an outage. The driver's default grows with a retry
    // count the whole pool shares, so a few seconds of downtime left it waiting 20 s before
    // trying again (measured by `npm run chaos`).
    backoff: reconnectDelayS,
  }) as unknown as Client;
  return wrapPostgres(client, true);
}

/** Seconds before the next reconnect: 0.1, 0.3, 0.9, then 1 s, each with up to half off (jitter). */
export function reconnectDelayS(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(3 ** retries / 10, 1);
}

/** Wraps a postgres.js client; `owned` says whether close() ends it. */
export function wrapPostgres(client: Client, owned: boolean): Sql {
  const queryable = (c: Client | postgres.TransactionSql): Queryable => ({
    async query<T extends object>(text: string, params: readonly unknown[] = []) {
      // prepare: named prepared statements make the hot queue statements cheaper to run.
      return (await c.unsafe(text, params as never[], { prepare: true })) as unknown as T[];
    },
    async exec(script: string) {
      await c.unsafe(script);
    },
  });
  return {
    kind: 'postgres',
    ...queryable(client),
    async transaction(fn) {
      const hooks: (() => void)[] = [];
      const result = (await client.begin((tx) => fn({ ...queryable(tx), onCommit: (hook) => hooks.push(hook) }))) as never;
      runCommitHooks(hooks);
      return result;
    },
    async listen(channel, onPayload) {
      const sub = await client.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    async notify(channel, payload) {
      await client.notify(channel, payload);
    },
    async close() {
      if (owned) await client.end({ timeout: 5 });
    },
  };
}
