import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from './config.ts';

/**
 * The environment as the CLI hands it to loadConfig, after what deployments of the seeds do
 * before Nova sees a variable:
 * - `.env` in the working directory (or NOVA_ENV_FILE) is read; a variable set in the
 *   environment wins over the file, as `cp .env.example .env` set-ups expect;
 * - `<NAME>_FILE` (Docker and Kubernetes secrets) supplies a secret from a file's content;
 * - the seeds' spellings that map cleanly: DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_NAME build
 *   DATABASE_URL, REDIS_HOST/REDIS_PORT/REDIS_PASSWORD build REDIS_URL;
 * - SUPABASE_URL without DATABASE_URL stops with a message: Nova talks to PostgreSQL itself.
 * Pure except for reading files; the entry point assigns the result to process.env.
 */

/** Variables that may come from `<NAME>_FILE`. A list, not any `*_FILE`: NOVA_PID_FILE is a path. */
export const SECRET_VARIABLES = [
  'DATABASE_URL', 'DB_PASSWORD', 'REDIS_URL', 'REDIS_PASSWORD', 'NYLAS_API_KEY', 'NYLAS_WEBHOOK_SECRET',
  'NOVA_API_TOKEN', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'SUPABASE_SERVICE_KEY',
] as const;

export const SUPABASE_MESSAGE =
  'SUPABASE_URL is set but DATABASE_URL is not. Nova connects to PostgreSQL directly, not through the ' +
  "Supabase API: set DATABASE_URL to your project's Postgres connection string (Supabase dashboard → " +
  'Project Settings → Database → Connection string, "URI"; use the session pooler or direct connection, ' +
  'port 5432, as Nova relies on LISTEN/NOTIFY). SUPABASE_SERVICE_KEY is not needed.';

export interface PreparedEnv {
  env: NodeJS.ProcessEnv;
  /** Where values came from, for one startup line (never the values). */
  notes: string[];
}

const set = (v: string | undefined): v is string => v !== undefined && v !== '';

/**
 * Applies .env, `_FILE` secrets and the seed aliases to a copy of `env`. Throws a ConfigError
 * (exit 78 in the CLI) naming each variable that cannot be used.
 */
export function prepareEnv(env: NodeJS.ProcessEnv, cwd = process.cwd()): PreparedEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  const notes: string[] = [];
  const problems: { variable: string; message: string }[] = [];

  const file = resolve(cwd, env.NOVA_ENV_FILE ?? '.env');
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (set(env.NOVA_ENV_FILE)) problems.push({ variable: 'NOVA_ENV_FILE', message: `cannot read ${file}: ${(err as Error).message}` });
  }
  if (text !== undefined) {
    const parsed = parseEnv(text) as Record<string, string>;
    const taken = Object.keys(parsed).filter((k) => !set(out[k]));
    for (const k of taken) out[k] = parsed[k];
    notes.push(`read ${taken.length} variable(s) from ${file}`);
  }

  for (const name of SECRET_VARIABLES) {
    const path = out[`${name}_FILE`];
    if (!set(path) || set(out[name])) continue;
    try {
      // Secret files usually end with a newline that is not part of the secret.
      out[name] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      notes.push(`${name} from ${name}_FILE`);
    } catch (err) {
      problems.push({ variable: `${name}_FILE`, message: `cannot read ${path}: ${(err as Error).message}` });
    }
  }

  if (!set(out.DATABASE_URL) && set(out.DB_HOST)) {
    const user = encodeURIComponent(out.DB_USER ?? 'postgres');
    const password = set(out.DB_PASSWORD) ? `:${encodeURIComponent(out.DB_PASSWORD)}` : '';
    const port = set(out.DB_PORT) ? `:${out.DB_PORT}` : '';
    out.DATABASE_URL = `postgres://${user}${password}@${out.DB_HOST}${port}/${encodeURIComponent(out.DB_NAME ?? 'postgres')}`;
    notes.push('DATABASE_URL built from DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME');
  }
  if (!set(out.REDIS_URL) && set(out.REDIS_HOST)) {
    const password = set(out.REDIS_PASSWORD) ? `:${encodeURIComponent(out.REDIS_PASSWORD)}@` : '';
    out.REDIS_URL = `redis://${password}${out.REDIS_HOST}:${set(out.REDIS_PORT) ? out.REDIS_PORT : '6379'}`;
    notes.push('REDIS_URL built from REDIS_HOST, REDIS_PORT');
  }

  if (set(out.SUPABASE_URL) && !set(out.DATABASE_URL)) problems.push({ variable: 'SUPABASE_URL', message: SUPABASE_MESSAGE });
  if (problems.length) throw new ConfigError(problems);
  return { env: out, notes };
}
