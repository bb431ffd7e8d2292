import { applyPending, appliedMigrations, loadMigrations, MIGRATION_LOCK_KEY, recordAdopted, type Migration } from '../storage/migrate.ts';
import { reconcileTables, StepRunner } from '../storage/reconcile.ts';
import type { Queryable, Sql } from '../storage/index.ts';
import { importPgmq } from './pgmq-import.ts';

/**
 * Adopting a database of the seed's email service (seeds 000/001): its tables exist, Nova's
 * migrations 0003/0004 (which create them) are not recorded, so `nova migrate` would stop at
 * "relation flux_inboxes already exists". Instead, in one transaction under the migration lock:
 *   1. the seed's functions that Nova defines under the same names, and the seed's triggers on
 *      its tables (they called PGMQ, and recounted stats Nova counts itself), are dropped;
 *   2. the tables are reconciled with what 0003/0004 create (src/storage/reconcile.ts), keeping
 *      every row, id and status;
 *   3. the seed's backfill state becomes Nova's (run number, window, checkpoint);
 *   4. 0003/0004 are recorded as applied and the other migrations run as usual;
 *   5. work the seed left half done is queued: discoveries resume from their checkpoint, listed
 *      threads get their sync jobs, pending webhook rows their jobs, and messages waiting in the
 *      seed's PGMQ queues move to Nova's (src/email/pgmq-import.ts).
 * Any step the data does not allow is a refusal: everything is rolled back and the report says
 * why. With `plan`, everything is rolled back anyway: the report is what would be done.
 */

/** The tables Nova's 0003/0004 create; the first three are the seed's core. */
const SEED_MIGRATIONS = [3, 4];

/** NOT NULL columns the seed may lack, filled from the rows they belong to. */
const DERIVE: Record<string, string> = {
  'flux_email_threads.grant_id': `update flux_email_threads t set grant_id = i.grant_id from flux_inboxes i where i.id = t.inbox_id and t.grant_id is null`,
  'flux_email_messages.grant_id': `update flux_email_messages m set grant_id = i.grant_id from flux_inboxes i where i.id = m.inbox_id and m.grant_id is null`,
  'queued_threads.grant_id': `update queued_threads q set grant_id = i.grant_id from flux_inbox_configurations c join flux_inboxes i on i.id = c.inbox_id where c.id = q.config_id and q.grant_id is null`,
  'inbox_sync_stats.inbox_id': `update inbox_sync_stats s set inbox_id = c.inbox_id from flux_inbox_configurations c where c.id = s.config_id and s.inbox_id is null`,
};

/** Whether `db` holds the seed's tables without Nova's record of creating them. */
export async function isSeedDatabase(db: Queryable): Promise<boolean> {
  const [found] = await db.query<{ seed: boolean }>(`select to_regclass('flux_inboxes') is not null as seed`);
  if (!found?.seed) return false;
  return !(await appliedMigrations(db)).has(3);
}

export interface AdoptionReport {
  /** False when the database was not a seed database (nothing to adopt). */
  seed: boolean;
  /** Whether the changes were committed (false for a plan or a refusal). */
  committed: boolean;
  steps: string[];
  refusals: string[];
  migrations: string[];
  /** Work the seed left half done, queued for Nova: jobs per queue. */
  queued: Record<string, number>;
  /** Messages moved from the seed's PGMQ queues, per queue (those for work queued above are not queued twice). */
  imported: Record<string, number>;
}

class Rollback extends Error {}

export async function adoptSeedDatabase(sql: Sql, options: { plan: boolean; migrations?: Migration[] }): Promise<AdoptionReport> {
  const migrations = options.migrations ?? loadMigrations();
  let report: AdoptionReport | undefined;
  try {
    await sql.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      if (!(await isSeedDatabase(tx))) {
        report = { seed: false, committed: false, steps: [], refusals: [], migrations: [], queued: {}, imported: {} };
        throw new Rollback();
      }
      const run = new StepRunner(tx);
      await dropSeedObjects(run, migrations);
      await reconcileTables(run, { scripts: migrations.filter((m) => SEED_MIGRATIONS.includes(m.id)).map((m) => m.script), derive: DERIVE });
      const r: AdoptionReport = { seed: true, committed: false, steps: run.done, refusals: run.refused, migrations: [], queued: {}, imported: {} };
      report = r;
      if (run.refused.length) throw new Rollback();
      await convertBackfills(run);
      await recordAdopted(tx, migrations.filter((m) => SEED_MIGRATIONS.includes(m.id)));
      r.migrations = await applyPending(tx, migrations);
      r.queued = await resumeWork(tx);
      r.imported = await importPgmq(tx);
      if (options.plan || run.refused.length) throw new Rollback();
      r.committed = true;
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
  }
  return report!;
}

/** Functions the migrations create (Nova's versions replace the seed's) and triggers on the seed's tables. */
async function dropSeedObjects(run: StepRunner, migrations: Migration[]): Promise<void> {
  const names = [...new Set(migrations.flatMap((m) => [...m.script.matchAll(/create (?:or replace )?function\s+(\w+)/gi)].map((x) => x[1]!.toLowerCase())))];
  const functions = await run.tx.query<{ sig: string }>(`
    select p.oid::regprocedure::text as sig from pg_proc p
    where p.pronamespace = current_schema()::regnamespace and p.proname = any($1::text[])`, [names]);
  for (const f of functions) await run.run(`replace the seed's function ${f.sig} with Nova's`, `drop function ${f.sig} cascade`);
  const triggers = await run.tx.query<{ name: string; table: string; fn: string }>(`
    select t.tgname as name, c.relname as table, t.tgfoid::regproc::text as fn
    from pg_trigger t join pg_class c on c.oid = t.tgrelid
    where not t.tgisinternal and c.relnamespace = current_schema()::regnamespace
      and c.relname in ('flux_inboxes', 'flux_inbox_configurations', 'flux_email_threads', 'flux_email_messages',
                        'flux_webhook_notifications', 'queued_threads', 'inbox_sync_stats')`);
  for (const t of triggers) {
    await run.run(`drop the seed's trigger ${t.name} on ${t.table} (${t.fn}; Nova queues and counts itself)`, `drop trigger "${t.name}" on "${t.table}"`);
  }
}

/**
 * The seed's backfill state in Nova's terms: a backfill under way becomes run 1 of its
 * configuration, with a window (the seed's was the year before it started) and Nova's checkpoint
 * built from the one the seed kept in backfill_progress (its page token and counts).
 */
async function convertBackfills(run: StepRunner): Promise<void> {
  await run.run('number the backfills the seed ran as run 1', `
    update flux_inbox_configurations set backfill_run = 1
    where backfill_run = 0 and (backfill_started_at is not null or backfill_status <> 'pending')`);
  await run.run('give those backfills their window (the year before they started)', `
    update flux_inbox_configurations
    set backfill_until = coalesce(backfill_until, backfill_started_at, now()),
        backfill_since = coalesce(backfill_since, coalesce(backfill_until, backfill_started_at, now()) - interval '365 days')
    where backfill_run > 0`);
  await run.run("turn the seed's discovery checkpoints into Nova's", `
    with cp as (
      select c.id, coalesce(c.backfill_progress -> 'checkpoint', c.backfill_progress) as p from flux_inbox_configurations c
      where c.backfill_status in ('pending', 'discovering') and c.backfill_checkpoint is null and c.backfill_run > 0
    )
    update flux_inbox_configurations c
    set backfill_checkpoint = jsonb_build_object(
          'pageToken', coalesce(cp.p ->> 'page_token', cp.p ->> 'next_cursor', cp.p ->> 'pageToken'),
          'pages', coalesce((cp.p ->> 'pages_processed')::int, (cp.p ->> 'pages')::int, 0),
          'listed', coalesce((cp.p ->> 'threads_discovered')::int, (cp.p ->> 'listed')::int, 0),
          'queued', (select count(*) from queued_threads q where q.config_id = c.id),
          'skipped', 0,
          'oldestSeen', (select extract(epoch from min(t.latest_message_received_date))::bigint from flux_email_threads t
                         join queued_threads q on q.thread_id = t.nylas_thread_id and q.config_id = c.id))
    from cp where cp.id = c.id and coalesce(cp.p ->> 'page_token', cp.p ->> 'next_cursor', cp.p ->> 'pageToken', cp.p ->> 'pages_processed') is not null`);
  await run.run('record the adopted runs in backfill_history', `
    insert into backfill_history (config_id, run, event, detail, actor)
    select id, backfill_run, 'started', jsonb_build_object('adopted', true, 'status', backfill_status), 'nova migrate'
    from flux_inbox_configurations where backfill_run > 0 and backfill_status in ('pending', 'discovering', 'thread_sync')`);
  await run.run('counters rows for backfills under way that had none', `
    insert into inbox_sync_stats (config_id, inbox_id, backfill_status, threads_queued)
    select c.id, c.inbox_id, c.backfill_status, count(q.id) from flux_inbox_configurations c
    join queued_threads q on q.config_id = c.id
    where c.backfill_status in ('discovering', 'thread_sync')
    group by c.id on conflict (config_id) do nothing`);
}

/** Jobs for what the seed left half done; dedup keys make it idempotent with the PGMQ import. */
async function resumeWork(tx: Queryable): Promise<Record<string, number>> {
  const [discovery] = await tx.query<{ n: number }>(`
    select count(nova_enqueue('inbox_backfill_jobs', jsonb_build_object('configId', id, 'run', backfill_run),
                              id || ':run:' || backfill_run, id::text))::int as n
    from flux_inbox_configurations where backfill_run > 0 and backfill_status in ('pending', 'discovering')`);
  const [threads] = await tx.query<{ n: number }>(`
    select count(nova_enqueue('thread_sync_jobs', jsonb_build_object('configId', q.config_id, 'threadId', q.thread_id),
                              q.config_id || ':' || q.thread_id, q.config_id::text))::int as n
    from queued_threads q join flux_inbox_configurations c on c.id = q.config_id
    where q.status in ('queued', 'processing') and c.backfill_status in ('discovering', 'thread_sync')`);
  // A row the seed was processing when it stopped is pending again; its attempts are kept.
  await tx.query(`update flux_webhook_notifications set status = 'pending' where status = 'processing'`);
  const [webhooks] = await tx.query<{ n: number }>(`
    select count(nova_enqueue('nylas_webhook_notifications', jsonb_build_object('notificationId', id), 'notification:' || id))::int as n
    from flux_webhook_notifications where status = 'pending' and payload is not null`);
  return { inbox_backfill_jobs: discovery!.n, thread_sync_jobs: threads!.n, nylas_webhook_notifications: webhooks!.n };
}

/** The report as `nova migrate` prints it. */
export function formatReport(r: AdoptionReport, plan: boolean): string {
  const lines = [plan ? 'Plan: adopting the seed email service database (nothing changed)' : 'Adopting the seed email service database'];
  if (r.refusals.length) {
    lines.push('', 'Cannot adopt it as it is; nothing was changed:', ...r.refusals.map((x) => `  ✗ ${x}`));
    lines.push('', 'Fix these in the database (or tell us about the case), then run `nova migrate --plan` again.');
    return lines.join('\n');
  }
  lines.push('', 'Schema:', ...r.steps.map((s) => `  • ${s}`));
  lines.push('', `Migrations ${plan ? 'to apply' : 'applied'}: ${r.migrations.join(', ') || 'none'} (0003, 0004 recorded as adopted)`);
  lines.push('', 'Work resumed:', ...Object.entries(r.queued).map(([q, n]) => `  • ${q}: ${n} job(s)`));
  const moved = Object.entries(r.imported);
  if (moved.length) lines.push('', 'Moved from PGMQ:', ...moved.map(([q, n]) => `  • ${q}: ${n} message(s)`));
  return lines.join('\n');
}
