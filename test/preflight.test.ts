import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedDataDir } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';
import { freePort } from './helpers/runtime.ts';

/** Errors at start that name their fix: a busy port, an unreachable database, a missing secret. */
describe('nova start names what to fix', () => {
  let dir: string;
  let busy: Server;
  let busyPort: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nova-preflight-'));
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(() => {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a PORT in use before it opens the database, naming the variable', async () => {
    const proc = spawnNova(['start', 'api'], {
      NOVA_DATA_DIR: join(dir, 'a'), PORT: String(busyPort), API_HOST: '127.0.0.1', NOVA_DEMO: 'false',
    }, 'src/cli/main.ts');
    expect(await proc.exited).toBe(78);
    expect(proc.output()).toContain(`PORT=${busyPort}: port ${busyPort} on 127.0.0.1 is already in use (EADDRINUSE); stop what listens there (another nova start?) or set PORT to a free port`);
    expect(proc.output()).not.toMatch(/Nova started|applied/);
  });

  it('names WORKER_HEALTH_PORT when that is the busy one', async () => {
    const proc = spawnNova(['start', 'sleeper'], { NOVA_DATA_DIR: join(dir, 'b'), WORKER_HEALTH_PORT: String(busyPort) });
    expect(await proc.exited).toBe(78);
    expect(proc.output()).toContain(`WORKER_HEALTH_PORT=${busyPort}: port ${busyPort}`);
  });

  it('names DATABASE_URL, hides its password and points at the embedded fallback', async () => {
    const port = await freePort(); // nothing listens there
    const proc = spawnNova(['start', 'sleeper'], { DATABASE_URL: `postgres://nova:hunter2@127.0.0.1:${port}/nova` });
    expect(await proc.exited).toBe(1);
    const out = proc.output();
    expect(out).toContain(`cannot use the database at DATABASE_URL=\\"postgres://nova:***@127.0.0.1:${port}/nova\\": connection refused`);
    expect(out).toContain('unset DATABASE_URL to use the embedded database in NOVA_DATA_DIR');
    expect(out).not.toContain('hunter2');
  });

  it('warns when NYLAS_API_KEY is set without NYLAS_WEBHOOK_SECRET', async () => {
    const proc = spawnNova(['start', 'sleeper'], { NOVA_DATA_DIR: migratedDataDir(join(dir, 'c')), NYLAS_API_KEY: 'nyk_test' });
    await proc.waitFor(/Nova started/, 60_000);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('NYLAS_API_KEY is set without NYLAS_WEBHOOK_SECRET');
  }, 90_000);
});
