import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueMetrics } from '../queue/types.ts';

/**
 * The process's own metrics (CPU, memory, GC, event-loop delay), collected once per process
 * however many runtimes it holds: prom-client's collectors start a GC observer and a 10 ms
 * event-loop timer each time and never stop them.
 */
let processMetrics: Registry | undefined;
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'nova_' });
  }
  return processMetrics;
}

/**
 * Prometheus metrics of one runtime, on a registry of its own (several runtimes can share a
 * process in tests), scraped with the process's. Queue depths are read from the database at
 * scrape time.
 */
export class RuntimeMetrics {
  readonly registry = new Registry();
  readonly jobs: Counter<'queue' | 'outcome'>;
  readonly duration: Histogram<'queue'>;
  readonly loopRuns: Counter<'loop' | 'outcome'>;

  constructor(sources: { inFlight(): Map<string, number>; queueMetrics(): Promise<QueueMetrics[]> }) {
    processRegistry();
    this.jobs = new Counter({
      name: 'nova_jobs_total',
      help: 'Jobs settled by this process, by outcome (completed, failed, lease-lost)',
      labelNames: ['queue', 'outcome'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'nova_job_duration_seconds',
      help: 'Handler time from start to settled',
      labelNames: ['queue'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 60, 300],
      registers: [this.registry],
    });
    this.loopRuns = new Counter({
      name: 'nova_loop_runs_total',
      help: 'Periodic loop runs by outcome',
      labelNames: ['loop', 'outcome'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'nova_jobs_in_flight',
      help: 'Jobs leased by this process (running or prefetched)',
      labelNames: ['queue'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [queue, n] of sources.inFlight()) this.set({ queue }, n);
      },
    });
    new Gauge({
      name: 'nova_queue_jobs',
      help: 'Jobs in the database by queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const m of await sources.queueMetrics()) {
          for (const state of ['waiting', 'scheduled', 'active', 'completed', 'dead'] as const) {
            this.set({ queue: m.queue, state }, m[state]);
          }
        }
      },
    });
    new Gauge({
      // From the per-minute counters: `completed` above counts only the rows retention keeps.
      name: 'nova_queue_processed_last_hour',
      help: 'Jobs finished (completed or dead) in the last hour, by queue',
      labelNames: ['queue'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const m of await sources.queueMetrics()) this.set({ queue: m.queue }, m.processedLastHour);
      },
    });
    new Gauge({
      name: 'nova_queue_oldest_waiting_seconds',
      help: 'Age of the oldest due job that has not started',
      labelNames: ['queue'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const m of await sources.queueMetrics()) this.set({ queue: m.queue }, (m.oldestWaitingMs ?? 0) / 1000);
      },
    });
  }

  /** The exposition text of this runtime's metrics and the process's. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const both = Registry.merge([processRegistry(), this.registry]);
    return { contentType: both.contentType, body: await both.metrics() };
  }
}
