import type { Queryable } from './sql.ts';

/**
 * Brings tables that exist already (created by another system) to the shape Nova's migrations
 * give them, keeping every row: the migrations are run into a scratch schema, the catalogs of
 * both are compared, and the differences become steps (add a column, change a type, set a
 * default, add a check, a unique index or a foreign key). Each step runs under a savepoint: a
 * step the data does not allow (duplicates, orphans, values a check refuses) is a refusal in
 * the report instead of an error, and the caller decides to roll everything back.
 */

export const REFERENCE_SCHEMA = 'nova_adopt_ref';

/** Runs steps under savepoints and keeps the report. */
export class StepRunner {
  readonly done: string[] = [];
  readonly refused: string[] = [];
  private n = 0;

  constructor(readonly tx: Queryable) {}

  /** Runs `statements` as one step; false (and a refusal) when one of them fails. */
  async run(what: string, statements: string | string[], note = true): Promise<boolean> {
    const sp = `nova_adopt_${++this.n}`;
    await this.tx.query(`savepoint ${sp}`);
    try {
      for (const s of Array.isArray(statements) ? statements : [statements]) await this.tx.exec(s);
      await this.tx.query(`release savepoint ${sp}`);
      if (note) this.done.push(what);
      return true;
    } catch (err) {
      await this.tx.query(`rollback to savepoint ${sp}`);
      this.refused.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }
}

export interface ReconcileOptions {
  /** The migration scripts that create the tables, in order. */
  scripts: string[];
  /**
   * How to fill a NOT NULL column added to (or null in) a table with rows, keyed
   * `table.column`: an UPDATE that sets it where it is null.
   */
  derive?: Record<string, string>;
}

interface Column { table: string; column: string; type: string; not_null: boolean; default: string | null; identity: string }
interface Constraint { table: string; name: string; def: string; columns: string[] }
interface Index { table: string; name: string; def: string }

const COLUMNS = `
  select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
         a.attnotnull as not_null, pg_get_expr(d.adbin, d.adrelid) as default, a.attidentity::text as identity
  from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  where n.nspname = $1 and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped and c.relname = any($2::text[])
  order by c.relname, a.attnum`;

const CONSTRAINTS = `
  select c.relname as table, con.conname as name, pg_get_constraintdef(con.oid) as def,
         array(select a.attname::text from pg_attribute a where a.attrelid = con.conrelid and a.attnum = any(con.conkey)) as columns
  from pg_constraint con join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = $1 and con.contype = $3 and c.relname = any($2::text[])`;

const INDEXES = `
  select t.relname as table, i.relname as name, pg_get_indexdef(i.oid) as def
  from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
  join pg_namespace n on n.oid = t.relnamespace
  where n.nspname = $1 and t.relname = any($2::text[])`;

const TABLES = `
  select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = $1 and c.relkind = 'r' order by c.relname`;

/** An index definition without its name and schema, to compare two schemas' indexes. */
const shape = (def: string) => def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+/, (_m, u: string | undefined) => `${u ?? ''}INDEX`);
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Reconciles the existing tables of the current schema with those `scripts` create. Returns the
 * names of the tables it compared. Leaves the scratch schema dropped.
 */
export async function reconcileTables(run: StepRunner, options: ReconcileOptions): Promise<string[]> {
  const { tx } = run;
  const [{ schema, path }] = await tx.query<{ schema: string; path: string }>(`select current_schema() as schema, current_setting('search_path') as path`) as [{ schema: string; path: string }];
  await tx.exec(`drop schema if exists ${REFERENCE_SCHEMA} cascade; create schema ${REFERENCE_SCHEMA}`);
  await tx.query(`select set_config('search_path', $1, true)`, [REFERENCE_SCHEMA]);
  for (const script of options.scripts) await tx.exec(script);
  await tx.query(`select set_config('search_path', $1, true)`, [path]);

  const tables = (await tx.query<{ name: string }>(TABLES, [REFERENCE_SCHEMA])).map((t) => t.name);
  const existing = new Set((await tx.query<{ name: string }>(TABLES, [schema])).map((t) => t.name));
  const ref = {
    columns: await tx.query<Column>(COLUMNS, [REFERENCE_SCHEMA, tables]),
    checks: await tx.query<Constraint>(CONSTRAINTS, [REFERENCE_SCHEMA, tables, 'c']),
    fks: await tx.query<Constraint>(CONSTRAINTS, [REFERENCE_SCHEMA, tables, 'f']),
    indexes: await tx.query<Index>(INDEXES, [REFERENCE_SCHEMA, tables]),
  };
  const cur = {
    columns: await tx.query<Column>(COLUMNS, [schema, tables]),
    checks: await tx.query<Constraint>(CONSTRAINTS, [schema, tables, 'c']),
    indexes: await tx.query<Index>(INDEXES, [schema, tables]),
  };
  const derive = options.derive ?? {};
  const toFill: Column[] = [];

  for (const table of tables.filter((t) => existing.has(t))) {
    const T = `${q(schema)}.${q(table)}`;
    const have = new Map(cur.columns.filter((c) => c.table === table).map((c) => [c.column, c]));
    const [{ rows }] = await tx.query<{ rows: number }>(`select count(*)::int as rows from ${T}`) as [{ rows: number }];
    for (const want of ref.columns.filter((c) => c.table === table)) {
      const got = have.get(want.column);
      const C = q(want.column);
      if (!got) {
        const identity = want.identity === 'd' ? ' generated by default as identity' : want.identity === 'a' ? ' generated always as identity' : '';
        const dflt = want.default !== null ? ` default ${want.default}` : '';
        const fillLater = want.not_null && !want.default && !identity && rows > 0;
        if (fillLater && !derive[`${table}.${want.column}`]) {
          run.refused.push(`${table}.${want.column}: Nova needs it (${want.type} not null) and cannot fill it for the ${rows} existing rows`);
          continue;
        }
        const notNull = want.not_null && !fillLater ? ' not null' : '';
        await run.run(`add column ${table}.${want.column} ${want.type}${dflt}${identity}${notNull}`, `alter table ${T} add column ${C} ${want.type}${dflt}${identity}${notNull}`);
        if (fillLater) toFill.push(want);
        continue;
      }
      if (got.type !== want.type) {
        await run.run(`change type of ${table}.${want.column} from ${got.type} to ${want.type}`,
          `alter table ${T} alter column ${C} type ${want.type} using ${C}::${want.type}`);
      }
      if (want.default !== null && got.default === null && !got.identity) {
        await run.run(`set default of ${table}.${want.column} to ${want.default}`, `alter table ${T} alter column ${C} set default ${want.default}`);
      }
      if (want.not_null && !got.not_null) {
        if (want.default !== null) await run.run(`fill null ${table}.${want.column} with its default`, `update ${T} set ${C} = default where ${C} is null`);
        toFill.push(want);
      }
    }
    // Columns of the other system that Nova does not write must not refuse Nova's inserts.
    const wanted = new Set(ref.columns.filter((c) => c.table === table).map((c) => c.column));
    for (const extra of cur.columns.filter((c) => c.table === table && !wanted.has(c.column) && c.not_null && c.default === null && !c.identity)) {
      await run.run(`allow null in ${table}.${extra.column} (kept; Nova does not write it)`, `alter table ${T} alter column ${q(extra.column)} drop not null`);
    }
  }

  for (const col of toFill) {
    const T = `${q(schema)}.${q(col.table)}`;
    const fill = derive[`${col.table}.${col.column}`];
    if (fill) await run.run(`fill ${col.table}.${col.column} from related rows`, fill);
    await run.run(`set ${col.table}.${col.column} not null`, `alter table ${T} alter column ${q(col.column)} set not null`);
  }

  for (const table of tables.filter((t) => existing.has(t))) {
    const T = `${q(schema)}.${q(table)}`;
    const wantChecks = ref.checks.filter((c) => c.table === table);
    const haveChecks = cur.checks.filter((c) => c.table === table);
    // A check of theirs on a column Nova checks too would refuse Nova's values: Nova's replaces it.
    for (const theirs of haveChecks.filter((h) => !wantChecks.some((w) => w.def === h.def) && wantChecks.some((w) => w.columns.some((c) => h.columns.includes(c))))) {
      await run.run(`replace check ${theirs.name} on ${table} (${theirs.def})`, `alter table ${T} drop constraint ${q(theirs.name)}`);
    }
    for (const want of wantChecks.filter((w) => !haveChecks.some((h) => h.def === w.def))) {
      await run.run(`add check on ${table}: ${want.def}`, `alter table ${T} add constraint ${q(`nova_${want.name}`)} ${want.def}`);
    }
    const haveShapes = new Set(cur.indexes.filter((i) => i.table === table).map((i) => shape(i.def)));
    const names = new Set(cur.indexes.map((i) => i.name));
    for (const want of ref.indexes.filter((i) => i.table === table && !haveShapes.has(shape(i.def)))) {
      const name = names.has(want.name) ? `nova_${want.name}` : want.name;
      const def = want.def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+/, (_m, u: string | undefined) => `CREATE ${u ?? ''}INDEX ${q(name)} ON ${T}`);
      await run.run(`add ${shape(want.def)} on ${table}`, def);
    }
  }

  for (const table of tables.filter((t) => !existing.has(t))) {
    await run.run(`create table ${table}`, `alter table ${REFERENCE_SCHEMA}.${q(table)} set schema ${q(schema)}`);
  }
  // The scratch schema goes, and with it the moved tables' references into it (added back below).
  await tx.exec(`drop schema ${REFERENCE_SCHEMA} cascade`);

  const haveFks = await tx.query<Constraint>(CONSTRAINTS, [schema, tables, 'f']);
  const refOf = (def: string) => def.replace(`${REFERENCE_SCHEMA}.`, '').replace(/\) ON .*$/, ')');
  for (const want of ref.fks) {
    if (haveFks.some((h) => h.table === want.table && refOf(h.def).replace(`${schema}.`, '') === refOf(want.def))) continue;
    const def = want.def.replace(`${REFERENCE_SCHEMA}.`, `${q(schema)}.`);
    await run.run(`add foreign key on ${want.table}: ${refOf(want.def)}`, `alter table ${q(schema)}.${q(want.table)} add constraint ${q(`nova_${want.name}`)} ${def}`);
  }
  return tables;
}
