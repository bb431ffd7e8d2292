import type { Domain } from '../runtime/domain.ts';
import { API_ROLE } from '../runtime/runtime.ts';
import { healthRoutes } from './health-routes.ts';
import { managementRoutes } from './management.ts';
import { scheduleRoutes } from './schedules.ts';
import type { WorkflowsConfig } from '../workflows/index.ts';

/** The `api` role's own routes: queues, jobs, workers and schedules (docs/API.md). */
export const apiDomain: Domain = {
  name: 'api',
  roles: [API_ROLE],
  routes: (app, services) => {
    managementRoutes(app, services);
    scheduleRoutes(app, services);
    healthRoutes(app, services);
  },
};

/**
 * Role `fanout`: the WebSocket endpoint `/ws`. A process running `api` serves it too (so under
 * `all` it is part of the API server); a `fanout`-only process serves just this and the health
 * server, for scaling WebSocket connections apart from the REST API.
 */
export const fanoutDomain: Domain = {
  name: 'fanout',
  roles: ['fanout'],
  httpRoles: [API_ROLE, 'fanout'],
  routes: async (app, services) => {
    const { attachFanout } = await import('./fanout.ts');
    const { approvalTopicGuard } = await import('../workflows/index.ts');
    const fanout = attachFanout(app.server, services.events, {
      token: services.config.NOVA_API_TOKEN, allowedOrigins: services.config.NOVA_ALLOWED_ORIGINS, log: services.log.child('Fanout'),
      // With NOVA_USERS, an approver's topics need their personal token (the API token is shared).
      mayWatch: approvalTopicGuard((services.config as Partial<WorkflowsConfig>).NOVA_USERS),
    });
    // preClose, not onClose: the HTTP server's close waits for every socket, upgraded ones
    // included, so WebSocket clients must be sent away before it, or a tab open keeps Nova up.
    app.addHook('preClose', async () => fanout.close());
  },
};
