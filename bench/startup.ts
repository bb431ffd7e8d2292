/**
 * Start-up time of the built CLI as the image runs it: `node dist/cli/main.js start <roles>` with
 * the image's environment, from spawn to the first 200 of /health. Also the size of what the
 * image adds to its base (dist + production node_modules), when --app points at such a layout.
 *
 *   npm run build && DATABASE_URL=postgres://... tsx bench/startup.ts [--app <dir>] [--runs 5] [roles...]
 *
 * Without DATABASE_URL each run starts on a fresh embedded database (migrations included), as
 * `docker run nova` does with no configuration.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { app: { type: 'string', default: process.cwd() }, runs: { type: 'string', default: '5' } },
  allowPositionals: true,
});
const roles = positionals.length ? positionals : ['webhooks'];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function bytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + bytes(join(path, name)), 0);
}

async function once(): Promise<number> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'nova-startup-'));
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/cli/main.js', 'start', ...roles], {
    cwd: values.app,
    env: {
      PATH: process.env.PATH, NODE_ENV: 'production', NOVA_LOG_FORMAT: 'json', NOVA_DATA_DIR: dataDir, NOVA_DEMO: 'false',
      WORKER_HEALTH_PORT: String(port), NOVA_HEALTH_HOST: '127.0.0.1', PORT: String(await freePort()),
      ...(process.env.DATABASE_URL && { DATABASE_URL: process.env.DATABASE_URL }),
    },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nova exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const times: number[] = [];
for (let i = 0; i < Number(values.runs); i++) times.push(await once());
times.sort((a, b) => a - b);
const ms = (t: number) => `${Math.round(t)} ms`;
console.log(`start ${roles.join(',')} on ${process.env.DATABASE_URL ? 'PostgreSQL' : 'a fresh embedded database'}: ` +
  `spawn -> /health 200: min ${ms(times[0]!)}, median ${ms(times[Math.floor(times.length / 2)]!)}, max ${ms(times.at(-1)!)} (${times.length} runs)`);
const size = (dir: string) => `${(bytes(join(values.app!, dir)) / 1e6).toFixed(1)} MB`;
console.log(`image content beside the base: dist ${size('dist')}, node_modules ${size('node_modules')}, migrations ${size('migrations')}`);
