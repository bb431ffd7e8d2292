import postgres from 'postgres';
import type { TestProject } from 'vitest/node';

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

export default async function setup(project: TestProject): Promise<void> {
  const url = await resolveTestDatabaseUrl(process.env);
  if (url !== null && process.env.NOVA_TEST_DATABASE_URL === undefined) {
    console.log(`PostgreSQL answers at ${url}: suites run on PGlite and PostgreSQL (NOVA_TEST_DATABASE_URL= for PGlite only)`);
  }
  project.provide('testDatabaseUrl', url);
}
