import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnNova, type NovaProcess } from './helpers/process.ts';
import { freePort, until } from './helpers/runtime.ts';

/** `nova start` with no keys, on the embedded database: the demo deal gets its brief. */
describe('the deals demo default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-deals-demo-'));
  let nova: NovaProcess | undefined;
  afterAll(async () => {
    nova?.child.kill('SIGTERM');
    await nova?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('briefs a demo deal synced from the emulated Drive within a minute, with no account', async () => {
    const port = await freePort();
    const started = Date.now();
    nova = spawnNova(['start'], { NOVA_DATA_DIR: join(dir, 'db'), PORT: String(port), API_HOST: '127.0.0.1', NODE_ENV: 'development' }, 'src/cli/main.ts');
    await nova.waitFor(/demo: Drive emulator running in-process/, 60_000);
    const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).json() as Promise<any>;
    const { deals } = await get('/api/deals');
    const deal = deals.find((d: { name: string }) => d.name === 'Demo: Project Falcon');
    expect(deal).toBeTruthy();
    await until(async () => (await get(`/api/deals/${deal.id}/briefs`)).briefs.length > 0, 60_000, 'the demo brief');
    expect(Date.now() - started).toBeLessThan(90_000);
    const detail = await get(`/api/deals/${deal.id}`);
    expect(detail.documents.map((d: { name: string }) => d.name)).toEqual(expect.arrayContaining(['IT systems overview.pdf', 'Environmental survey (scan).pdf']));
    // The scan's words came from OCR: the page has no text layer.
    expect(detail.documents.find((d: { name: string }) => d.name.includes('(scan)')).summary).toMatch(/asbestos/);
    expect(detail.documents.every((d: { summary: string | null }) => d.summary)).toBe(true);
    const [brief] = detail.briefs;
    expect(brief.status).toBe('published');
    expect(brief.markdown).toContain('Demo: Project Falcon');
    expect(brief.blockers.items.map((b: { title: string }) => b.title)).toContain('Data room access for the lender');
  });
});
