import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirInUse, LOCK_FILE, lockDataDir } from '../src/storage/data-lock.ts';
import { openPglite } from '../src/storage/index.ts';
import { pgliteAt } from './helpers/db.ts';
import { insertMessage } from './helpers/extraction.ts';
import { nodeArgs, spawnNova, type NovaProcess } from './helpers/process.ts';
import { freePort } from './helpers/runtime.ts';

/**
 * The embedded data directory has one owner: a second process is refused with exit 78 and the
 * holder's pid, a lock left by a dead process is taken over, and `nova extract` goes through the
 * running process's API instead of opening the database.
 */

describe('the data directory lock', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nova-lock-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a directory whose lock names a live process of this machine', async () => {
    const holder = spawn('sleep', ['30']);
    try {
      const data = join(dir, 'live');
      mkdirSync(data, { recursive: true });
      writeFileSync(join(data, LOCK_FILE), JSON.stringify({ pid: holder.pid, host: hostname(), startedAt: '2026-01-02T03:04:05.000Z', procStart: null }));
      expect(() => lockDataDir(data)).toThrow(DataDirInUse);
      expect(() => lockDataDir(data)).toThrow(`NOVA_DATA_DIR ${data} is in use by pid ${holder.pid} since 2026-01-02T03:04:05.000Z; stop it or set NOVA_DATA_DIR`);
      await expect(openPglite(data)).rejects.toThrow(DataDirInUse);
    } finally {
      holder.kill();
    }
  });

  it('takes over a lock whose process is gone, and removes it on close', async () => {
    const gone = spawn('true');
    await new Promise((r) => gone.on('exit', r));
    const data = join(dir, 'stale');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, LOCK_FILE), JSON.stringify({ pid: gone.pid, host: hostname(), startedAt: 'then', procStart: null }));
    const sql = await openPglite(data);
    expect(JSON.parse(readFileSync(join(data, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await sql.close();
    expect(() => readFileSync(join(data, LOCK_FILE))).toThrow(/ENOENT/);
  });

  it('adds one exit listener to the process however many directories it locks and releases', () => {
    const before = process.listenerCount('exit');
    for (let i = 0; i < 20; i++) lockDataDir(join(dir, `many-${i}`)).release();
    expect(process.listenerCount('exit') - before).toBeLessThanOrEqual(1);
  });

  it('removes the locks a process still holds when it exits', async () => {
    const [first, second] = [join(dir, 'exit-a'), join(dir, 'exit-b')];
    const lockModule = pathToFileURL(nodeArgs('src/storage/data-lock.ts')[0]!).href;
    const script = `import { lockDataDir } from ${JSON.stringify(lockModule)};
      lockDataDir(${JSON.stringify(first)}); lockDataDir(${JSON.stringify(second)});
      console.log('locked');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
    expect(out).toContain('locked');
    for (const data of [first, second]) expect(() => readFileSync(join(data, LOCK_FILE))).toThrow(/ENOENT/);
  });
});

describe('a second process on the same NOVA_DATA_DIR', () => {
  let dir: string;
  let first: NovaProcess | undefined;
  let messageId: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nova-lock-proc-'));
    const sql = await pgliteAt(join(dir, 'db'));
    messageId = await insertMessage(sql, { subject: 'Quote', body: 'We can pay $12,500 by Friday, March 6.' });
    await sql.close();
    env = { NOVA_DATA_DIR: join(dir, 'db'), NOVA_DEMO: 'false', API_HOST: '127.0.0.1', NODE_ENV: 'development', LLM_PROVIDER: 'builtin' };
    first = spawnNova(['start', 'api'], { ...env, PORT: String(await freePort()) }, 'src/cli/main.ts');
    await first.waitFor(/Nova started/, 60_000);
    // The pid file is written once the servers listen, just after the start line.
    for (let i = 0; i < 100 && !readPid(); i++) await new Promise((r) => setTimeout(r, 50));
  }, 90_000);

  afterAll(async () => {
    first?.child.kill('SIGTERM');
    await first?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  const readPid = () => {
    try {
      return JSON.parse(readFileSync(join(dir, 'db', 'nova.pid'), 'utf8')) as { pid: number };
    } catch {
      return undefined;
    }
  };

  it('exits 78 naming the holder, for nova start and nova migrate', async () => {
    const second = spawnNova(['start', 'api'], { ...env, PORT: String(await freePort()) }, 'src/cli/main.ts');
    expect(await second.exited).toBe(78);
    expect(second.output()).toMatch(new RegExp(`is in use by pid ${first!.child.pid} since \\d{4}-\\d\\d-\\d\\dT.*; stop it or set NOVA_DATA_DIR`));
    expect(second.output()).not.toMatch(/Nova started/);

    const migrate = spawnNova(['migrate'], env, 'src/cli/main.ts');
    expect(await migrate.exited).toBe(78);
    expect(migrate.output()).toMatch(`in use by pid ${first!.child.pid}`);
  }, 60_000);

  it('runs nova extract through the running process API', async () => {
    expect(readPid()?.pid).toBe(first!.child.pid);
    const extract = spawnNova(['extract', messageId], env, 'src/cli/main.ts');
    expect(await extract.exited, extract.output()).toBe(0);
    const printed = JSON.parse(extract.output().slice(extract.output().indexOf('{')));
    expect(printed).toMatchObject({ messageId, status: 'succeeded' });
    expect(printed.extraction.amounts[0].value).toBe(12500);

    const stored = spawnNova(['extract', messageId, '--stored'], env, 'src/cli/main.ts');
    expect(await stored.exited, stored.output()).toBe(0);
    expect(JSON.parse(stored.output().slice(stored.output().indexOf('{')))).toMatchObject({ messageId, status: 'succeeded' });
  }, 60_000);
});
