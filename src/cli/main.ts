#!/usr/bin/env node
import { domains } from '../domains.ts';
import { buildCli } from './commands.ts';

await buildCli(domains).parseAsync(process.argv);
