import { describe, expect, it } from 'vitest';
import { RuntimeMetrics } from './metrics.ts';

const sources = { inFlight: () => new Map<string, number>(), queueMetrics: async () => [] };

describe('RuntimeMetrics', () => {
  it('keeps the process metrics out of each runtime registry and adds them to every scrape', async () => {
    const a = new RuntimeMetrics(sources);
    const b = new RuntimeMetrics(sources);
    a.jobs.inc({ queue: 'q', outcome: 'completed' }, 2);
    // Collected once per process: a runtime's registry holds only its own metrics.
    expect(a.registry.getSingleMetric('nova_process_cpu_user_seconds_total')).toBeUndefined();
    const [textA, textB] = await Promise.all([a.scrape(), b.scrape()]);
    for (const { body } of [textA, textB]) {
      expect(body.match(/^nova_process_resident_memory_bytes /gm)).toHaveLength(1);
      expect(body).toContain('nova_nodejs_eventloop_lag_seconds');
    }
    expect(textA.body).toMatch(/nova_jobs_total\{queue="q",outcome="completed"\} 2/);
    expect(textB.body).not.toMatch(/nova_jobs_total\{queue="q"/);
    expect(textA.contentType).toMatch(/text\/plain/);
  });
});
