import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { migrate, openPglite, openPostgres } from '../../src/storage/index.ts';
import { compileForProcesses } from './compiled.ts';

/**
 * Which PostgreSQL server the suites run on besides PGlite, decided once per `vitest run` (a
 * globalSetup in vitest.config.ts) and handed to the test files through `inject`:
 * - NOVA_TEST_DATABASE_URL set (CI sets it): that server, not probed, so CI fails loudly when it
 *   is down rather than quietly testing less; set but empty: PGlite only;
 * - unset: DEFAULT_TEST_DATABASE_URL when a server answers there within PROBE_TIMEOUT_S, so a
 *   plain `npm test` on a machine with PostgreSQL exercises the postgres.js driver too.
 */
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** Short: a machine without the server pays it once per run (a refused connection costs less). */
const PROBE_TIMEOUT_S = 2;

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL the suites create their databases on, or null for PGlite only. */
    testDatabaseUrl: string | null;
    /** Closed PGlite data directories made once per run, for test files to copy (test/helpers/db.ts). */
    pgliteTemplates: { bare: string; migrated: string };
    /** A migrated database on that server for `create database … template`, or null. */
    postgresTemplate: string | null;
    /** Where the sources tests start as processes were compiled to (test/helpers/compiled.ts). */
    compiledDir: string;
  }
}

/** Whether a PostgreSQL server answers a query at `url`. */
export async function answers(url: string, timeoutS = PROBE_TIMEOUT_S): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: timeoutS, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 0 });
  }
}

export async function resolveTestDatabaseUrl(
  env: NodeJS.ProcessEnv,
  probe: (url: string) => Promise<boolean> = answers,
): Promise<string | null> {
  const given = env.NOVA_TEST_DATABASE_URL;
  if (given !== undefined) return given === '' ? null : given;
  return (await probe(DEFAULT_TEST_DATABASE_URL)) ? DEFAULT_TEST_DATABASE_URL : null;
}

/**
 * A new PGlite data directory costs an initdb in WebAssembly (about 5 s of CPU here) and every
 * migration; copying a closed one costs a fraction of a second. Two templates, made once: one
 * just initialised (for the tests of migrating itself), one migrated to the current schema.
 */
async function makePgliteTemplates(root: string): Promise<{ bare: string; migrated: string }> {
  const bare = join(root, 'bare');
  const migrated = join(root, 'migrated');
  await (await openPglite(bare)).close();
  const sql = await openPglite(migrated);
  await migrate(sql);
  await sql.close();
  return { bare, migrated };
}

/** The same on the server: a migrated database that files copy with `create database … template`. */
async function makePostgresTemplate(url: string): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `nova_template_${randomBytes(6).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  const sql = openPostgres({ url: target.toString(), poolSize: 1 });
  try {
    await migrate(sql);
  } finally {
    await sql.close();
  }
  return {
    name,
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

const COMPILED_PREFIX = 'nova-test-processes-';

/** Compiled copies a run left when it was killed before its teardown (a day old or more). */
function removeLeftovers(cache: string): void {
  for (const name of readdirSync(cache)) {
    const path = join(cache, name);
    if (name.startsWith(COMPILED_PREFIX) && Date.now() - statSync(path).mtimeMs > 86_400_000) rmSync(path, { recursive: true, force: true });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = mkdtempSync(join(tmpdir(), 'nova-test-templates-'));
  // Under node_modules, so that the compiled modules resolve the project's packages.
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  const cache = join(repo, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  removeLeftovers(cache);
  const compiled = mkdtempSync(join(cache, COMPILED_PREFIX));
  const [url, templates] = await Promise.all([
    resolveTestDatabaseUrl(process.env), makePgliteTemplates(root), compileForProcesses(repo, compiled),
  ]);
  if (url !== null && process.env.NOVA_TEST_DATABASE_URL === undefined) {
    console.log(`PostgreSQL answers at ${url}: suites run on PGlite and PostgreSQL (NOVA_TEST_DATABASE_URL= for PGlite only)`);
  }
  const server = url === null ? null : await makePostgresTemplate(url);
  project.provide('testDatabaseUrl', url);
  project.provide('pgliteTemplates', templates);
  project.provide('postgresTemplate', server?.name ?? null);
  project.provide('compiledDir', compiled);
  // Watch mode: a rerun starts processes from the sources as they are now.
  project.onTestsRerun(() => compileForProcesses(repo, compiled));
  return async () => {
    rmSync(root, { recursive: true, force: true });
    rmSync(compiled, { recursive: true, force: true });
    await server?.drop();
  };
}
