import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dockerCommand, type DockerCommand } from '../src/cli/docker.ts';
import { highestSemver, imageTags } from '../src/cli/docker-tags.ts';
import { fakeDocker, gitRepo } from './helpers/git-docker.ts';
import { nodeArgs } from './helpers/process.ts';

const cleanup: string[] = [];
afterEach(() => {
  for (const dir of cleanup.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function repo() {
  const r = gitRepo();
  cleanup.push(r.dir);
  return r;
}

/** Runs one `nova docker` command in-process against the fake docker; returns code, output and docker calls. */
async function nova(cmd: DockerCommand, cwd: string, env: Record<string, string> = {}) {
  const docker = fakeDocker();
  cleanup.push(docker.bin);
  const out: string[] = [];
  const err: string[] = [];
  const code = await dockerCommand(cmd, {
    cwd, env: { PATH: `${docker.bin}:${process.env.PATH}`, ...env }, out: (l) => out.push(l), err: (l) => err.push(l), stdio: 'ignore',
  });
  return { code, out, err: err.join('\n'), calls: docker.calls() };
}

const build = (options = {}, dryRun = false): DockerCommand => ({ kind: 'build', dryRun, options });
const push = (registry?: string, options = {}, dryRun = false): DockerCommand => ({ kind: 'push', dryRun, registry, options });
const CREATED = expect.stringMatching(/^CREATED=\d{4}-\d\d-\d\dT[\d:.]+Z$/);
const VERSION_CHECK = ['version', '--format', '{{.Server.Version}}'];

describe('image tags from git state (seed 002 table)', () => {
  it('clean tree on a version tag: local <sha>, remote <sha>, the version and latest', () => {
    const r = repo();
    r.git('tag', 'v1.0.0');
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const tags = imageTags(r.dir);
    expect(tags).toMatchObject({ sha, dirty: false, version: 'v1.0.0', local: sha, remote: [sha, 'v1.0.0', 'latest'] });
    expect(tags.revision).toBe(r.git('rev-parse', 'HEAD'));
  });

  it('dirty tree: local <sha>-dirty, remote <sha> and latest, no version even on a tagged commit', () => {
    const r = repo();
    r.git('tag', 'v1.0.0');
    writeFileSync(join(r.dir, 'Dockerfile'), 'FROM scratch\nUSER 1000\n');
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    expect(imageTags(r.dir)).toMatchObject({ dirty: true, version: null, local: `${sha}-dirty`, remote: [sha, 'latest'] });
  });

  it('clean tree with no tag: local <sha>, remote <sha> and latest', () => {
    const r = repo();
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    expect(imageTags(r.dir)).toMatchObject({ dirty: false, version: null, local: sha, remote: [sha, 'latest'] });
  });

  it('an untracked file makes the tree dirty: it would be in the build context', () => {
    const r = repo();
    writeFileSync(join(r.dir, 'notes.txt'), 'x');
    expect(imageTags(r.dir).dirty).toBe(true);
  });

  it('a version tag on an older commit does not name the image of a later one', () => {
    const r = repo();
    r.git('tag', 'v1.0.0');
    r.commit('src.ts', 'export {};\n');
    expect(imageTags(r.dir).version).toBeNull();
  });

  it('takes the highest semver tag on HEAD and ignores tags that are not versions', () => {
    const r = repo();
    for (const t of ['release-candidate', 'v1.2.0-rc.1', 'v1.2.0', 'v1.10.0-beta', 'v1.9.3']) r.git('tag', t);
    expect(imageTags(r.dir).version).toBe('v1.10.0-beta');
    expect(highestSemver(['v2.0.0-rc.2', 'v2.0.0-rc.10', 'v1.9.9'])).toBe('v2.0.0-rc.10');
    expect(highestSemver(['2.0.0-rc.1', '2.0.0'])).toBe('2.0.0');
    expect(highestSemver(['nightly', ''])).toBeNull();
  });

  it('says what is wrong outside a repository and before the first commit', () => {
    const bare = mkdtempSync(join(tmpdir(), 'nova-nogit-'));
    cleanup.push(bare);
    expect(() => imageTags(bare)).toThrow(/is not in a git repository/);
    spawnSync('git', ['init', '-q'], { cwd: bare });
    expect(() => imageTags(bare)).toThrow(/no commit yet/);
  });
});

describe('nova docker build --dry-run prints exactly the seed\'s tags', () => {
  it.each([
    ['clean tree on v1.0.0', (r: ReturnType<typeof repo>) => r.git('tag', 'v1.0.0'), (sha: string) => [`Local tag: nova:${sha}`, `Remote tags: ${sha}, v1.0.0, latest`]],
    ['dirty tree', (r: ReturnType<typeof repo>) => writeFileSync(join(r.dir, 'Dockerfile'), 'FROM busybox\n'), (sha: string) => [`Local tag: nova:${sha}-dirty`, `Remote tags: ${sha}, latest`]],
    ['clean tree without tags', () => {}, (sha: string) => [`Local tag: nova:${sha}`, `Remote tags: ${sha}, latest`]],
  ])('%s', async (_name, arrange, expected) => {
    const r = repo();
    arrange(r);
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const res = await nova(build({}, true), r.dir);
    expect(res.code).toBe(0);
    expect(res.out.slice(0, 2)).toEqual(expected(sha));
    expect(res.out[2]).toMatch(new RegExp(`^\\$ docker build --tag nova:${sha}(-dirty)? --build-arg VERSION=`));
    expect(res.calls).toEqual([]); // a dry run runs nothing, not even the daemon check
  });

  it('through the real CLI entry point', () => {
    const r = repo();
    r.git('tag', 'v0.3.1');
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const res = spawnSync(process.execPath, [...nodeArgs('src/cli/main.ts'), 'docker', 'build', '--dry-run'], {
      cwd: r.dir, encoding: 'utf8', env: { PATH: process.env.PATH, NOVA_DOCKER_IMAGE: 'acme/nova' },
    });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout.split('\n').slice(0, 2)).toEqual([`Local tag: acme/nova:${sha}`, `Remote tags: ${sha}, v0.3.1, latest`]);
  });
});

describe('nova docker commands run exactly these docker invocations', () => {
  it('build: checks the daemon, then one docker build with the OCI label arguments', async () => {
    const r = repo();
    r.git('tag', 'v1.0.0');
    r.git('remote', 'add', 'origin', 'https://example.com/acme/nova.git');
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const res = await nova(build(), r.dir);
    expect(res.code, res.err).toBe(0);
    expect(res.calls).toEqual([
      VERSION_CHECK,
      ['build', '--tag', `nova:${sha}`, '--build-arg', 'VERSION=v1.0.0', '--build-arg', `REVISION=${r.git('rev-parse', 'HEAD')}`,
        '--build-arg', CREATED, '--build-arg', 'SOURCE=https://example.com/acme/nova.git', '--file', 'Dockerfile', '.'],
    ]);
  });

  it('build --platform: buildx, loaded into the local store for one platform', async () => {
    const r = repo();
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const res = await nova(build({ platform: 'linux/arm64' }), r.dir);
    expect(res.code, res.err).toBe(0);
    expect(res.calls).toEqual([
      VERSION_CHECK, ['buildx', 'version'],
      ['buildx', 'build', '--platform', 'linux/arm64', '--load', '--tag', `nova:${sha}`, '--build-arg', `VERSION=${sha}`,
        '--build-arg', `REVISION=${r.git('rev-parse', 'HEAD')}`, '--build-arg', CREATED, '--file', 'Dockerfile', '.'],
    ]);
    const several = await nova(build({ platform: 'linux/amd64, linux/arm64' }), r.dir);
    expect(several.calls[2]!.slice(0, 5)).toEqual(['buildx', 'build', '--platform', 'linux/amd64,linux/arm64', '--tag']);
    expect(several.err).toMatch(/stay in the buildx cache/);
  });

  it('push: tags the local image with every remote tag under the registry, then pushes each', async () => {
    const r = repo();
    r.git('tag', 'v2.1.0');
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const res = await nova(push('registry.example.com:5000/team/'), r.dir, { NOVA_DOCKER_REGISTRY: 'ignored.example.com' });
    expect(res.code, res.err).toBe(0);
    const remote = [sha, 'v2.1.0', 'latest'].map((t) => `registry.example.com:5000/team/nova:${t}`);
    expect(res.calls).toEqual([
      VERSION_CHECK,
      ['image', 'inspect', '--format', '{{.Id}}', `nova:${sha}`],
      ...remote.map((t) => ['tag', `nova:${sha}`, t]),
      ...remote.map((t) => ['push', t]),
    ]);
  });

  it('push reads NOVA_DOCKER_REGISTRY and NOVA_DOCKER_IMAGE; a dirty tree pushes its image as <sha> and latest', async () => {
    const r = repo();
    writeFileSync(join(r.dir, 'extra.txt'), 'x');
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const res = await nova(push(), r.dir, { NOVA_DOCKER_REGISTRY: 'ghcr.io/acme', NOVA_DOCKER_IMAGE: 'nova-worker' });
    expect(res.code, res.err).toBe(0);
    expect(res.calls.slice(1)).toEqual([
      ['image', 'inspect', '--format', '{{.Id}}', `nova-worker:${sha}-dirty`],
      ['tag', `nova-worker:${sha}-dirty`, `ghcr.io/acme/nova-worker:${sha}`],
      ['tag', `nova-worker:${sha}-dirty`, 'ghcr.io/acme/nova-worker:latest'],
      ['push', `ghcr.io/acme/nova-worker:${sha}`],
      ['push', 'ghcr.io/acme/nova-worker:latest'],
    ]);
    expect(res.err).toMatch(/uncommitted changes/);
  });

  it('push --platform builds and pushes the multi-platform image with buildx in one step', async () => {
    const r = repo();
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const res = await nova(push('ghcr.io/acme', { platform: 'linux/amd64,linux/arm64' }), r.dir);
    expect(res.code, res.err).toBe(0);
    expect(res.calls).toEqual([
      VERSION_CHECK, ['buildx', 'version'],
      ['buildx', 'build', '--platform', 'linux/amd64,linux/arm64', '--push', '--tag', `ghcr.io/acme/nova:${sha}`, '--tag', 'ghcr.io/acme/nova:latest',
        '--build-arg', `VERSION=${sha}`, '--build-arg', `REVISION=${r.git('rev-parse', 'HEAD')}`, '--build-arg', CREATED, '--file', 'Dockerfile', '.'],
    ]);
  });

  it('run -d and stop: one container by name, a stop grace above SHUTDOWN_TIMEOUT_MS, .env passed when present', async () => {
    const r = repo();
    writeFileSync(join(r.dir, '.gitignore'), '.env\n');
    r.commit('.gitignore', '.env\n');
    writeFileSync(join(r.dir, '.env'), 'WORKER_TYPE=email\n');
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const run = await nova({ kind: 'run', dryRun: false, options: { detach: true, name: 'nova', stopTimeout: 40, roles: [] } }, r.dir);
    expect(run.code, run.err).toBe(0);
    expect(run.calls).toEqual([VERSION_CHECK, ['run', '--detach', '--rm', '--name', 'nova', '--stop-timeout', '40',
      '--publish', '4000:4000', '--publish', '3001:3001', '--env-file', '.env', `nova:${sha}`]]);
    const roles = await nova({ kind: 'run', dryRun: false, options: { name: 'w1', stopTimeout: 45, roles: ['webhooks', 'threads'] } }, r.dir);
    expect(roles.calls[1]).toEqual(['run', '--rm', '--name', 'w1', '--stop-timeout', '45', '--publish', '4000:4000', '--publish', '3001:3001',
      '--env-file', '.env', `nova:${sha}`, 'start', 'webhooks', 'threads']);
    const stop = await nova({ kind: 'stop', dryRun: false, options: { name: 'nova', stopTimeout: 40 } }, r.dir);
    expect(stop.calls).toEqual([VERSION_CHECK, ['stop', '--time', '40', 'nova']]);
  });
});

describe('nova docker errors', () => {
  it('names a docker that is not installed', async () => {
    const r = repo();
    const empty = mkdtempSync(join(tmpdir(), 'nova-nodocker-'));
    cleanup.push(empty);
    const res = await nova(build(), r.dir, { PATH: empty });
    expect(res.code).toBe(1);
    expect(res.err).toBe('nova docker build: docker is not installed: no `docker` on PATH (install Docker Engine, or Docker Desktop)');
  });

  it('names a daemon that is down, and runs nothing after the check', async () => {
    const r = repo();
    const res = await nova(build(), r.dir, { FAKE_DOCKER_DAEMON: 'down' });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^nova docker build: the Docker daemon is not reachable \(Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock/);
    expect(res.calls).toEqual([VERSION_CHECK]);
  });

  it('refuses to push an image that was not built, or with no registry', async () => {
    const r = repo();
    const sha = r.git('rev-parse', '--short=7', 'HEAD');
    const missing = await nova(push('ghcr.io/acme'), r.dir, { FAKE_DOCKER_NO_IMAGE: '1' });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`there is no local image nova:${sha}`);
    expect(missing.calls.map((c) => c[0])).toEqual(['version', 'image']);
    const noRegistry = await nova(push(), r.dir);
    expect(noRegistry.code).toBe(1);
    expect(noRegistry.err).toMatch(/no registry to push to: pass -r\/--registry or set NOVA_DOCKER_REGISTRY/);
    expect(noRegistry.calls).toEqual([]);
  });

  it('says buildx is missing for --platform', async () => {
    const res = await nova(build({ platform: 'linux/arm64' }), repo().dir, { FAKE_DOCKER_NO_BUILDX: '1' });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/docker buildx is not available/);
  });

  it('passes on the exit code of a failed docker command', async () => {
    const res = await nova(build(), repo().dir, { FAKE_DOCKER_FAIL: 'build' });
    expect(res.code).toBe(2);
    expect(res.err).toBe('docker build exited with code 2');
  });

  it('exits 78 naming a bad NOVA_DOCKER_IMAGE or registry', async () => {
    const r = repo();
    const res = await nova(push('https://ghcr.io'), r.dir, { NOVA_DOCKER_IMAGE: 'Nova Image' });
    expect(res.code).toBe(78);
    expect(res.err).toMatch(/NOVA_DOCKER_IMAGE: must be a lowercase image name .*\(got "Nova Image"\)/);
    expect(res.err).toMatch(/--registry: must be a registry host .*\(got "https:\/\/ghcr.io"\)/);
  });
});
