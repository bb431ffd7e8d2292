import { emailDomain } from './email/index.ts';
import type { Domain } from './runtime/domain.ts';
import { API_ROLE } from './runtime/runtime.ts';

/** The API server: serves the routes every domain declares (webhooks, management). */
const apiDomain: Domain = { name: 'api', roles: [API_ROLE] };

/**
 * Every domain Nova ships, in one list the runtime reads. Each domain declares its own queues,
 * loops, routes and roles in its folder; nothing is wired by hand in main.
 */
export const domains: Domain[] = [apiDomain, emailDomain];
