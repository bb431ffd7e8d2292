import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError } from '../config.ts';
import { GitError, imageTags, type ImageTags } from './docker-tags.ts';

/**
 * `nova docker build|push|run|stop`: seed 002's `docker:*` commands. Tags come from git state
 * (src/cli/docker-tags.ts); `--dry-run` prints the tags and every docker command without running
 * anything, so it works with no docker at all.
 *
 * NOVA_DOCKER_IMAGE and NOVA_DOCKER_REGISTRY are read here rather than in the boot schema of
 * src/config.ts: they belong to this build tool, not to a running Nova, and a bad value must not
 * stop `nova start`.
 */

const IMAGE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const REGISTRY = /^[A-Za-z0-9.-]+(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*\/*$/;

const settingsSchema = z.object({
  NOVA_DOCKER_IMAGE: z.string().regex(IMAGE_NAME, 'must be a lowercase image name such as nova or acme/nova').default('nova'),
  NOVA_DOCKER_REGISTRY: z.string().regex(REGISTRY, 'must be a registry host with an optional path, such as ghcr.io/acme').optional(),
});

export interface DockerSettings {
  image: string;
  registry: string | undefined;
}

/** Image name and registry from the environment, with `-r` taking precedence over the variable. */
export function dockerSettings(env: NodeJS.ProcessEnv, registryFlag?: string): DockerSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  if (registryFlag !== undefined) present.NOVA_DOCKER_REGISTRY = registryFlag;
  const parsed = settingsSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => {
      const variable = String(i.path[0]);
      const name = variable === 'NOVA_DOCKER_REGISTRY' && registryFlag !== undefined ? '--registry' : variable;
      return { variable: name, message: `${i.message} (got "${present[variable]}")` };
    }));
  }
  return { image: parsed.data.NOVA_DOCKER_IMAGE, registry: parsed.data.NOVA_DOCKER_REGISTRY?.replace(/\/+$/, '') };
}

export class DockerError extends Error {
  override name = 'DockerError';
}

export interface BuildOptions { platform?: string; file?: string; context?: string }
export interface PushOptions { platform?: string; file?: string; context?: string }
export interface RunOptions { detach?: boolean; name: string; stopTimeout: number; roles: string[] }
export interface StopOptions { name: string; stopTimeout: number }

/** The docker commands of one `nova docker` invocation, after the checks it needs. */
export interface Plan {
  /** Checks run first (daemon up, buildx present, image built); a failing one stops the plan. */
  checks: Check[];
  commands: string[][];
  notes: string[];
}

interface Check { args: string[]; fail: (stderr: string) => string }

const daemonCheck: Check = {
  args: ['version', '--format', '{{.Server.Version}}'],
  fail: (stderr) =>
    `the Docker daemon is not reachable (${firstLine(stderr) || 'docker version failed'}). ` +
    'Start it (`systemctl start docker`, or Docker Desktop), or point DOCKER_HOST at one.',
};

const buildxCheck: Check = {
  args: ['buildx', 'version'],
  fail: () => 'docker buildx is not available: --platform builds need the buildx plugin (docker-buildx-plugin).',
};

function buildArgs(tags: ImageTags, created: string): string[] {
  const args = ['VERSION=' + (tags.version ?? tags.local), 'REVISION=' + tags.revision, 'CREATED=' + created];
  if (tags.source) args.push('SOURCE=' + tags.source);
  return args.flatMap((a) => ['--build-arg', a]);
}

const platforms = (spec: string) => spec.split(',').map((p) => p.trim()).filter(Boolean);

export function planBuild(tags: ImageTags, s: DockerSettings, o: BuildOptions, created: string): Plan {
  const local = `${s.image}:${tags.local}`;
  const tail = [...buildArgs(tags, created), '--file', o.file ?? 'Dockerfile', o.context ?? '.'];
  if (!o.platform) return { checks: [daemonCheck], commands: [['build', '--tag', local, ...tail]], notes: [] };
  const list = platforms(o.platform);
  // The classic image store holds one platform per tag: a single platform is loaded into it,
  // several stay in the buildx cache (`nova docker push --platform` builds and pushes them).
  const load = list.length === 1 ? ['--load'] : [];
  const notes = list.length === 1 ? [] : [`several platforms stay in the buildx cache; \`nova docker push --platform ${list.join(',')}\` publishes them`];
  return {
    checks: [daemonCheck, buildxCheck],
    commands: [['buildx', 'build', '--platform', list.join(','), ...load, '--tag', local, ...tail]],
    notes,
  };
}

export function planPush(tags: ImageTags, s: DockerSettings, o: PushOptions, created: string): Plan {
  if (!s.registry) throw new DockerError('no registry to push to: pass -r/--registry or set NOVA_DOCKER_REGISTRY (for example ghcr.io/acme)');
  const local = `${s.image}:${tags.local}`;
  const remote = tags.remote.map((t) => `${s.registry}/${s.image}:${t}`);
  const notes = tags.dirty ? [`the tree has uncommitted changes: ${local} is pushed as ${tags.remote.join(', ')}`] : [];
  if (o.platform) {
    // A multi-platform image exists only as a manifest list in a registry: build and push at once.
    return {
      checks: [daemonCheck, buildxCheck],
      commands: [[
        'buildx', 'build', '--platform', platforms(o.platform).join(','), '--push',
        ...remote.flatMap((r) => ['--tag', r]), ...buildArgs(tags, created), '--file', o.file ?? 'Dockerfile', o.context ?? '.',
      ]],
      notes,
    };
  }
  const imageCheck: Check = {
    args: ['image', 'inspect', '--format', '{{.Id}}', local],
    fail: () => `there is no local image ${local} (the tag this tree's state gives): run \`nova docker build\` first`,
  };
  return {
    checks: [daemonCheck, imageCheck],
    commands: [...remote.map((r) => ['tag', local, r]), ...remote.map((r) => ['push', r])],
    notes,
  };
}

export function planRun(tags: ImageTags, s: DockerSettings, o: RunOptions, cwd: string): Plan {
  const args = ['run', ...(o.detach ? ['--detach'] : []), '--rm', '--name', o.name, '--stop-timeout', String(o.stopTimeout),
    '--publish', '4000:4000', '--publish', '3001:3001'];
  // The same settings `nova start` reads from the environment, when the project keeps them in .env.
  if (existsSync(join(cwd, '.env'))) args.push('--env-file', '.env');
  args.push(`${s.image}:${tags.local}`);
  if (o.roles.length) args.push('start', ...o.roles);
  return { checks: [daemonCheck], commands: [args], notes: [] };
}

export function planStop(o: StopOptions): Plan {
  // Containers run with --rm, so stopping one removes it too.
  return { checks: [daemonCheck], commands: [['stop', '--time', String(o.stopTimeout), o.name]], notes: [] };
}

export interface DockerIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  out(line: string): void;
  err(line: string): void;
  /** Where docker's own output goes; the CLI shows it, tests may drop it. */
  stdio?: StdioOptions;
}

/** Prints the tags, the notes and every command; runs them unless `dryRun`. Returns the exit code. */
export async function execute(plan: Plan, io: DockerIo, dryRun: boolean, tags?: { local: string; remote: string[] }): Promise<number> {
  if (tags) {
    io.out(`Local tag: ${tags.local}`);
    io.out(`Remote tags: ${tags.remote.join(', ')}`);
  }
  for (const note of plan.notes) io.err(`note: ${note}`);
  if (dryRun) {
    for (const c of plan.commands) io.out(`$ ${shellLine(['docker', ...c])}`);
    return 0;
  }
  for (const check of plan.checks) {
    const r = spawnSync('docker', check.args, { cwd: io.cwd, env: io.env, encoding: 'utf8' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DockerError('docker is not installed: no `docker` on PATH (install Docker Engine, or Docker Desktop)');
    }
    if (r.error) throw new DockerError(`could not run docker: ${r.error.message}`);
    if (r.status !== 0) throw new DockerError(check.fail(r.stderr ?? ''));
  }
  for (const c of plan.commands) {
    io.out(`$ ${shellLine(['docker', ...c])}`);
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn('docker', c, { cwd: io.cwd, env: io.env, stdio: io.stdio ?? 'inherit' });
      child.on('error', reject);
      child.on('exit', (status, signal) => resolve(status ?? (signal ? 128 : 1)));
    });
    if (code !== 0) {
      io.err(`docker ${c[0] === 'buildx' ? 'buildx build' : c[0]} exited with code ${code}`);
      return code;
    }
  }
  return 0;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

/** A command line someone can paste into a POSIX shell. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./{}-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export type DockerCommand =
  | { kind: 'build'; dryRun: boolean; options: BuildOptions }
  | { kind: 'push'; dryRun: boolean; registry?: string; options: PushOptions }
  | { kind: 'run'; dryRun: boolean; options: RunOptions }
  | { kind: 'stop'; dryRun: boolean; options: StopOptions };

/** One `nova docker` command end to end; errors become a message on stderr and exit 1 (78 for bad settings). */
export async function dockerCommand(cmd: DockerCommand, io: DockerIo): Promise<number> {
  try {
    const settings = dockerSettings(io.env, cmd.kind === 'push' ? cmd.registry : undefined);
    if (cmd.kind === 'stop') return await execute(planStop(cmd.options), io, cmd.dryRun);
    const tags = imageTags(io.cwd);
    const created = new Date().toISOString();
    const shown = { local: `${settings.image}:${tags.local}`, remote: tags.remote };
    if (cmd.kind === 'build') return await execute(planBuild(tags, settings, cmd.options, created), io, cmd.dryRun, shown);
    if (cmd.kind === 'push') return await execute(planPush(tags, settings, cmd.options, created), io, cmd.dryRun, shown);
    return await execute(planRun(tags, settings, cmd.options, io.cwd), io, cmd.dryRun, shown);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(err.message);
      return 78;
    }
    if (err instanceof DockerError || err instanceof GitError) {
      io.err(`nova docker ${cmd.kind}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

const seconds = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a whole number of seconds: ${v}`);
  return n;
};

export function registerDockerCommands(program: Command): void {
  const io = (): DockerIo => ({
    cwd: process.cwd(), env: process.env, out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`),
  });
  const finish = (code: number) => { process.exitCode = code; };
  const docker = program
    .command('docker')
    .description('build, push, run and stop the Nova image, tagged from git state (seed 002 docker:*)')
    .addHelpText('after', `
Tags: the short commit id always (with -dirty on the local tag when the tree has uncommitted
changes), the semver tag on HEAD when the tree is clean, and latest. NOVA_DOCKER_IMAGE names
the image (default nova); NOVA_DOCKER_REGISTRY (or -r) is where push publishes it.

Examples:
  nova docker build --dry-run
  nova docker build --platform linux/arm64
  nova docker push -r ghcr.io/acme
  nova docker run -d
  nova docker stop`);

  docker.command('build').description('build the image as <image>:<sha>[-dirty]')
    .option('--platform <platforms>', 'target platforms through buildx, comma separated (linux/amd64,linux/arm64)')
    .option('-f, --file <Dockerfile>', 'Dockerfile to build', 'Dockerfile')
    .option('--dry-run', 'print the tags and the docker commands without running them')
    .argument('[context]', 'build context', '.')
    .action(async (context: string, o: { platform?: string; file: string; dryRun?: boolean }) =>
      finish(await dockerCommand({ kind: 'build', dryRun: !!o.dryRun, options: { platform: o.platform, file: o.file, context } }, io())));

  docker.command('push').description('tag the built image with the remote tags and push them')
    .option('-r, --registry <registry>', 'registry and path to push to (default NOVA_DOCKER_REGISTRY)')
    .option('--platform <platforms>', 'build for these platforms with buildx and push the multi-platform image')
    .option('-f, --file <Dockerfile>', 'Dockerfile, with --platform', 'Dockerfile')
    .option('--dry-run', 'print the tags and the docker commands without running them')
    .action(async (o: { registry?: string; platform?: string; file: string; dryRun?: boolean }) =>
      finish(await dockerCommand({ kind: 'push', dryRun: !!o.dryRun, registry: o.registry, options: { platform: o.platform, file: o.file } }, io())));

  docker.command('run').description('run the built image (roles as arguments, default WORKER_TYPE of .env or all)')
    .argument('[roles...]', 'roles to start instead of the image default')
    .option('-d, --detach', 'run in the background')
    .option('--name <name>', 'container name', 'nova')
    .option('--stop-timeout <seconds>', 'grace before SIGKILL; keep it above SHUTDOWN_TIMEOUT_MS', seconds, 40)
    .option('--dry-run', 'print the docker command without running it')
    .action(async (roles: string[], o: { detach?: boolean; name: string; stopTimeout: number; dryRun?: boolean }) =>
      finish(await dockerCommand({ kind: 'run', dryRun: !!o.dryRun, options: { detach: o.detach, name: o.name, stopTimeout: o.stopTimeout, roles } }, io())));

  docker.command('stop').description('stop the container (SIGTERM, then SIGKILL after the timeout) and remove it')
    .option('--name <name>', 'container name', 'nova')
    .option('--time <seconds>', 'grace before SIGKILL; keep it above SHUTDOWN_TIMEOUT_MS', seconds, 40)
    .option('--dry-run', 'print the docker command without running it')
    .action(async (o: { name: string; time: number; dryRun?: boolean }) =>
      finish(await dockerCommand({ kind: 'stop', dryRun: !!o.dryRun, options: { name: o.name, stopTimeout: o.time } }, io())));
}
