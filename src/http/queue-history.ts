import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { queueHistory, RANGES } from '../queue/history.ts';
import type { Services } from '../runtime/domain.ts';

const params = z.object({ name: z.string().min(1).max(200) });
const query = z.object({ range: z.enum(['hour', 'day']).default('hour') });

/** GET /api/queues/:name/history?range=hour|day: the series the dashboard's charts draw. */
export function registerHistoryRoutes(app: FastifyInstance, services: Services, known: (name: string) => Promise<void>): void {
  app.get('/api/queues/:name/history', async (req) => {
    const { name } = params.parse(req.params);
    const { range } = query.parse(req.query);
    await known(name);
    const points = await queueHistory(services.sql, name, range);
    return { queue: name, range, bucketSeconds: RANGES[range].bucketSeconds, points };
  });
}
