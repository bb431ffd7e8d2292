import type { LoopDefinition } from './domain.ts';

/** What the line reports of one queue this process consumes. */
export interface QueueHealth {
  name: string;
  inFlight: number;
  /** What this process's consumer finished, by outcome, since it started. */
  outcomes: { completed: number; retry: number; dead: number };
  depth: { waiting: number; scheduled: number; active: number; dead: number; throughputPerMinute: number } | null;
}

/**
 * The seed's per-process health line, once a minute by default: for each queue this process
 * consumes, what waits, runs and died, and what this process finished since it started. One
 * line per process, so `docker-compose logs -f threads` shows whether a role keeps up.
 */
export function queueHealthLoop(intervalMs: number, snapshot: () => Promise<QueueHealth[]>): LoopDefinition {
  return {
    name: 'nova:queue-health',
    role: 'nova',
    intervalMs,
    // The first line after a full interval, as the seed's worker logged it: at start it says nothing.
    firstRunAfterMs: intervalMs,
    async run({ log }) {
      const queues = await snapshot();
      if (queues.length === 0) return;
      log.info(queues.map(describe).join(' | '));
    },
  };
}

function describe(q: QueueHealth): string {
  const d = q.depth;
  const shared = d ? `waiting ${d.waiting}, scheduled ${d.scheduled}, active ${d.active}, dead ${d.dead}, ${d.throughputPerMinute}/min` : 'depth unknown';
  return `${q.name}: ${shared}; here ${q.inFlight} running, ${q.outcomes.completed} done, ${q.outcomes.retry + q.outcomes.dead} failed`;
}
