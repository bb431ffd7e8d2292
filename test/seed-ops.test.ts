import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNovaConfig as loadConfig } from '../src/domains.ts';
import { domains } from '../src/domains.ts';
import { ensureInbox } from '../src/email/store.ts';
import { createLogger } from '../src/log.ts';
import { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { until } from './helpers/runtime.ts';

/** Seed 001's operating habits: health on the API port, the monitor's progress line. */
describe.each(backends)('seed operating habits on $name', (backend) => {
  let db: TestDb;
  const running: Runtime[] = [];
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(async () => {
    await Promise.all(running.map((r) => r.stop()));
    await db.drop();
  });
  const start = async (env: Record<string, string>, lines: string[] = []) => {
    const config = loadConfig({ WORKER_HEALTH_PORT: '0', PORT: '0', API_HOST: '127.0.0.1', ...db.env, ...env });
    const logger = createLogger({ level: 'info', format: 'pretty', write: (l) => lines.push(l) });
    const runtime = new Runtime({ config, domains, logger, health: false, ...(config.DATABASE_URL ? {} : { sql: db.sql }) });
    await runtime.start();
    running.push(runtime);
    return runtime;
  };

  it('answers /health and /api/health on the API port with JSON, not the dashboard', async () => {
    const runtime = await start({ WORKER_TYPE: 'api', NYLAS_API_KEY: 'nyk_x', NOVA_DEMO: 'false' });
    const base = `http://127.0.0.1:${runtime.apiPort}`;
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/application\/json/);
    expect(await health.json()).toEqual({ status: 'ok', database: 'up' });
    const api = await fetch(`${base}/api/health`);
    expect(api.status).toBe(200);
    expect(await api.json()).toMatchObject({
      status: 'ok', database: { status: 'up', kind: db.sql.kind },
      providers: { nylas: { configured: true, webhookSecret: false, apiUri: 'https://api.us.nylas.com' }, llm: { provider: 'builtin' } },
    });
  });

  it('logs "[Monitor] Config <id> Progress: 50% (2/4)" while a backfill runs', async () => {
    const inbox = await ensureInbox(db.sql, 'grant-monitor', null, null);
    await db.sql.query('select queue_inbox_backfill($1)', [inbox.id]);
    const [{ id }] = await db.sql.query<{ id: string }>('select id from flux_inbox_configurations where inbox_id = $1', [inbox.id]) as [{ id: string }];
    for (const t of ['a', 'b', 'c', 'd']) await db.sql.query(`select insert_queued_thread_idempotent($1, 'grant-monitor', $2)`, [id, t]);
    await db.sql.query(`update flux_inbox_configurations set backfill_status = 'thread_sync' where id = $1`, [id]);
    await db.sql.query(`update queued_threads set status = 'completed' where config_id = $1 and thread_id in ('a', 'b')`, [id]);
    const lines: string[] = [];
    await start({ WORKER_TYPE: 'completion', COMPLETION_CHECK_INTERVAL_MS: '100' }, lines);
    await until(() => lines.some((l) => l.startsWith(`[Monitor] Config ${id} Progress: 50% (2/4)`)), 10_000, 'monitor line');
  });
});
