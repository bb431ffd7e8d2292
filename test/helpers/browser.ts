import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (never a downloaded browser); CHROMIUM_PATH overrides it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The dashboard built once per test run and shared by every browser test file. Vitest runs
 * files in child processes of one parent, so the parent's pid names the run: the first file
 * to get here builds (the directory is the lock), the others wait for its marker. One build
 * instead of one per file saves about 10 s of CPU each.
 */
export async function dashboardBuild(): Promise<string> {
  const dir = join(tmpdir(), `nova-web-run-${process.ppid}`);
  const done = join(dir, '.built');
  const failed = join(dir, '.failed');
  try {
    mkdirSync(dir);
  } catch {
    // Another file is building (or built) it.
    for (let waited = 0; waited < 180_000; waited += 100) {
      if (existsSync(done)) return dir;
      if (existsSync(failed)) throw new Error(`the shared dashboard build failed: ${readFileSync(failed, 'utf8')}`);
      await sleep(100);
    }
    throw new Error(`timed out waiting for the shared dashboard build in ${dir}`);
  }
  try {
    const { build } = await import('vite');
    await build({
      configFile: join(import.meta.dirname, '../../web/vite.config.ts'),
      build: { outDir: dir, emptyOutDir: false },
      logLevel: 'warn',
    });
  } catch (err) {
    writeFileSync(failed, err instanceof Error ? err.message : String(err));
    throw err;
  }
  writeFileSync(done, '');
  return dir;
}

/** Headless Chromium with the flags this machine needs (no sandbox as root, no background network). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}
