import { startCluster } from './cluster.ts';
import { runQueuePhase } from './queue.ts';
const c = await startCluster();
try {
  const r = await runQueuePhase(c, { seconds: 20, rate: 100, workers: 2, pgRestarts: 2, pgDownMs: 3000, kills: 1, leaseSeconds: 10, jobMs: 50 });
  console.log(r.lines.join('\n'));
  console.log('FAILURES', r.failures);
} finally { c.destroy(); }
