#!/usr/bin/env node
import { ConfigError } from '../config.ts';
import { prepareEnv } from '../env.ts';
import { apiCli } from './api-commands.ts';
import { EXIT_CONFIG } from './exit.ts';

// .env, *_FILE secrets and the seeds' variable spellings, before any command reads the config.
try {
  Object.assign(process.env, prepareEnv(process.env).env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(EXIT_CONFIG);
}

// A command that only talks to the API server loads its own module (for `nova help <command>`
// too); the rest load every domain.
const [first, second] = process.argv.slice(2);
const client = await apiCli(first === 'help' ? second : first);
if (client) {
  await client.parseAsync(process.argv);
} else {
  const [{ domains }, { buildCli }] = await Promise.all([import('../domains.ts'), import('./commands.ts')]);
  await buildCli(domains).parseAsync(process.argv);
}
