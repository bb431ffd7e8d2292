// `npm start`'s prestart: builds only when dist/ is older than its sources. A full build takes
// about 17 s on a small machine; a second `npm start` on an unchanged tree should not pay it.
// Sources: src/, web/, migrations/, package.json, package-lock.json and the tsconfig files;
// outputs: the CLI entry and the dashboard's index.html (both rewritten by every build).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

function oldestOutput() {
  let min = Infinity;
  for (const file of OUTPUTS) {
    try {
      min = Math.min(min, statSync(file).mtimeMs);
    } catch {
      return 0; // missing: build
    }
  }
  return min;
}

const source = Math.max(...SOURCES.map(newest));
const built = oldestOutput();
if (process.env.NOVA_FORCE_BUILD !== 'true' && built > source) {
  console.log('dist/ is up to date; skipping the build (NOVA_FORCE_BUILD=true forces it)');
  process.exit(0);
}
const result = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
