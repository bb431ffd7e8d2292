import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway git repository with one commit, for `nova docker` tag tests. */
export function gitRepo(): { dir: string; git: (...args: string[]) => string; commit: (file: string, text: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nova-git-'));
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '', HOME: dir, GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com',
      },
    }).trim();
  const commit = (file: string, text: string) => {
    writeFileSync(join(dir, file), text);
    git('add', file);
    git('commit', '-q', '-m', `change ${file}`);
  };
  git('init', '-q', '-b', 'main');
  commit('Dockerfile', 'FROM scratch\n');
  return { dir, git, commit };
}

/**
 * A fake `docker` on PATH that appends its arguments (one JSON array a line) to a log and
 * answers like the real client for the few cases the CLI looks at:
 * FAKE_DOCKER_DAEMON=down (`version` fails as with no daemon), FAKE_DOCKER_NO_IMAGE=1
 * (`image inspect` finds nothing), FAKE_DOCKER_NO_BUILDX=1, FAKE_DOCKER_FAIL=<subcommand> (exit 2).
 */
export function fakeDocker(): { bin: string; log: string; calls: () => string[][] } {
  const bin = mkdtempSync(join(tmpdir(), 'nova-fake-docker-'));
  const log = join(bin, 'calls.log');
  writeFileSync(join(bin, 'docker'), `#!${process.execPath}
const args = process.argv.slice(2);
require('node:fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');
const env = process.env;
if (args[0] === 'version' && env.FAKE_DOCKER_DAEMON === 'down') {
  process.stderr.write('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\\n');
  process.exit(1);
}
if (args[0] === 'version') { process.stdout.write('28.2.2\\n'); process.exit(0); }
if (args[0] === 'image' && args[1] === 'inspect' && env.FAKE_DOCKER_NO_IMAGE === '1') {
  process.stderr.write('Error response from daemon: No such image: ' + args[args.length - 1] + '\\n');
  process.exit(1);
}
if (args[0] === 'buildx' && args[1] === 'version' && env.FAKE_DOCKER_NO_BUILDX === '1') {
  process.stderr.write("docker: 'buildx' is not a docker command.\\n");
  process.exit(1);
}
if (env.FAKE_DOCKER_FAIL && args[0] === env.FAKE_DOCKER_FAIL) process.exit(2);
`);
  chmodSync(join(bin, 'docker'), 0o755);
  return {
    bin,
    log,
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : []),
  };
}
