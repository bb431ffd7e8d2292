import { readFileSync } from 'node:fs';

/** The final stage of a Dockerfile, as far as running its image goes. */
export interface ImageStage {
  from: string;
  env: Record<string, string>;
  workdir: string | undefined;
  user: string | undefined;
  /** Exec-form ENTRYPOINT and CMD (a shell form is refused: it would put sh between docker and node). */
  entrypoint: string[];
  cmd: string[];
  labels: Record<string, string>;
  healthcheck: string | undefined;
  expose: string[];
}

/**
 * Reads the instructions of the last stage: continuation lines joined, comments dropped. Only
 * the forms Nova's Dockerfile uses are understood (ENV and LABEL as key=value pairs); anything
 * else in those instructions is an error rather than a silent misreading.
 */
export function readFinalStage(path: string): ImageStage {
  const lines = readFileSync(path, 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const lastFrom = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  if (lastFrom < 0) throw new Error(`${path}: no FROM`);
  const stage: ImageStage = {
    from: lines[lastFrom]!.split(/\s+/)[1]!, env: {}, workdir: undefined, user: undefined, entrypoint: [], cmd: [], labels: {},
    healthcheck: undefined, expose: [],
  };
  for (const line of lines.slice(lastFrom + 1)) {
    const [, instruction, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    switch (instruction?.toUpperCase()) {
      case 'ENV': Object.assign(stage.env, pairs(rest!, line)); break;
      case 'LABEL': Object.assign(stage.labels, pairs(rest!, line)); break;
      case 'WORKDIR': stage.workdir = rest; break;
      case 'USER': stage.user = rest; break;
      case 'ENTRYPOINT': stage.entrypoint = execForm(rest!, line); break;
      case 'CMD': stage.cmd = execForm(rest!, line); break;
      case 'HEALTHCHECK': stage.healthcheck = rest; break;
      case 'EXPOSE': stage.expose.push(...rest!.split(/\s+/)); break;
      default: break;
    }
  }
  return stage;
}

function execForm(text: string, line: string): string[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string')) throw new Error(`not an exec form: ${line}`);
  return parsed;
}

function pairs(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) out[m[1]!] = m[2]!.startsWith('"') ? JSON.parse(m[2]!) : m[2]!;
  if (!Object.keys(out).length) throw new Error(`expected key=value pairs: ${line}`);
  return out;
}
