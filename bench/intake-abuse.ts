/**
 * Abuse of the webhook route by clients that cannot sign: many large uploads at once. Prints
 * numbers; asserts nothing (test/webhook-intake.test.ts checks the refusals themselves).
 *
 *   npm run bench:intake-abuse                     # the api process on embedded PGlite
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:intake-abuse
 *
 * A built `api` process (`node dist/cli/main.js start api`) receives, per scenario,
 * BENCH_UPLOADS (200) concurrent uploads of BENCH_MB (8) MB each, written in 64 KB chunks as fast
 * as the server takes them:
 *   1. unsigned:        no x-nylas-signature, with content-length;
 *   2. forged, sized:   a well-formed but wrong signature, with content-length;
 *   3. forged, chunked: a wrong signature and no content-length (the limit must cut it).
 * Throughout, the process's RSS is sampled every 50 ms and its /health asked every 100 ms.
 * Targets (issue 11): RSS ≤ 200 MB and /health ≤ 100 ms.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envInt, mb, peakRss, rssBytes, scratchDatabase, startNova } from './support.ts';

const int = envInt;
const UPLOADS = int('BENCH_UPLOADS', 200);
const SIZE = int('BENCH_MB', 8) * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

const scratch = process.env.DATABASE_URL ? await scratchDatabase(process.env.DATABASE_URL) : undefined;
const dir = scratch ? undefined : mkdtempSync(join(tmpdir(), 'nova-abuse-'));
const nova = await startNova('api', {
  PORT: '0', API_HOST: '127.0.0.1', NYLAS_WEBHOOK_SECRET: 'abuse-secret', NOVA_DEMO: 'false', NOVA_API_TOKEN: 'abuse-token-0123456789',
  ...(scratch ? { DATABASE_URL: scratch.url } : { NOVA_DATA_DIR: join(dir!, 'db') }),
});
const pid = nova.child.pid;
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

/** One upload: resolves with the status answered (0 when the connection was cut without one) and bytes the server let it write. */
function upload(headers: Record<string, string>): Promise<{ status: number; sent: number }> {
  return new Promise((resolve) => {
    let sent = 0;
    let status = 0;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve({ status, sent });
      }
    };
    const req = request({ host: '127.0.0.1', port: nova.apiPort, path: '/webhooks/nylas', method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      status = res.statusCode ?? 0;
      res.resume();
      res.on('end', finish);
      res.on('error', finish);
    });
    req.on('error', finish);
    req.on('close', finish);
    const write = () => {
      while (sent < SIZE && !req.destroyed) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) return void req.once('drain', write);
      }
      if (!req.destroyed) req.end();
    };
    write();
  });
}

/**
 * Asks /health every 100 ms from a process of its own: this one is busy writing uploads, and
 * its own event loop would be measured instead of the server's.
 */
function probeHealth(): { stop(): Promise<number[]> } {
  const code = `
    const latencies = [];
    let on = true;
    process.on('SIGTERM', () => (on = false));
    (async () => {
      while (on) {
        const t = performance.now();
        await fetch('http://127.0.0.1:${nova.healthPort}/health').then((r) => r.text(), () => undefined);
        latencies.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The first probe pays for loading fetch in this process: not the server's time.
      process.stdout.write(JSON.stringify(latencies.slice(1)));
    })();`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return (JSON.parse(out || '[]') as number[]).sort((a, b) => a - b);
    },
  };
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]?.toFixed(1);

async function scenario(name: string, headers: Record<string, string>): Promise<void> {
  const before = rssBytes(pid);
  const rss = peakRss(() => [pid], 50);
  const prober = probeHealth();
  await new Promise((r) => setTimeout(r, 500));
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: UPLOADS }, () => upload(headers)));
  const seconds = (performance.now() - started) / 1000;
  const health = await prober.stop();
  const peak = rss.stop();
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssBytes(pid);
  const statuses = new Map<number, number>();
  for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  const written = results.reduce((n, r) => n + r.sent, 0);
  console.log(`\n${name}: ${UPLOADS} concurrent uploads of ${mb(SIZE)}`);
  console.log(`  answers: ${[...statuses].map(([s, n]) => `${s || 'cut without answer'}: ${n}`).join(', ')}; all done in ${seconds.toFixed(1)} s`);
  console.log(`  client wrote ${mb(written)} before the server stopped reading (${(written / UPLOADS / 1024).toFixed(0)} KB per upload)`);
  console.log(`  API RSS: before ${mb(before)}, peak ${mb(peak)}, 1 s after ${mb(after)}`);
  console.log(`  /health: ${health.length} probes, p50 ${pct(health, 0.5)} ms, p90 ${pct(health, 0.9)} ms, max ${pct(health, 1)} ms`);
}

console.log(`api process pid ${pid} on ${scratch ? 'PostgreSQL' : 'PGlite'}, RSS at start ${mb(rssBytes(pid))}`);
{
  // What /health costs on this machine right now with no uploads: the baseline for the figures below.
  const idle = probeHealth();
  await new Promise((r) => setTimeout(r, 3000));
  const health = await idle.stop();
  console.log(`idle /health: ${health.length} probes, p50 ${pct(health, 0.5)} ms, p90 ${pct(health, 0.9)} ms, max ${pct(health, 1)} ms`);
}
await scenario('unsigned', { 'content-length': String(SIZE) });
await scenario('forged signature, content-length', { 'content-length': String(SIZE), 'x-nylas-signature': 'ab'.repeat(32) });
await scenario('forged signature, chunked', { 'transfer-encoding': 'chunked', 'x-nylas-signature': 'ab'.repeat(32) });

await nova.stop();
if (scratch) await scratch.drop();
if (dir) rmSync(dir, { recursive: true, force: true });
