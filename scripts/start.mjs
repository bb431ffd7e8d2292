// `npm start [roles...]`: builds dist/ when it is stale, then runs `nova start` in this same
// process (one Node start-up, not one for the check and one for Nova).
import { fileURLToPath } from 'node:url';
import { buildIfStale } from './build-if-stale.mjs';

const status = buildIfStale();
if (status !== 0) process.exit(status);
const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
// As if run as `node dist/cli/main.js <arguments>`: the CLI reads process.argv.
process.argv = [process.argv[0], main, ...process.argv.slice(2)];
await import(main);
