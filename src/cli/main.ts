#!/usr/bin/env node
import { ConfigError } from '../config.ts';
import { domains } from '../domains.ts';
import { prepareEnv } from '../env.ts';
import { buildCli, EXIT_CONFIG } from './commands.ts';

// .env, *_FILE secrets and the seeds' variable spellings, before any command reads the config.
try {
  Object.assign(process.env, prepareEnv(process.env).env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(EXIT_CONFIG);
}

await buildCli(domains).parseAsync(process.argv);
