import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { inject } from 'vitest';
import { migrate, openPglite, openPostgres, type Sql } from '../../src/storage/index.ts';

/** A fresh, migrated database of one backend, for one test file. */
export interface TestDb {
  sql: Sql;
  /** Environment a child Nova process needs to reach the same database. */
  env: Record<string, string>;
  /** Opens another client on the same database (a separate pool); PGlite returns the shared one. */
  connect(): Promise<Sql>;
  drop(): Promise<void>;
}

export interface Backend {
  name: 'pglite' | 'postgres';
  /** Whether separate OS processes can share the database. */
  multiProcess: boolean;
  create(options?: { migrate?: boolean }): Promise<TestDb>;
}

/** From the globalSetup: NOVA_TEST_DATABASE_URL, or the local server when one answers. */
const pgUrl = inject('testDatabaseUrl');
/** From the globalSetup: closed PGlite directories to copy instead of running initdb per file. */
const templates = inject('pgliteTemplates');
const pgTemplate = inject('postgresTemplate');

/**
 * A migrated PGlite data directory at `dataDir` for a child process that needs nothing in it
 * beforehand: the process skips initdb (seconds of CPU in WebAssembly) and finds every migration
 * applied. Tests of a first start on an empty directory (the demo's) do not use it.
 */
export function migratedDataDir(dataDir: string): string {
  cpSync(templates.migrated, dataDir, { recursive: true });
  return dataDir;
}

/**
 * A PGlite database at `dataDir` for a test to fill and hand to a child process: a copy of the
 * run's template (migrated, or only initialised for tests of adopting or migrating), opened here.
 */
export async function pgliteAt(dataDir: string, kind: 'migrated' | 'bare' = 'migrated'): Promise<Sql> {
  if (templates) cpSync(templates[kind], dataDir, { recursive: true });
  const sql = await openPglite(dataDir);
  if (kind === 'migrated') await migrate(sql);
  return sql;
}

const pglite: Backend = {
  name: 'pglite',
  multiProcess: false,
  async create(options = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'nova-test-'));
    const migrated = options.migrate !== false;
    if (templates) cpSync(migrated ? templates.migrated : templates.bare, join(dir, 'db'), { recursive: true });
    const sql = await openPglite(join(dir, 'db'));
    // A copy of the migrated template is current already: this reads nova_migrations and returns.
    if (migrated) await migrate(sql);
    const db: TestDb = {
      sql,
      env: { NOVA_DATA_DIR: join(dir, 'db') },
      connect: async () => db.sql,
      async drop() {
        await db.sql.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return db;
  },
};

const server: Backend = {
  name: 'postgres',
  multiProcess: true,
  async create(options = {}) {
    const name = `nova_t_${randomBytes(6).toString('hex')}`;
    const admin = postgres(pgUrl!, { max: 1, onnotice: () => {} });
    const migrated = options.migrate !== false;
    // A copy of the migrated template costs about half of creating and migrating.
    await admin.unsafe(migrated && pgTemplate ? `create database ${name} template ${pgTemplate}` : `create database ${name}`);
    const url = new URL(pgUrl!);
    url.pathname = `/${name}`;
    const opened: Sql[] = [];
    const connect = async () => {
      const sql = openPostgres({ url: url.toString(), poolSize: 10 });
      opened.push(sql);
      return sql;
    };
    const sql = await connect();
    if (migrated) await migrate(sql);
    return {
      sql,
      env: { DATABASE_URL: url.toString() },
      connect,
      async drop() {
        await Promise.all(opened.map((s) => s.close()));
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      },
    };
  },
};

/**
 * PGlite always; PostgreSQL too when NOVA_TEST_DATABASE_URL is set (CI sets it) or, when it is
 * unset, a server answers at postgres://postgres@127.0.0.1:5432/test.
 */
export const backends: Backend[] = pgUrl ? [pglite, server] : [pglite];
