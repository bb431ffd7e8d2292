/**
 * Nova processes the chaos suite starts, kills with SIGKILL and starts again. A Supervisor keeps
 * each slot running: a process that exits on its own (not killed by the suite) is counted as an
 * unexpected exit, reported with the end of its output, and started again.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Slot {
  name: string;
  /** Arguments to node: the entry point and its arguments. */
  argv: string[];
  env: Record<string, string>;
  child?: ChildProcess;
  /** The port of the API server, when the process runs the `api` role. */
  apiPort?: number;
  /** Set while the suite kills or stops it: its exit is expected. */
  expectExit?: boolean;
  starts: number;
}

export interface ProcessEvents {
  kills: number;
  /** Exits the suite did not cause: a crash, or a process giving up on the database. */
  unexpectedExits: { name: string; code: number | null; signal: string | null; tail: string; stderr: string; at: number; afterStart: boolean; pid: number }[];
  /** Lines logged at warn / error by all processes. */
  warnings: number;
  errors: number;
  /** The first few error lines, for the report. */
  errorSamples: string[];
}

const VERBOSE = process.env.CHAOS_VERBOSE === 'true';

export class Supervisor {
  readonly slots: Slot[] = [];
  readonly events: ProcessEvents = { kills: 0, unexpectedExits: [], warnings: 0, errors: 0, errorSamples: [] };
  private closing = false;

  constructor(private readonly baseEnv: Record<string, string>) {}

  /** Starts a slot's process and resolves once it logged "Nova started". */
  async add(name: string, argv: string[], env: Record<string, string> = {}): Promise<Slot> {
    const slot: Slot = { name, argv, env, starts: 0 };
    this.slots.push(slot);
    await this.launch(slot);
    return slot;
  }

  /** SIGKILL, then a new process after `restartAfterMs` (resolved once it started). Returns the killed pid. */
  kill9(slot: Slot, restartAfterMs: number): { pid: number; restarted: Promise<void> } {
    const child = slot.child!;
    slot.expectExit = true;
    child.kill('SIGKILL');
    this.events.kills++;
    const restarted = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      .then(() => new Promise((resolve) => setTimeout(resolve, restartAfterMs)))
      .then(() => (this.closing ? undefined : this.launch(slot)));
    return { pid: child.pid!, restarted };
  }

  async stopAll(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map(async (slot) => {
      const child = slot.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      slot.expectExit = true;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }));
  }

  private launch(slot: Slot): Promise<void> {
    slot.starts++;
    slot.expectExit = false;
    const child = spawn(process.execPath, slot.argv, {
      env: {
        PATH: process.env.PATH ?? '', NOVA_LOG_FORMAT: 'json', LOG_LEVEL: 'info', WORKER_HEALTH_PORT: '0', NODE_ENV: 'production',
        ...this.baseEnv, ...slot.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    slot.child = child;
    let tail = '';
    let stderr = '';
    let started = false;
    return new Promise<void>((resolve, reject) => {
      const onLine = (line: string) => {
        tail = `${tail}\n${line}`.slice(-2000);
        if (!started && line.includes('"Nova started"')) {
          started = true;
          try {
            slot.apiPort = JSON.parse(line).apiPort ?? slot.apiPort;
          } catch {
            // A line that only mentions it.
          }
          resolve();
        }
        const level = /"level":"(warn|error)"/.exec(line)?.[1];
        if (level === 'warn') this.events.warnings++;
        if (level === 'error') {
          this.events.errors++;
          if (this.events.errorSamples.length < 5) this.events.errorSamples.push(`[${slot.name}] ${line.slice(0, 400)}`);
        }
        if (VERBOSE && level) console.error(`  [${slot.name}] ${line.slice(0, 300)}`);
      };
      let pending = '';
      const onData = (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) onLine(line);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr = `${stderr}${chunk.toString()}`.slice(-4000);
      });
      child.once('exit', (code, signal) => {
        if (slot.expectExit || this.closing) return;
        this.events.unexpectedExits.push({ name: slot.name, code, signal, tail: tail.slice(-600), stderr, at: Date.now(), afterStart: started, pid: child.pid ?? 0 });
        if (!started && slot.starts === 1) return reject(new Error(`${slot.name} exited with ${code ?? signal} before it started:${tail}\n${stderr}`));
        // Keep the slot running, as a process manager would (a start during an outage fails: again).
        setTimeout(() => {
          if (!this.closing) void this.launch(slot).then(resolve, () => {});
        }, 1000);
      });
    });
  }
}
