/**
 * Fuzzed signed webhook deliveries against the intake. Prints numbers; asserts nothing
 * (test/webhook-fuzz.test.ts sends a sample and asserts).
 *
 *   npm run bench:webhook-fuzz                     # embedded PGlite
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:webhook-fuzz
 *
 * An `api` runtime in this process (on a scratch database `nova_bench_<random>` when
 * DATABASE_URL is set, dropped at the end) receives BENCH_DELIVERIES (10000) bodies from
 * test/helpers/fuzz-deliveries.ts (random JSON shapes, boundary numbers, control characters,
 * deep nesting, bytes that are not JSON), each correctly signed, BENCH_CONCURRENCY (50) at a
 * time. Reports answers by status, 5xx, and whether every 200 and every 400 left an audit row.
 * Env: BENCH_SEED (1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { domains } from '../src/domains.ts';
import { signWebhook } from '../src/emulators/nylas/index.ts';
import { silentLogger } from '../src/log.ts';
import { loadDomainConfig } from '../src/runtime/domain.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { migrate, openPglite, type Sql } from '../src/storage/index.ts';
import { fuzzBodies } from '../test/helpers/fuzz-deliveries.ts';
import { freePort } from '../test/helpers/runtime.ts';
import { envInt, scratchDatabase } from './support.ts';

const int = envInt;
const COUNT = int('BENCH_DELIVERIES', 10_000);
const CONCURRENCY = int('BENCH_CONCURRENCY', 50);
const SEED = int('BENCH_SEED', 1);
const SECRET = 'bench-fuzz-secret';

const scratch = process.env.DATABASE_URL ? await scratchDatabase(process.env.DATABASE_URL) : undefined;
const dir = scratch ? undefined : mkdtempSync(join(tmpdir(), 'nova-fuzz-'));
let sql: Sql;
if (scratch) sql = scratch.sql;
else {
  sql = await openPglite(join(dir!, 'db'));
  await migrate(sql);
}
const port = await freePort();
// Every domain's slice: the runtime syncs every declared schedule (deals' daily brief reads its cron from the config).
const config = loadDomainConfig({
  WORKER_TYPE: 'api', PORT: String(port), API_HOST: '127.0.0.1', NYLAS_WEBHOOK_SECRET: SECRET, NOVA_DEMO: 'false',
  ...(scratch ? { DATABASE_URL: scratch.url } : { NOVA_DATA_DIR: join(dir!, 'db') }),
}, domains);
const runtime = new Runtime({ config, domains, logger: silentLogger, health: false, ...(scratch ? {} : { sql }) });
await runtime.start();

const bodies = fuzzBodies(COUNT, SEED);
const hook = `http://127.0.0.1:${port}/webhooks/nylas`;
const statuses = new Map<number, number>();
const accepted: string[] = [];
let refusedWithAudit = 0;
let next = 0;
const started = performance.now();
const latencies: number[] = [];
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (next < bodies.length) {
    const { body } = bodies[next++]!;
    const t = performance.now();
    const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-nylas-signature': signWebhook(body, SECRET) }, body: new Uint8Array(body) });
    const answer = (await res.json()) as { id?: string; status?: string };
    latencies.push(performance.now() - t);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status === 200 && answer.status === 'accepted') accepted.push(answer.id!);
  }
}));
const seconds = (performance.now() - started) / 1000;

const rows = await sql.query<{ notification_id: string }>('select notification_id from flux_webhook_notifications where notification_id = any($1)', [accepted]);
const audited = new Set(rows.map((r) => r.notification_id));
refusedWithAudit = (await sql.query<{ n: number }>(`select count(*)::int as n from flux_webhook_notifications where status = 'error'`))[0]!.n;
latencies.sort((a, b) => a - b);
const fivexx = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
const fourxx = [...statuses].filter(([s]) => s >= 400 && s < 500).reduce((n, [, c]) => n + c, 0);

console.log(`webhook fuzz on ${scratch ? 'PostgreSQL' : 'PGlite'}: ${COUNT} signed deliveries (seed ${SEED}), ${CONCURRENCY} at a time`);
console.log(`  answers by status: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ')}`);
console.log(`  5xx: ${fivexx}`);
console.log(`  accepted (200 accepted): ${accepted.length}, with an audit row: ${accepted.filter((id) => audited.has(id)).length}`);
console.log(`  refused (4xx): ${fourxx}, audit rows in error: ${refusedWithAudit}`);
console.log(`  ${Math.round(COUNT / seconds)} deliveries/s; latency p50 ${latencies[Math.floor(latencies.length / 2)]!.toFixed(1)} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]!.toFixed(1)} ms`);

await runtime.stop();
if (scratch) await scratch.drop();
else {
  await sql.close();
  rmSync(dir!, { recursive: true, force: true });
}
