import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { backends } from './helpers/db.ts';
import { answers, DEFAULT_TEST_DATABASE_URL, resolveTestDatabaseUrl } from './helpers/test-database.ts';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the PostgreSQL the suites run on', () => {
  it('is the one NOVA_TEST_DATABASE_URL names, without probing it (CI)', async () => {
    const probed: string[] = [];
    const probe = async (url: string) => (probed.push(url), false);
    expect(await resolveTestDatabaseUrl({ NOVA_TEST_DATABASE_URL: 'postgres://ci/db' }, probe)).toBe('postgres://ci/db');
    expect(await resolveTestDatabaseUrl({ NOVA_TEST_DATABASE_URL: '' }, probe)).toBeNull();
    expect(probed).toEqual([]);
  });

  it('is the local default when NOVA_TEST_DATABASE_URL is unset and a server answers there, else none', async () => {
    expect(await resolveTestDatabaseUrl({}, async () => true)).toBe(DEFAULT_TEST_DATABASE_URL);
    expect(await resolveTestDatabaseUrl({}, async () => false)).toBeNull();
  });

  it('is not found where no server listens, within the probe timeout', async () => {
    const started = Date.now();
    expect(await answers(`postgres://postgres@127.0.0.1:${await closedPort()}/test`)).toBe(false);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('includes the PostgreSQL driver in this run whenever that server answers', async () => {
    const given = process.env.NOVA_TEST_DATABASE_URL;
    const expected = given !== undefined ? given !== '' : await answers(DEFAULT_TEST_DATABASE_URL);
    expect(backends.map((b) => b.name)).toEqual(expected ? ['pglite', 'postgres'] : ['pglite']);
  });
});
