/**
 * Start-up time, from spawn to the first 200 of /health.
 *
 * Default: the built CLI as the image runs it, `node dist/cli/main.js start <roles>` with the
 * image's environment, each run on a fresh embedded database (migrations included), as
 * `docker run nova` does with no configuration. Also the size of what the image adds to its base
 * (dist + production node_modules), when --app points at such a layout.
 *
 *   npm run build && DATABASE_URL=postgres://... tsx bench/startup.ts [--app <dir>] [--runs 5] [roles...]
 *
 * --npm: a second `npm start` on an unchanged tree, as the README's newcomer runs it: `npm start`
 * (its build check included) with the default roles and the demo, on one embedded data
 * directory that a first, unmeasured start created. --compare <dir> runs another checkout (a
 * copy of the tree before a change) in the same rounds, interleaved, so both see the same load;
 * medians are printed for each.
 *
 *   tsx bench/startup.ts --npm --runs 7 [--compare /tmp/nova-before]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    app: { type: 'string', default: process.cwd() },
    runs: { type: 'string', default: '5' },
    npm: { type: 'boolean', default: false },
    compare: { type: 'string' },
  },
  allowPositionals: true,
});
const roles = positionals.length ? positionals : values.npm ? [] : ['webhooks'];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function bytes(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + bytes(join(path, name)), 0);
}

/**
 * CPU time (user + system, ms) used so far by a process group: its live members' own, plus what
 * their finished children used (npm's build check). Linux only (/proc); null elsewhere. On a
 * shared machine this moves far less with the load than the wall time does.
 */
function groupCpuMs(group: number): number | null {
  if (!existsSync('/proc/self/stat')) return null;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      // Fields after the command name (which may hold spaces): state is field 3, pgrp 5, utime 14 ... cstime 17.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== group) continue;
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // gone meanwhile
    }
  }
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

interface Sample {
  wallMs: number;
  cpuMs: number | null;
}

/** One start of `app` on `dataDir` (a fresh one when undefined): spawn to /health 200, wall and CPU. */
async function once(app: string, dataDir?: string): Promise<Sample> {
  const port = await freePort();
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'nova-startup-'));
  const started = performance.now();
  const [command, args] = values.npm ? ['npm', ['start', '--silent', ...(roles.length ? ['--', ...roles] : [])]] : [process.execPath, ['dist/cli/main.js', 'start', ...roles]];
  const child = spawn(command, args, {
    cwd: app,
    // Its own process group: npm runs Nova through a shell, and the whole group is stopped.
    detached: true,
    env: {
      PATH: process.env.PATH, NOVA_LOG_FORMAT: 'json', NOVA_DATA_DIR: dir, NOVA_ENV_FILE: '/dev/null',
      WORKER_HEALTH_PORT: String(port), NOVA_HEALTH_HOST: '127.0.0.1', PORT: String(await freePort()),
      // The image's environment; `npm start` is the newcomer's, demo included.
      ...(!values.npm && { NODE_ENV: 'production', NOVA_DEMO: 'false' }),
      ...(process.env.DATABASE_URL && { DATABASE_URL: process.env.DATABASE_URL }),
    },
    stdio: 'ignore',
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nova exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) return { wallMs: performance.now() - started, cpuMs: groupCpuMs(child.pid!) };
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await exited;
    // npm may exit before Nova has released the data directory: wait for the group to be gone.
    for (let i = 0; i < 1000; i++) {
      try {
        process.kill(-child.pid!, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!dataDir) rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (t: number) => `${Math.round(t)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (samples: Sample[]) => {
  const wall = samples.map((x) => x.wallMs).sort((a, b) => a - b);
  const cpu = samples.map((x) => x.cpuMs).filter((x): x is number => x !== null);
  return `wall min ${ms(wall[0]!)}, median ${ms(median(wall))}, max ${ms(wall.at(-1)!)}` +
    `${cpu.length ? `; CPU median ${ms(median(cpu))}` : ''} (${samples.length} runs)`;
};

const apps = [values.app!, ...(values.compare ? [values.compare] : [])];
const where = process.env.DATABASE_URL ? 'PostgreSQL' : values.npm ? 'an embedded database started once before' : 'a fresh embedded database';
const dirs = new Map(apps.map((app) => [app, values.npm && !process.env.DATABASE_URL ? mkdtempSync(join(tmpdir(), 'nova-startup-')) : undefined]));
try {
  // The first start of each (migrations, demo data) is not measured in --npm mode.
  if (values.npm) for (const app of apps) await once(app, dirs.get(app));
  const samples = new Map(apps.map((app) => [app, [] as Sample[]]));
  for (let i = 0; i < Number(values.runs); i++) {
    // Interleaved, the order alternating: both see the same load.
    const order = i % 2 ? [...apps].reverse() : apps;
    for (const app of order) samples.get(app)!.push(await once(app, dirs.get(app)));
  }
  const what = values.npm ? `second \`npm start\`${roles.length ? ` ${roles.join(',')}` : ''}` : `start ${roles.join(',')}`;
  for (const app of apps) console.log(`${what} on ${where} (${app}): spawn -> /health 200: ${summary(samples.get(app)!)}`);
} finally {
  for (const dir of dirs.values()) if (dir) rmSync(dir, { recursive: true, force: true });
}
if (!values.npm) {
  const size = (dir: string) => `${(bytes(join(values.app!, dir)) / 1e6).toFixed(1)} MB`;
  console.log(`image content beside the base: dist ${size('dist')}, node_modules ${size('node_modules')}, migrations ${size('migrations')}`);
}
