/**
 * The one storage interface every module uses. Two implementations: postgres.js (a pooled
 * PostgreSQL server) and PGlite (embedded, in-process). Values are always bound as parameters.
 *
 * Type mapping is the same on both: int8 and numeric-free counts come back as JS numbers,
 * timestamptz as Date, jsonb as parsed values.
 */
export type Row = Record<string, unknown>;

/** What can run statements: the pool itself or one transaction. */
export interface Queryable {
  /** Runs one parameterized statement and returns its rows. */
  query<T extends object = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a script of several statements with no parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Inside a transaction: runs `fn` once the transaction has committed, never when it rolls back
   * (events about its writes, say). Absent outside a transaction: see `afterCommit` below.
   */
  onCommit?(fn: () => void): void;
}

/**
 * Runs `fn` when the writes made on `db` are durable: after the commit when `db` is a
 * transaction, at once when it is the pool (each statement commits by itself).
 */
export function afterCommit(db: Queryable, fn: () => void): void {
  if (db.onCommit) db.onCommit(fn);
  else fn();
}

/** Runs the callbacks a transaction collected with `onCommit`; one failing does not stop the rest. */
export function runCommitHooks(hooks: readonly (() => void)[]): void {
  for (const hook of hooks) {
    try {
      hook();
    } catch {
      // A hook's failure is its own (a listener that threw); the commit already happened.
    }
  }
}

export interface Sql extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Subscribes to a LISTEN channel; the returned function unsubscribes. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Closes the pool or the embedded database, but only when this Sql opened it; a client handed
   * in by the caller (`owned: false`) stays open and remains the caller's to close.
   */
  close(): Promise<void>;
}
