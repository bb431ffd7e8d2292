import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnNova, type NovaProcess } from './helpers/process.ts';
import { freePort, until } from './helpers/runtime.ts';

/** `nova start` with no Nylas key, on the embedded database: the newcomer's first run. */
describe('the demo default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-demo-'));
  let nova: NovaProcess | undefined;
  afterAll(async () => {
    nova?.child.kill('SIGTERM');
    await nova?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs and extracts an emulated mailbox with no account and no servers', async () => {
    const port = await freePort();
    nova = spawnNova(['start'], { NOVA_DATA_DIR: join(dir, 'db'), PORT: String(port), API_HOST: '127.0.0.1', NODE_ENV: 'development' }, 'src/cli/main.ts');
    await nova.waitFor(/demo: Nylas emulator running in-process/, 60_000);
    const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).json() as Promise<any>;

    await until(async () => (await get('/api/backfills')).backfills[0]?.backfillStatus === 'completed', 90_000, 'demo backfill completed');
    const [backfill] = (await get('/api/backfills')).backfills;
    expect(backfill).toMatchObject({ grantId: 'demo-grant', threadsFailed: 0 });
    expect(backfill.threadsCompleted).toBeGreaterThan(20);
    expect(backfill.messagesSynced).toBe(backfill.threadsCompleted * 3);

    const [inbox] = (await get('/api/inboxes')).inboxes;
    const [thread] = (await get(`/api/inboxes/${inbox.id}/threads?limit=1`)).threads;
    const [message] = (await get(`/api/threads/${thread.id}/messages`)).messages;
    await until(async () => (await fetch(`http://127.0.0.1:${port}/api/messages/${message.id}/extraction`)).status === 200, 60_000, 'extraction of a demo message');
  });
});
