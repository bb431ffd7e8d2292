import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * One module owns each table (STYLE.md, habit 3): a domain's SQL — the string and template
 * literals of every .ts file in its folders, and its migrations — may write (insert, update,
 * delete, merge, truncate, alter) only the tables it owns, and may read another domain's tables
 * only where an exception below says why. Code outside the domains (cli, http, emulators) writes
 * no table at all.
 *
 * The ownership lists live here until each domain declares its own (`owns`, issue 10). A new
 * table must be given an owner below, and a new migration a domain, or this test fails.
 */

interface Owner {
  /** Folders under the repository whose .ts files (tests excepted) are this domain's code. */
  dirs: string[];
  migrations: string[];
  owns: string[];
}

const OWNERS: Record<string, Owner> = {
  email: {
    dirs: ['src/email'],
    migrations: ['0003_email.sql', '0004_backfill.sql', '0009_email_compat.sql'],
    owns: [
      'flux_inboxes', 'flux_inbox_configurations', 'flux_email_threads', 'flux_email_messages', 'flux_webhook_notifications',
      'queued_threads', 'inbox_sync_stats', 'backfill_history',
    ],
  },
  extraction: {
    dirs: ['src/extraction'],
    migrations: ['0005_extraction.sql'],
    owns: ['email_extractions'],
  },
  // The queue, the runtime and storage are one engine under every domain.
  engine: {
    dirs: ['src/queue', 'src/runtime', 'src/storage'],
    migrations: ['0001_queue.sql', '0002_pgmq_compat.sql', '0006_ops.sql', '0007_engine.sql', '0008_job_search.sql', '0011_schedules.sql', '0019_attempts.sql', '0020_checkpoints.sql'],
    owns: [
      'nova_jobs', 'nova_job_results', 'nova_job_attempts', 'nova_job_groups', 'nova_queues', 'nova_queue_minutes', 'nova_leases',
      'nova_rate_buckets', 'nova_workers', 'nova_migrations', 'nova_queue_depth', 'nova_schedules',
    ],
  },
  deals: {
    dirs: ['src/deals'],
    migrations: ['0012_deals.sql', '0015_deals_sources.sql'],
    owns: ['deals', 'workstreams', 'documents', 'communications', 'briefs', 'source_connections'],
  },
  workflows: {
    dirs: ['src/workflows'],
    migrations: ['0010_workflows.sql', '0013_approvals.sql', '0016_workflow_events.sql', '0017_agents.sql', '0033_run_patch_count.sql'],
    owns: ['workflows', 'workflow_tags', 'runs', 'run_steps', 'run_patches', 'approvals', 'approval_decisions', 'workflow_events', 'workflow_run_counts', 'workflow_tag_moves'],
  },
  // Seed 002's tables live in schema `notify`, named schema-qualified everywhere. Its category and
  // priority tables are created for fidelity (foreign keys point at them) but Nova writes neither.
  notify: {
    dirs: ['src/notify'],
    migrations: ['0014_notify.sql', '0030_notify_action_template.sql', '0031_digest_event_time.sql', '0032_subscriber_lookup.sql'],
    owns: [
      'notify.ent_notification_template',
      'notify.ent_notification_workflow', 'notify.ent_notification_rule', 'notify.ent_notification', 'notify.ent_subscriber',
      'notify.ent_subscriber_preference', 'notify.ent_notification_delivery', 'notify.ent_inbox_message', 'notify.ent_digest_event',
      'notify.ent_digest', 'notify.poll_cursor',
    ],
  },
  // Surfaces reach data through the domains and the engine: they own nothing and write nothing.
  surfaces: { dirs: ['src/cli', 'src/http', 'src/emulators'], migrations: [], owns: [] },
};

/** Reads of another domain's tables that are allowed, each with its reason. */
const READ_EXCEPTIONS: { domain: string; table: string; why: string }[] = [
  { domain: 'extraction', table: 'flux_email_messages', why: 'extraction reads the messages it extracts (store.ts); it writes only email_extractions' },
];

/** Writes to another domain's tables that are allowed, each confined to one file, with its reason. */
const WRITE_EXCEPTIONS: { domain: string; table: string; file: string; why: string }[] = [
  {
    domain: 'email', table: 'nova_jobs', file: 'migrations/0009_email_compat.sql',
    why: "the seed's SQL functions queue a job in the statement that records its row, as the seed did with PGMQ; they insert as flux_pgmq_send does",
  },
  {
    domain: 'email', table: 'nova_queues', file: 'migrations/0009_email_compat.sql',
    why: "the seed's three queues exist right after `nova migrate` (flux_pgmq_list_queues lists them)",
  },
];

/**
 * Files whose SQL names its tables at run time (`${table}` in a template, seen here as `_`),
 * each with its reason; anywhere else a table must be named in the text.
 */
const DYNAMIC_SQL: { file: string; why: string }[] = [
  { file: 'src/storage/reconcile.ts', why: 'adoption alters whatever tables of a seed database differ from the migrations (nova migrate)' },
];

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TABLES = new Map(Object.entries(OWNERS).flatMap(([domain, o]) => o.owns.map((t) => [t, domain] as const)));

interface Access {
  kind: 'write' | 'read';
  table: string;
}

/**
 * The tables a piece of SQL writes and reads, by a small tokenizer: comments and quoted strings
 * are dropped, then `insert into X`, `update X`, `delete from X`, `merge into X`, `truncate X`,
 * `alter table X` are writes, `from X` and `join X` reads. `for update` (a row lock) and
 * `on conflict … do update` are not writes of a table; names not in a FROM position are ignored.
 */
function accesses(sql: string): Access[] {
  const text = sql
    .toLowerCase()
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/'(?:[^']|'')*'/g, "''");
  const tokens = text.match(/"[^"]*"|[a-z_][a-z0-9_$]*(?:\.[a-z_][a-z0-9_$]*)?|\S/g) ?? [];
  const name = (i: number) => (tokens[i] ?? '').replace(/"/g, '').replace(/^public\./, '');
  const found: Access[] = [];
  // Only an identifier (optionally schema-qualified) can be a table: prose such as 'give an update' names none.
  const push = (kind: Access['kind'], table: string) => {
    if (/^(?:notify\.)?[a-z_][a-z0-9_$]*$/.test(table)) found.push({ kind, table });
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const prev = tokens[i - 1];
    const next = tokens[i + 1];
    if ((t === 'insert' || t === 'merge') && next === 'into') push('write', name(i + 2));
    // `for update` and `do update` lock or upsert; `or update on …`/`update of …` name trigger events.
    else if (t === 'update' && prev !== 'for' && prev !== 'do' && prev !== 'key' && prev !== 'on' && next !== 'set' && next !== 'on' && next !== 'of') {
      push('write', name(i + 1));
    } else if (t === 'delete' && next === 'from') push('write', name(i + 2));
    else if (t === 'truncate') {
      let j = i + 1;
      if (tokens[j] === 'table') j++;
      if (tokens[j] === 'only') j++;
      push('write', name(j));
      while (tokens[j + 1] === ',') (j += 2), push('write', name(j));
    } else if (t === 'alter' && next === 'table') {
      let j = i + 2;
      if (tokens[j] === 'if' && tokens[j + 1] === 'exists') j += 2;
      if (tokens[j] === 'only') j++;
      push('write', name(j));
    } else if ((t === 'from' && prev !== 'delete') || t === 'join') {
      let j = i + 1;
      if (tokens[j] === 'only') j++;
      // A function call (jsonb_array_elements(...)) or a subquery is not a table.
      if (tokens[j + 1] !== '(' && tokens[j] !== '(') push('read', name(j));
    }
  }
  return found;
}

/** What `domain` may not do in `sql` (found in `where`), as readable lines. */
function violations(domain: string, sql: string, where: string): string[] {
  const owner = OWNERS[domain]!;
  const out: string[] = [];
  for (const a of accesses(sql)) {
    if (a.table === '_' && DYNAMIC_SQL.some((d) => d.file === where)) continue;
    const tableOwner = TABLES.get(a.table);
    const excepted = WRITE_EXCEPTIONS.some((e) => e.domain === domain && e.table === a.table && e.file === where);
    if (excepted) continue;
    if (a.kind === 'write') {
      if (!owner.owns.includes(a.table)) {
        out.push(`${where}: ${domain} writes ${a.table}, owned by ${tableOwner ?? 'no domain (declare its owner in OWNERS)'}`);
      }
    } else if (tableOwner !== undefined && tableOwner !== domain) {
      if (!READ_EXCEPTIONS.some((e) => e.domain === domain && e.table === a.table)) {
        out.push(`${where}: ${domain} reads ${a.table} of ${tableOwner} without a listed exception`);
      }
    }
  }
  return out;
}

/** The text of every string and template literal in a TypeScript file (`${…}` left as a blank). */
function literals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
    else if (ts.isTemplateExpression(node)) out.push([node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' _ '));
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('table ownership', () => {
  it('gives every migration to a domain', () => {
    const declared = Object.values(OWNERS).flatMap((o) => o.migrations);
    const present = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.sql'));
    expect(present.filter((f) => !declared.includes(f)), 'migrations with no owner in OWNERS').toEqual([]);
  });

  /** Every domain's SQL texts, with where each was found. */
  const sources = Object.entries(OWNERS).flatMap(([domain, owner]) => [
    ...owner.dirs.flatMap((dir) => tsFiles(join(ROOT, dir)).flatMap((file) =>
      literals(file).map((text) => ({ domain, text, where: relative(ROOT, file) })))),
    ...owner.migrations.map((m) => ({ domain, text: readFileSync(join(ROOT, 'migrations', m), 'utf8'), where: `migrations/${m}` })),
  ]);

  it("lets each domain's code and migrations write only its own tables, and read others' only by exception", () => {
    expect(sources.flatMap((s) => violations(s.domain, s.text, s.where))).toEqual([]);
  });

  it('finds each owned table written by its owner, and each listed exception in use', () => {
    // Guards the scan itself: a tokenizer that found nothing would pass the test above.
    const written = new Set(sources.flatMap((s) => accesses(s.text).filter((a) => a.kind === 'write').map((a) => `${s.domain}:${a.table}`)));
    const owned = Object.entries(OWNERS).flatMap(([domain, o]) => o.owns.map((t) => `${domain}:${t}`));
    expect(owned.filter((t) => !written.has(t)), 'owned tables their owner never writes').toEqual([]);
    const read = new Set(sources.flatMap((s) => accesses(s.text).filter((a) => a.kind === 'read').map((a) => `${s.domain}:${a.table}`)));
    expect(READ_EXCEPTIONS.filter((e) => !read.has(`${e.domain}:${e.table}`)), 'exceptions no longer needed').toEqual([]);
  });

  it('catches a cross-domain write, an unowned table and an unlisted read in a synthetic snippet', () => {
    const snippet = `
      with m as (select id from flux_email_messages where grant_id = $1)
      update flux_email_messages set subject = 'x' where id in (select id from m)`;
    expect(violations('extraction', snippet, 'synthetic')).toEqual([
      'synthetic: extraction writes flux_email_messages, owned by email',
    ]);
    expect(violations('engine', `insert into nova_jobs (queue) select 'q' from queued_threads`, 'synthetic')).toEqual([
      'synthetic: engine reads queued_threads of email without a listed exception',
    ]);
    expect(violations('email', 'truncate table scratch_pad', 'synthetic')).toEqual([
      'synthetic: email writes scratch_pad, owned by no domain (declare its owner in OWNERS)',
    ]);
  });

  it('reads a row lock, an upsert and an FK action as no write, and a function call as no table', () => {
    expect(accesses(`
      insert into nova_leases as l (name) values ($1) on conflict (name) do update set holder = excluded.holder;
      select 1 from nova_jobs where id = $1 for update skip locked;
      select x from jsonb_array_elements($1::jsonb) x join nova_queues q on q.name = x->>'q';
      alter table only flux_inboxes add column a int references flux_inbox_configurations (id) on update cascade on delete cascade`,
    )).toEqual([
      { kind: 'write', table: 'nova_leases' },
      { kind: 'read', table: 'nova_jobs' },
      { kind: 'read', table: 'nova_queues' },
      { kind: 'write', table: 'flux_inboxes' },
    ]);
  });
});
