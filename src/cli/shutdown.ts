import type { Logger } from '../log.ts';

/**
 * Signal handling of `nova start`. The first SIGTERM/SIGINT stops the runtime gracefully and
 * says what it waits for and for how long; while it waits it repeats what is still open; a
 * second signal exits at once. A stop that outlives SHUTDOWN_TIMEOUT_MS (plus a margin for
 * handing leases back and closing the database) is cut short: the deadline always holds.
 */

export interface Stoppable {
  readonly log: Logger;
  stop(): Promise<void>;
  /** Hands back every lease at once (a second signal); the process exits right after. */
  forceStop?(): Promise<void>;
  /** What a stop is still waiting for, in words. */
  awaiting(): string[];
}

/** Time after the deadline for releasing leases and closing the database before exiting anyway. */
export const STOP_MARGIN_MS = 3000;
const REPORT_EVERY_MS = 5000;

export interface StopOptions {
  deadlineMs: number;
  afterStop?: () => Promise<void>;
  exit?: (code: number) => void;
  /** Time after the deadline before exiting anyway (default STOP_MARGIN_MS). */
  marginMs?: number;
}

export function handleStopSignals(runtime: Stoppable, options: StopOptions): void {
  const shutdown = stopOnSignal(runtime, options);
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** The signal handler itself, apart from `process` so it can be tested. */
export function stopOnSignal(runtime: Stoppable, options: StopOptions): (signal: string) => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  return (signal: string) => {
    if (stopping) {
      if (!runtime.forceStop) {
        runtime.log.warn(`second ${signal}: exiting now; leases still held return when they expire`);
        exit(1);
        return;
      }
      runtime.log.warn(`second ${signal}: handing back running jobs and exiting now`);
      void runtime.forceStop().finally(() => exit(1));
      return;
    }
    stopping = true;
    const waits = runtime.awaiting();
    runtime.log.info(
      `received ${signal}: stopping within ${seconds(options.deadlineMs)}` +
        (waits.length ? `; waiting for ${waits.join(', ')}` : '') +
        `; press Ctrl-C again (or send ${signal} again) to exit at once`,
    );
    const report = setInterval(() => {
      const still = runtime.awaiting();
      if (still.length) runtime.log.info(`still waiting for ${still.join(', ')}; Ctrl-C again exits at once`);
    }, REPORT_EVERY_MS);
    report.unref();
    const cut = setTimeout(() => {
      const still = runtime.awaiting();
      runtime.log.error(
        `did not stop within SHUTDOWN_TIMEOUT_MS (${seconds(options.deadlineMs)})` +
          (still.length ? ` while waiting for ${still.join(', ')}` : '') + '; exiting',
      );
      exit(1);
    }, options.deadlineMs + (options.marginMs ?? STOP_MARGIN_MS));
    cut.unref();
    runtime.stop().then(
      async () => {
        await options.afterStop?.();
        clearInterval(report);
        clearTimeout(cut);
        exit(0);
      },
      (err: unknown) => {
        runtime.log.error('shutdown failed', { error: err });
        exit(1);
      },
    );
  };
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
