import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      WORKER_TYPE: 'all', POLL_INTERVAL_MS: 5000, VISIBILITY_TIMEOUT: 30,
      WORKER_HEALTH_PORT: 3001, LOG_LEVEL: 'info', NOVA_DATA_DIR: './.nova', SHUTDOWN_TIMEOUT_MS: 30_000,
      NOVA_RETAIN_COMPLETED: 100, NOVA_RETAIN_FAILED: 500, NOVA_PUBLISH_EVENTS: true,
    });
    expect(c.DATABASE_URL).toBeUndefined();
    // Unset: each queue's claim size adapts to its backlog and handler speed.
    expect(c.BATCH_SIZE).toBeUndefined();
  });

  it('treats empty variables as unset and coerces numbers and booleans', () => {
    const c = loadConfig({ BATCH_SIZE: '25', DATABASE_URL: '', NOVA_PUBLISH_EVENTS: 'false' });
    expect(c.BATCH_SIZE).toBe(25);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.NOVA_PUBLISH_EVENTS).toBe(false);
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ BATCH_SIZE: 'ten', WORKER_HEALTH_PORT: '70000', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['BATCH_SIZE', 'WORKER_HEALTH_PORT', 'LOG_LEVEL', 'DATABASE_URL']) expect(message).toContain(name);
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('never echoes a secret or a password in its error', () => {
    let message = '';
    try {
      loadConfig({ NOVA_API_TOKEN: 'short-secret', DATABASE_URL: 'mysql://nova:hunter2@db:5432/nova' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('NOVA_API_TOKEN: must be at least 16 characters (got a value of 12 characters, not shown)');
    expect(message).toContain('mysql://nova:***@db:5432/nova');
    expect(message).not.toContain('short-secret');
    expect(message).not.toContain('hunter2');
  });
});
