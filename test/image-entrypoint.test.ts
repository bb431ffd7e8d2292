import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTRACTION_QUEUE } from '../src/extraction/worker.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { openPglite } from '../src/storage/index.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { readFinalStage } from './helpers/dockerfile.ts';
import { insertMessage } from './helpers/extraction.ts';
import { until } from './helpers/runtime.ts';

/**
 * The image's ENTRYPOINT and CMD, run exactly as the Dockerfile writes them (no docker engine
 * here): the command line and ENV of its last stage, in a directory laid out as the image's
 * WORKDIR (dist/ compiled by tsc, node_modules, package.json, migrations/). An `extraction` job
 * is mid-call to an LLM that never answers when SIGTERM arrives; the process must hand it and the
 * prefetched one back and exit 0 within SHUTDOWN_TIMEOUT_MS.
 */
const root = fileURLToPath(new URL('../', import.meta.url));
const stage = readFinalStage(join(root, 'Dockerfile'));
let app: string;

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'nova-image-'));
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'),
    '--outDir', join(app, 'dist'), '--declaration', 'false', '--sourceMap', 'false'], { stdio: 'pipe' });
  copyFileSync(join(root, 'package.json'), join(app, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'));
  symlinkSync(join(root, 'migrations'), join(app, 'migrations'));
}, 240_000);
afterAll(() => rmSync(app, { recursive: true, force: true }));

describe('the image', () => {
  it('runs node as PID 1 on the built CLI, as a non-root user, with a health check on /health', () => {
    expect(stage.entrypoint).toEqual(['node', 'dist/cli/main.js']);
    expect(stage.cmd).toEqual(['start']);
    expect(stage.workdir).toBe('/app');
    expect(stage.user).toBe('node');
    expect(stage.healthcheck).toMatch(/WORKER_HEALTH_PORT\|\|3001\)\+'\/health'/);
    expect(stage.env).toMatchObject({ NODE_ENV: 'production', NOVA_LOG_FORMAT: 'json' });
    for (const label of ['version', 'revision', 'created', 'source']) {
      expect(stage.labels[`org.opencontainers.image.${label}`], label).toMatch(/^\$\{[A-Z]+\}$/);
    }
  });
});

/** A TCP server that accepts LLM requests and never answers them. */
function silentLlm(): Promise<{ server: Server; url: string; requests: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => { if (/^POST /.test(chunk.toString())) requests++; });
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    resolve({
      server, url: `http://127.0.0.1:${port}/v1`, requests: () => requests,
      close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
    });
  }));
}

describe.each(backends)('the image\'s ENTRYPOINT on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(() => db.drop());

  it('on SIGTERM hands the running and the prefetched job back and exits 0', async () => {
    const llm = await silentLlm();
    let q = new QueueClient(db.sql);
    const ids = [];
    for (const subject of ['running', 'prefetched']) {
      const messageId = await insertMessage(db.sql, { subject });
      ids.push(await q.send(EXTRACTION_QUEUE, { messageId }));
    }
    let sql = db.sql;
    // PGlite belongs to one process: the child opens the data directory after the test lets go.
    if (backend.name === 'pglite') await db.sql.close();

    const [command, ...args] = [...stage.entrypoint, ...stage.cmd];
    const child = spawn(command!, args, {
      cwd: app,
      env: {
        PATH: process.env.PATH ?? '',
        ...stage.env,
        // What a deployment sets (docker run -e / compose environment / a ConfigMap):
        ...db.env,
        WORKER_TYPE: 'extraction', EXTRACTION_CONCURRENCY: '1', SHUTDOWN_TIMEOUT_MS: '1500',
        WORKER_HEALTH_PORT: '0', NOVA_HEALTH_HOST: '127.0.0.1',
        LLM_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: llm.url, LLM_TIMEOUT_MS: '600000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    try {
      await until(() => llm.requests() === 1, 30_000, `the first job's LLM call; output:\n${out}`);
      const signalled = Date.now();
      child.kill('SIGTERM');
      expect(await exited, out).toBe(0);
      // The grace (1.5 s) ran out with the call still open: the process did not wait for it.
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(llm.requests()).toBe(1);
    } finally {
      child.kill('SIGKILL');
      await llm.close();
    }
    const logs = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg?: string; message?: string });
    expect(logs.some((l) => /received SIGTERM/.test(l.msg ?? l.message ?? ''))).toBe(true);

    if (backend.name === 'pglite') {
      sql = await openPglite(db.env.NOVA_DATA_DIR!);
      db.sql = sql;
      q = new QueueClient(sql);
    }
    for (const id of ids) {
      const job = (await q.getJob(id))!;
      expect(job.state, `job ${id}; output:\n${out}`).toBe('queued');
      expect(job.attempts, `job ${id}`).toBe(0);
    }
    const [{ n }] = (await sql.query<{ n: number }>('select count(*)::int as n from email_extractions where status in ($1, $2)', ['failed', 'succeeded'])) as [{ n: number }];
    expect(n).toBe(0);
  });
});
