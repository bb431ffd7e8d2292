import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { prepareEnv, SUPABASE_MESSAGE } from './env.ts';

describe('prepareEnv', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'nova-env-'));

  it('reads .env from the working directory, the environment winning over the file', () => {
    const cwd = dir();
    writeFileSync(join(cwd, '.env'), 'BATCH_SIZE=25\nLOG_LEVEL=debug\n# a comment\nWORKER_TYPE="threads"\nPOLL_INTERVAL_MS=\n');
    const { env } = prepareEnv({ LOG_LEVEL: 'warn', POLL_INTERVAL_MS: '700' }, cwd);
    expect(loadConfig(env)).toMatchObject({ BATCH_SIZE: 25, LOG_LEVEL: 'warn', WORKER_TYPE: 'threads', POLL_INTERVAL_MS: 700 });
  });

  it('takes the file named by NOVA_ENV_FILE, and stops when it cannot be read', () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'prod.env'), 'BATCH_SIZE=7\n');
    expect(prepareEnv({ NOVA_ENV_FILE: 'prod.env' }, cwd).env.BATCH_SIZE).toBe('7');
    expect(() => prepareEnv({ NOVA_ENV_FILE: 'missing.env' }, cwd)).toThrow(/NOVA_ENV_FILE: cannot read/);
  });

  it('works with no .env at all', () => {
    expect(prepareEnv({ BATCH_SIZE: '3' }, dir()).env).toEqual({ BATCH_SIZE: '3' });
  });

  it('reads secrets from <NAME>_FILE without the trailing newline, the variable itself winning', () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'key'), 'nyk_secret\n');
    writeFileSync(join(cwd, 'token'), 'from-file-token-0123456789');
    const { env } = prepareEnv({ NYLAS_API_KEY_FILE: join(cwd, 'key'), NOVA_API_TOKEN: 'from-env-token-0123456789', NOVA_API_TOKEN_FILE: join(cwd, 'token') }, cwd);
    expect(env.NYLAS_API_KEY).toBe('nyk_secret');
    expect(env.NOVA_API_TOKEN).toBe('from-env-token-0123456789');
    expect(() => prepareEnv({ OPENAI_API_KEY_FILE: join(cwd, 'nope') }, cwd)).toThrow(ConfigError);
  });

  it('leaves NOVA_PID_FILE alone: only secrets come from files', () => {
    const { env } = prepareEnv({ NOVA_PID_FILE: '/tmp/nova.pid' }, dir());
    expect(env).toEqual({ NOVA_PID_FILE: '/tmp/nova.pid' });
  });

  it("builds DATABASE_URL and REDIS_URL from the seeds' DB_* and REDIS_* variables", () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'pw'), 'p@ss:w/rd\n');
    const { env } = prepareEnv({ DB_HOST: 'db.internal', DB_PORT: '6543', DB_USER: 'svc', DB_PASSWORD_FILE: join(cwd, 'pw'), DB_NAME: 'mail', REDIS_HOST: 'cache', REDIS_PORT: '6380' }, cwd);
    expect(env.DATABASE_URL).toBe('postgres://svc:p%40ss%3Aw%2Frd@db.internal:6543/mail');
    expect(new URL(env.DATABASE_URL!).password).toBe('p%40ss%3Aw%2Frd');
    expect(env.REDIS_URL).toBe('redis://cache:6380');
    expect(loadConfig(env).DATABASE_URL).toBe(env.DATABASE_URL);
    // An explicit URL wins over the parts.
    expect(prepareEnv({ DATABASE_URL: 'postgres://a@b/c', DB_HOST: 'x' }, cwd).env.DATABASE_URL).toBe('postgres://a@b/c');
  });

  it('refuses SUPABASE_URL without DATABASE_URL with the way out, and accepts it beside one', () => {
    let error: unknown;
    try {
      prepareEnv({ SUPABASE_URL: 'https://abc.supabase.co', SUPABASE_SERVICE_KEY: 'k' }, dir());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([{ variable: 'SUPABASE_URL', message: SUPABASE_MESSAGE }]);
    expect(SUPABASE_MESSAGE).toMatch(/DATABASE_URL to your project's Postgres connection string/);
    expect(prepareEnv({ SUPABASE_URL: 'https://abc.supabase.co', DATABASE_URL: 'postgres://u@h/d' }, dir()).env.DATABASE_URL).toBe('postgres://u@h/d');
  });
});
