import { emailDomain } from './email/index.ts';
import { extractionDomain } from './extraction/index.ts';
import { dashboardDomain } from './http/dashboard.ts';
import { apiDomain, fanoutDomain } from './http/index.ts';
import type { Domain } from './runtime/domain.ts';
import { workflowsDomain } from './workflows/index.ts';
import { exampleWorkflows } from './workflows/examples.ts';

/**
 * Every domain Nova ships, in one list the runtime reads. Each domain declares its own queues,
 * loops, routes and roles in its folder; nothing is wired by hand in main.
 */
export const domains: Domain[] = [
  apiDomain, fanoutDomain, emailDomain, extractionDomain, workflowsDomain({ workflows: exampleWorkflows }), dashboardDomain(),
];
