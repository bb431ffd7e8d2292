import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stopOnSignal } from '../src/cli/shutdown.ts';
import { createLogger } from '../src/log.ts';
import { migratedDataDir } from './helpers/db.ts';
import { spawnNova, type NovaProcess } from './helpers/process.ts';
import { freePort } from './helpers/runtime.ts';

/**
 * Stopping: a process with open WebSocket clients and idle keep-alive connections stops at once
 * (the clients are told the server is going away), and a stop that hangs is cut at the deadline.
 */

const CLIENTS = 50;

describe('nova start stops within its deadline', () => {
  let nova: NovaProcess | undefined;
  let dir: string | undefined;
  afterEach(() => {
    if (nova?.child.exitCode === null) nova.child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`closes ${CLIENTS} WebSocket clients with 1001 and ${CLIENTS} keep-alive sockets, and exits 0 within a second`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'nova-stop-'));
    const port = await freePort();
    nova = spawnNova(['start', 'api'], {
      NOVA_DATA_DIR: migratedDataDir(join(dir, 'db')), PORT: String(port), API_HOST: '127.0.0.1', NOVA_DEMO: 'false', SHUTDOWN_TIMEOUT_MS: '20000',
      NODE_ENV: 'development',
    }, 'src/cli/main.ts');
    await nova.waitFor(/Nova started/, 60_000);
    const base = `http://127.0.0.1:${port}`;

    const closes: Promise<number>[] = [];
    await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      closes.push(new Promise((r) => ws.on('close', (code) => r(code))));
      ws.on('open', () => {
        ws.send(JSON.stringify({ type: 'subscribe', topics: ['queue:*'] }));
        resolve();
      });
      ws.on('error', reject);
    })));

    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    const socketClosed: Promise<void>[] = [];
    await Promise.all(Array.from({ length: CLIENTS }, () => new Promise<void>((resolve, reject) => {
      const req = request(`${base}/api/workers`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('socket', (s) => socketClosed.push(new Promise((r) => s.once('close', () => r()))));
      req.on('error', reject);
      req.end();
    })));
    // Every request had its own socket, and all of them are idle and open now.
    expect(socketClosed).toHaveLength(CLIENTS);
    expect(Object.values(agent.freeSockets).flat()).toHaveLength(CLIENTS);

    const started = Date.now();
    nova.child.kill('SIGTERM');
    expect(await nova.exited).toBe(0);
    const tookMs = Date.now() - started;
    expect(new Set(await Promise.all(closes))).toEqual(new Set([1001]));
    await Promise.all(socketClosed);
    agent.destroy();
    expect(nova.output()).toMatch(/press Ctrl-C again/);
    expect(tookMs).toBeLessThan(1500);
    console.log(`stop with ${CLIENTS} WebSocket + ${CLIENTS} keep-alive clients: ${tookMs} ms`);
  }, 90_000);
});

describe('the stop signal handler', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', format: 'json', write: (line) => lines.push(line) });

  it('names what it waits for, and exits 1 at the deadline when the stop hangs', async () => {
    lines.length = 0;
    const exits: number[] = [];
    const handler = stopOnSignal(
      { log, stop: () => new Promise(() => {}), awaiting: () => ['1 running job on emails'] },
      { deadlineMs: 200, marginMs: 50, exit: (code) => exits.push(code) },
    );
    const started = Date.now();
    handler('SIGINT');
    expect(lines.join('\n')).toMatch(/stopping within 0\.2 s; waiting for 1 running job on emails; press Ctrl-C again/);
    await new Promise((r) => setTimeout(r, 400));
    expect(exits).toEqual([1]);
    expect(lines.join('\n')).toMatch(/did not stop within SHUTDOWN_TIMEOUT_MS \(0\.2 s\) while waiting for 1 running job on emails/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('exits at once on a second signal', () => {
    const exits: number[] = [];
    const handler = stopOnSignal(
      { log, stop: () => new Promise(() => {}), awaiting: () => [] },
      { deadlineMs: 60_000, exit: (code) => exits.push(code) },
    );
    handler('SIGINT');
    expect(exits).toEqual([]);
    handler('SIGINT');
    expect(exits).toEqual([1]);
  });

  it('exits 0 once the stop finishes', async () => {
    const exits: number[] = [];
    const handler = stopOnSignal({ log, stop: async () => {}, awaiting: () => [] }, { deadlineMs: 60_000, exit: (code) => exits.push(code) });
    handler('SIGTERM');
    await new Promise((r) => setTimeout(r, 10));
    expect(exits).toEqual([0]);
  });
});
