/**
 * Extraction benchmark. Prints numbers; asserts nothing.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:extraction
 *
 * A scratch database is filled with BENCH_MESSAGES generated emails (HTML, quoted history,
 * signatures), queued the way `extraction-queue` does it (timed), and worked off by one built
 * `extraction` process (`node dist/cli/main.js start extraction`), whose RSS is sampled:
 *   1. builtin: LLM_PROVIDER=builtin, all BENCH_MESSAGES;
 *   2. openai:  the official SDK against the LLM emulator (in this process) answering after
 *               BENCH_LATENCY_MS, EXTRACTION_CONCURRENCY=BENCH_CONCURRENCY, BENCH_LLM_MESSAGES.
 *
 * Env: BENCH_MESSAGES (5000), BENCH_LLM_MESSAGES (1200), BENCH_LATENCY_MS (200),
 * BENCH_CONCURRENCY (16), DATABASE_URL (server for `nova_bench_<random>`, dropped at the end;
 * PGlite cannot be shared by two processes, so the bench refuses without it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { LlmEmulator } from '../src/emulators/llm/index.ts';
import { EXTRACTION_SCHEMA_VERSION, extractFromPrompt } from '../src/extraction/index.ts';
import { queueExtractions } from '../src/extraction/queueing.ts';
import { silentLogger } from '../src/log.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Services } from '../src/runtime/domain.ts';
import { migrate, openPostgres, type Sql } from '../src/storage/index.ts';
import { envInt } from './support.ts';

const env = process.env;
const int = envInt;
const MESSAGES = int('BENCH_MESSAGES', 5000);
const LLM_MESSAGES = Math.min(MESSAGES, int('BENCH_LLM_MESSAGES', 1200));
const LATENCY = int('BENCH_LATENCY_MS', 200);
const CONCURRENCY = int('BENCH_CONCURRENCY', 16);

if (!env.DATABASE_URL) {
  console.error('bench:extraction needs DATABASE_URL (the extraction process shares the database; PGlite is single-process)');
  process.exit(2);
}

const dbName = `nova_bench_${randomBytes(4).toString('hex')}`;
const admin = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${dbName}`);
const url = new URL(env.DATABASE_URL);
url.pathname = `/${dbName}`;
const sql = openPostgres({ url: url.toString(), poolSize: 4 });
await migrate(sql);

// Bodies in the shapes real mail takes: HTML with a Gmail quote, plain text with an Outlook
// header block and a signature, a long newsletter cut by the token budget.
const BODIES = [
  `<div>Hi {name},</div><div><br></div><div>Thanks for the call. Could you send the signed order form by Friday, March 14? The total is $12,500.00 plus a setup fee of €2.5k. We are blocked until legal signs off on the MSA.</div><div>I'll share the rollout plan on 2025-03-20.</div><div>Best regards,</div><div>Maria<br>Head of Sales</div><div class="gmail_quote">On Mon, Mar 10, 2025 at 9:00 AM {name} wrote:<blockquote>${'Earlier thread text. '.repeat(40)}</blockquote></div>`,
  `Hello {name},\n\nInvoice 1042 for USD 3,400 was due on 03/01/2025 and is now overdue. Please pay the amount due by end of month. A late fee of 150 euros applies after that.\n\nThanks,\nNorthwind Billing\n\nFrom: {name} <{name}@globex.com>\nSent: Monday, March 3, 2025\nTo: billing@northwind.co.uk\nSubject: Invoice\n\n${'Older message. '.repeat(30)}`,
  `<html><body><h1>Weekly product news</h1>${'<p>Great news: the launch went smoothly and there are no blockers left. Thank you all, excellent work! Read more at our site.</p>'.repeat(60)}<p>Unsubscribe</p></body></html>`,
  `Hi team, quick update: the migration is stuck waiting on security review. Can you check with procurement tomorrow? Budget is 40k USD.\n-- \nLee`,
];
await sql.query(`insert into flux_inboxes (grant_id, email, provider) values ('bench-grant', 'bench@example.com', 'google')`);
await sql.query(`
  insert into flux_email_messages (inbox_id, grant_id, nylas_message_id, nylas_thread_id, subject, body,
    from_participants, to_participants, date)
  select (select id from flux_inboxes where grant_id = 'bench-grant'), 'bench-grant', 'm-' || i, 't-' || (i / 4),
         'Subject ' || i, replace(($1::text[])[1 + i % 4], '{name}', 'user' || i),
         jsonb_build_array(jsonb_build_object('name', 'Sender ' || i, 'email', 'sender' || i || '@initech.io')),
         jsonb_build_array(jsonb_build_object('name', 'Sam Carter', 'email', 'sam@globex.com')),
         timestamptz '2025-03-10 15:00:00+00' - make_interval(mins => i)
  from generate_series(1, $2::int) as i`, [BODIES, MESSAGES]);

const services = { sql, queue: new QueueClient(sql) } as unknown as Services;
const loopCtx = { signal: new AbortController().signal, log: silentLogger, leaseToken: 1, confirmLease: async () => true, services, deps: undefined };

/** Queues up to `limit` messages as `extraction-queue` does; returns how long it took. */
async function queueAll(limit: number): Promise<number> {
  const t0 = performance.now();
  await queueExtractions(loopCtx, { schemaVersion: EXTRACTION_SCHEMA_VERSION, batch: limit, requeueAfterMs: 3_600_000 });
  return performance.now() - t0;
}

interface Run {
  perSecond: number;
  /** CPU time of the extraction process per message (user + system). */
  cpuMsPerMessage: number;
  calls: number;
  seconds: number;
  peakRssMb: number;
  succeeded: number;
  failed: number;
}

/** Starts one `extraction` process, waits until `total` rows are finished, stops it. */
async function drain(total: number, extra: Record<string, string>): Promise<Run> {
  const child: ChildProcess = spawn(process.execPath, ['dist/cli/main.js', 'start', 'extraction'], {
    env: {
      PATH: env.PATH ?? '', DATABASE_URL: url.toString(), NOVA_LOG_FORMAT: 'json', LOG_LEVEL: 'info', NODE_ENV: 'production',
      WORKER_HEALTH_PORT: '0', NOVA_HEALTH_HOST: '127.0.0.1', BATCH_SIZE: String(CONCURRENCY * 2),
      // Every running job holds a connection for its reads, rate-limit takes and write; a pool
      // smaller than the concurrency makes jobs queue for connections (65/s instead of 70+/s here).
      NOVA_DB_POOL_SIZE: String(CONCURRENCY + 8), ...extra,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"Nova started"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`extraction exited with ${code}: ${out}`)));
  });
  let peak = 0;
  const rss = setInterval(() => {
    try {
      peak = Math.max(peak, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) * 1024);
    } catch {
      // gone: the last sample stands
    }
  }, 100);
  const cpu0 = cpuMs(child.pid);
  const t0 = performance.now();
  let counts = { succeeded: 0, failed: 0, calls: 0 };
  for (;;) {
    const [r] = await sql.query<{ succeeded: number; failed: number; calls: number }>(`
      select count(*) filter (where status = 'succeeded')::int as succeeded, count(*) filter (where status = 'failed')::int as failed,
             coalesce(sum(calls), 0)::int as calls
      from email_extractions`);
    counts = r!;
    // Done when every row is finished and no job is left (a straggler from an earlier phase counts too).
    if (counts.succeeded + counts.failed >= total && !(await sql.query(`select 1 from nova_jobs where queue = 'message_extraction_jobs' limit 1`)).length) break;
    await sleep(50);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMs(child.pid) - cpu0;
  clearInterval(rss);
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  const [timing] = await sql.query<{ extract: number; job: number }>(`
    select (select avg(duration_ms) from email_extractions)::float8 as extract,
           (select avg(extract(epoch from finished_at - started_at) * 1000) from nova_job_results
            where queue = 'message_extraction_jobs')::float8 as job`);
  console.log(`                   mean per message: extraction ${timing!.extract.toFixed(1)} ms, claim-to-ack ${timing!.job.toFixed(1)} ms`);
  return { perSecond: total / seconds, seconds, peakRssMb: peak / 1024 / 1024, cpuMsPerMessage: cpu / total, ...counts };
}

/** CPU time (user + system, ms) of a process, from /proc; 0 once it is gone. */
function cpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Forgets every extraction and keeps `keep` messages, so the next phase queues exactly those. */
async function reset(db: Sql, keep: number): Promise<void> {
  await db.query('delete from email_extractions');
  await db.query(`delete from flux_email_messages where id not in (select id from flux_email_messages order by id limit $1)`, [keep]);
  await db.query(`delete from nova_job_results where queue = 'message_extraction_jobs'`);
}

const fmt = (r: Run) =>
  `${Math.round(r.perSecond).toLocaleString('en-US')} messages/s (${r.succeeded} succeeded, ${r.failed} failed, ${r.calls} calls in ${r.seconds.toFixed(1)} s), ` +
  `${r.cpuMsPerMessage.toFixed(2)} ms CPU/message, peak RSS ${r.peakRssMb.toFixed(0)} MB`;

console.log(`extraction benchmark: ${MESSAGES} messages, PostgreSQL ${dbName}, one built \`extraction\` process\n`);

// 1. builtin
const queueMs = await queueAll(MESSAGES);
console.log(`extraction-queue   ${MESSAGES} messages queued in ${queueMs.toFixed(0)} ms (${Math.round(MESSAGES / (queueMs / 1000)).toLocaleString('en-US')}/s)`);
const t1 = performance.now();
const again = await queueExtractions(loopCtx, { schemaVersion: EXTRACTION_SCHEMA_VERSION, batch: 1000, requeueAfterMs: 3_600_000 });
console.log(`                   a second pass over ${MESSAGES} messages: ${again.queued} queued, ${(performance.now() - t1).toFixed(0)} ms`);
const builtin = await drain(MESSAGES, { LLM_PROVIDER: 'builtin', EXTRACTION_CONCURRENCY: String(CONCURRENCY) });
console.log(`builtin            ${fmt(builtin)}   (target >= 500/s, <= 250 MB)`);

// 2. openai SDK -> LLM emulator
await reset(sql, LLM_MESSAGES);
const llm = new LlmEmulator({
  latencyMs: LATENCY,
  apiKey: 'bench-key',
  respond: (r) => extractFromPrompt(r.messages.find((m) => m.role === 'user')?.content ?? '') ?? {},
});
await llm.start();
await queueAll(LLM_MESSAGES);
const openai = await drain(LLM_MESSAGES, {
  LLM_PROVIDER: 'openai', OPENAI_BASE_URL: llm.url, OPENAI_API_KEY: 'bench-key', EXTRACTION_CONCURRENCY: String(CONCURRENCY),
  LLM_REQUESTS_PER_MINUTE: '1000000', LLM_TOKENS_PER_MINUTE: '1000000000',
});
const bound = (CONCURRENCY * 1000) / LATENCY;
console.log(`openai (emulator)  ${fmt(openai)}   (${LATENCY} ms latency, concurrency ${CONCURRENCY}: bound ${bound.toFixed(0)}/s, target >= 70/s)`);
console.log(`                   emulator: ${JSON.stringify(llm.stats())}`);
console.log(JSON.stringify({
  at: new Date().toISOString(), queuedPerSec: Math.round(MESSAGES / (queueMs / 1000)),
  builtinPerSec: Math.round(builtin.perSecond), builtinRssMb: Math.round(builtin.peakRssMb),
  openaiPerSec: Math.round(openai.perSecond), openaiRssMb: Math.round(openai.peakRssMb),
}));

await llm.stop();
await sql.close();
await admin.unsafe(`drop database if exists ${dbName} with (force)`);
await admin.end();
