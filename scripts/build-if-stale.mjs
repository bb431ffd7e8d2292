// Builds only when dist/ is older than its sources (`npm start` runs it through scripts/start.mjs).
// A full build takes about 17 s on a small machine; a second `npm start` on an unchanged tree
// should not pay it. Sources: src/, web/, migrations/, package.json, package-lock.json and the
// tsconfig files; outputs: the CLI entry and the dashboard's index.html (rewritten by every build).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCES = ['src', 'web', 'migrations', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
const OUTPUTS = ['dist/cli/main.js', 'dist/web/index.html'];

/** Newest modification time under `path` (a file or a folder, recursively); 0 when missing. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const child = join(path, entry.name);
    // A plain file's time is its own; only folders need a stat of their own.
    max = Math.max(max, entry.isDirectory() ? newest(child) : statSync(child).mtimeMs);
  }
  return max;
}

function oldestOutput() {
  let min = Infinity;
  for (const file of OUTPUTS) {
    try {
      min = Math.min(min, statSync(join(ROOT, file)).mtimeMs);
    } catch {
      return 0; // missing: build
    }
  }
  return min;
}

/** Builds when dist/ is stale (or NOVA_FORCE_BUILD=true); returns the build's exit status, 0 when skipped. */
export function buildIfStale() {
  const source = Math.max(...SOURCES.map((s) => newest(join(ROOT, s))));
  if (process.env.NOVA_FORCE_BUILD !== 'true' && oldestOutput() > source) {
    console.log('dist/ is up to date; skipping the build (NOVA_FORCE_BUILD=true forces it)');
    return 0;
  }
  return spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit', cwd: ROOT }).status ?? 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = buildIfStale();
