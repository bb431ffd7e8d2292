import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareDemo } from '../src/cli/demo.ts';
import { domains, loadNovaConfig as loadConfig } from '../src/domains.ts';
import { resolveRoles } from '../src/runtime/roles.ts';
import { backends, pgliteAt } from './helpers/db.ts';
import { spawnNova } from './helpers/process.ts';

/** The seed's configuration habits through the real `nova` entry point (src/cli/main.ts). */
describe('configuration a seed deployment brings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-dropin-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (args: string[], env: Record<string, string>) => {
    const nova = spawnNova(args, env, 'src/cli/main.ts');
    const code = await nova.exited;
    return { code, output: nova.output() };
  };

  it('stops with exit 78 and the way out when only SUPABASE_URL names the database', async () => {
    const { code, output } = await run(['migrate'], { SUPABASE_URL: 'https://abc.supabase.co', SUPABASE_SERVICE_KEY: 'service-key', NOVA_DATA_DIR: join(dir, 'never') });
    expect(code).toBe(78);
    expect(output).toMatch(/SUPABASE_URL: SUPABASE_URL is set but DATABASE_URL is not/);
    expect(output).toMatch(/Postgres connection string/);
    expect(output).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('reads .env, the environment winning over the file', async () => {
    const file = join(dir, 'seed.env');
    writeFileSync(file, `NOVA_DATA_DIR=${join(dir, 'from-file')}\nLOG_LEVEL=info\n`);
    expect((await run(['migrate'], { NOVA_ENV_FILE: file, NOVA_DATA_DIR: join(dir, 'from-env') })).code).toBe(0);
    expect([existsSync(join(dir, 'from-env')), existsSync(join(dir, 'from-file'))]).toEqual([true, false]);
    expect((await run(['migrate'], { NOVA_ENV_FILE: file })).code).toBe(0);
    expect(existsSync(join(dir, 'from-file'))).toBe(true);
  });
});

describe('nova migrate on a seed database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-dropin-migrate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const schema = readFileSync(new URL('./fixtures/seed-001-schema.sql', import.meta.url), 'utf8');
  const seedDatabase = async (name: string, extra = '') => {
    const sql = await pgliteAt(join(dir, name), 'bare');
    await sql.exec(schema + extra);
    await sql.close();
    return { NOVA_DATA_DIR: join(dir, name) };
  };
  const run = async (args: string[], env: Record<string, string>) => {
    const nova = spawnNova(args, env, 'src/cli/main.ts');
    return { code: await nova.exited, output: nova.output() };
  };

  it('prints the plan, changes nothing, then adopts and is up to date', async () => {
    const env = await seedDatabase('ok');
    const plan = await run(['migrate', '--plan'], env);
    expect(plan.code).toBe(0);
    expect(plan.output).toMatch(/^Plan: adopting the seed email service database \(nothing changed\)/);
    expect(plan.output).toMatch(/• create table backfill_history/);
    const adopted = await run(['migrate'], env);
    expect(adopted.code).toBe(0);
    expect(adopted.output).toMatch(/^Adopting the seed email service database/);
    expect(adopted.output).toMatch(/Migrations applied: 0001_queue, 0002_pgmq_compat, 0005_extraction/);
    expect((await run(['migrate', '--plan'], env)).output).toMatch(/Plan: database is up to date/);
  }, 180_000);

  it('refuses with a report and exit 65, never a stack trace', async () => {
    const env = await seedDatabase('bad', `insert into flux_inboxes (user_id, grant_id, status) values (gen_random_uuid(), 'g', 'paused');`);
    const { code, output } = await run(['migrate'], env);
    expect(code).toBe(65);
    expect(output).toMatch(/Cannot adopt it as it is; nothing was changed:\n  ✗ add check on flux_inboxes/);
    expect(output).not.toMatch(/\n\s+at /);
  });
});

describe('the demo and a server database', () => {
  const all = resolveRoles('all', domains);

  it('starts on the embedded database, never on a server unless NOVA_DEMO=true', async () => {
    const server = 'postgres://nova@127.0.0.1:1/production';
    expect(await prepareDemo(loadConfig({ DATABASE_URL: server }), all)).toBeUndefined();
    expect(await prepareDemo(loadConfig({ DATABASE_URL: server, NOVA_DEMO: 'false' }), all)).toBeUndefined();
    const asked = await prepareDemo(loadConfig({ DATABASE_URL: server, NOVA_DEMO: 'true' }), all);
    const embedded = await prepareDemo(loadConfig({}), all);
    try {
      expect(asked?.config.NYLAS_API_URI).toMatch(/^http:\/\/127\.0\.0\.1:/);
      expect(embedded?.config.NYLAS_API_URI).toMatch(/^http:\/\/127\.0\.0\.1:/);
    } finally {
      await asked?.stop();
      await embedded?.stop();
    }
  });

  const server = backends.find((b) => b.name === 'postgres');
  it.runIf(server)('writes no demo inbox into a PostgreSQL database `nova start` runs on', async () => {
    const db = await server!.create();
    const nova = spawnNova(['start'], { ...db.env, PORT: '0', API_HOST: '127.0.0.1', NODE_ENV: 'development' }, 'src/cli/main.ts');
    try {
      await nova.waitFor(/Nova started/, 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      const [{ n }] = await db.sql.query<{ n: number }>('select count(*)::int as n from flux_inboxes') as [{ n: number }];
      expect(n).toBe(0);
      expect(nova.output()).not.toMatch(/demo:/);
    } finally {
      nova.child.kill('SIGTERM');
      await nova.exited;
      await db.drop();
    }
  });
});
