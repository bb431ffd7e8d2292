import type { Sql } from './index.ts';

/**
 * Tables of `$1` (names as the search path resolves them; `notify.ent_notification` with its
 * schema) of at least 128 kB that are more than twice the size their planner statistics were
 * taken at (or have none). Autovacuum analyzes only about a minute in and after 50 + 10% changed
 * rows; until then PostgreSQL keeps the generic plans it made for a nearly empty table, such as a
 * sequential scan into a hash join for every batch statement, read again on every batch. The
 * size is the table file's, exact at once (row counts reach the statistics views seconds later).
 */
const GROWN = `
  select format('%I.%I', n.nspname, c.relname) as name
  from unnest($1::text[]) t
  join pg_class c on c.oid = to_regclass(t)
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral (select pg_relation_size(c.oid) / current_setting('block_size')::int as pages) p
  where c.relkind = 'r' and pg_has_role(c.relowner, 'USAGE') and p.pages >= 16 and p.pages > 2 * c.relpages
  order by 1`;

/**
 * Analyzes the tables of `tables` that outgrew their statistics (see GROWN) and returns their
 * names. An analysis also makes PostgreSQL plan again the statements that read the table. A
 * table that keeps growing is analyzed each time it doubles: a handful of times in all.
 *
 * An analysis waits at most LOCK_TIMEOUT for its lock: one held by a vacuum, a migration or an
 * operator's `create index concurrently` makes it give way, and the next round tries again.
 */
export async function analyzeGrownTables(sql: Sql, tables: readonly string[]): Promise<{ analyzed: string[]; skipped: string[] }> {
  const grown = await sql.query<{ name: string }>(GROWN, [tables]);
  const analyzed: string[] = [];
  const skipped: string[] = [];
  for (const { name } of grown) {
    try {
      // `name` is quoted by format('%I.%I') above.
      await sql.transaction((tx) => tx.exec(`set local lock_timeout = '${LOCK_TIMEOUT}'; analyze ${name}`));
      analyzed.push(name);
    } catch {
      skipped.push(name);
    }
  }
  return { analyzed, skipped };
}

const LOCK_TIMEOUT = '200ms';
