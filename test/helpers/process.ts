import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface NovaProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Resolves when a line matching `pattern` has been printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/**
 * The command line that runs a source file (`src/cli/main.ts`) as a process: its compiled copy
 * (test/helpers/compiled.ts), which starts in half the CPU time of the same file under tsx.
 */
export function nodeArgs(entry: string): string[] {
  return [join(inject('compiledDir'), entry.replace(/\.ts$/, '.js'))];
}

/**
 * Spawns the fixture CLI (`test/fixtures/worker.ts`), or another entry point such as the real
 * `src/cli/main.ts`, with the given arguments and environment.
 */
export function spawnNova(args: string[], env: Record<string, string>, entry = 'test/fixtures/worker.ts'): NovaProcess {
  const child = spawn(process.execPath, [...nodeArgs(entry), ...args], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      NOVA_LOG_FORMAT: 'json',
      WORKER_HEALTH_PORT: '0',
      NOVA_HEALTH_HOST: '127.0.0.1',
      // A developer's .env in the repository must not reach the processes tests start.
      NOVA_ENV_FILE: '/dev/null',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.pattern.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      const line = out.split('\n').find((l) => pattern.test(l));
      if (line) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output:\n${out}`)), timeoutMs);
        waiters.push({ pattern, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}
