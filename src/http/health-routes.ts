import type { FastifyInstance } from 'fastify';
import type { EmailConfig } from '../email/config.ts';
import type { ExtractionConfig } from '../extraction/config.ts';
import type { Services } from '../runtime/domain.ts';

/**
 * Health on the API port, as seed deployments probe it: `/health` (liveness and database, JSON,
 * open like the health server's) and `/api/health` (also what the providers are configured as;
 * behind NOVA_API_TOKEN like every /api route). Declared routes, so the dashboard's catch-all
 * never answers them with its HTML. The health server (WORKER_HEALTH_PORT) keeps its own /health.
 */
export function healthRoutes(app: FastifyInstance, services: Services): void {
  const database = async () => {
    const started = performance.now();
    try {
      await Promise.race([
        services.sql.query('select 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref()),
      ]);
      return { status: 'up' as const, kind: services.sql.kind, latencyMs: Math.round(performance.now() - started) };
    } catch (err) {
      return { status: 'down' as const, kind: services.sql.kind, error: err instanceof Error ? err.message : String(err) };
    }
  };

  app.get('/health', async (_req, reply) => {
    const db = await database();
    return reply.status(db.status === 'up' ? 200 : 503).send({ status: db.status === 'up' ? 'ok' : 'unavailable', database: db.status });
  });

  app.get('/api/health', async (_req, reply) => {
    const db = await database();
    const c = services.config as EmailConfig & ExtractionConfig;
    const nylas = { configured: Boolean(c.NYLAS_API_KEY), apiUri: c.NYLAS_API_URI, webhookSecret: Boolean(c.NYLAS_WEBHOOK_SECRET) };
    const llm = { provider: c.LLM_PROVIDER ?? (c.OPENAI_API_KEY ? 'openai' : c.ANTHROPIC_API_KEY ? 'anthropic' : 'builtin') };
    return reply.status(db.status === 'up' ? 200 : 503).send({
      status: db.status === 'up' ? 'ok' : 'unavailable', database: db, providers: { nylas, llm }, testingMode: c.TESTING_MODE,
    });
  });
}
