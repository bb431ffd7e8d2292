import { dealsDomain } from './deals/index.ts';
import { emailDomain } from './email/index.ts';
import { extractionDomain } from './extraction/index.ts';
import { dashboardDomain } from './http/dashboard.ts';
import { apiDomain, fanoutDomain } from './http/index.ts';
import { loadDomainConfig, type Domain } from './runtime/domain.ts';
import type { DealsConfig } from './deals/config.ts';
import type { EmailConfig } from './email/config.ts';
import type { ExtractionConfig } from './extraction/config.ts';
import { workflowEngineOf, workflowsDomain, type WorkflowsDomain } from './workflows/index.ts';
import { approvalLinkMailer, createNotify } from './notify/index.ts';
import type { NotifyConfig } from './notify/config.ts';
import { exampleWorkflows } from './workflows/examples.ts';
import type { WorkflowsConfig } from './workflows/config.ts';

/**
 * Every domain Nova ships, in one list the runtime reads. Each domain declares its own queues,
 * loops, routes and roles in its folder; nothing is wired by hand in main.
 */
// Notification deliveries run on the workflows engine: the notify domain declares its workflow
// to it and starts runs on the engine of the runtime it runs in, which sets the workflows domain
// up in `notifications` processes too.
const notify = createNotify({ engine: workflowEngineOf });
const workflows: WorkflowsDomain = {
  // Approvers with an address in NOVA_USERS get their signed links by mail (notify/approval-mail.ts).
  ...workflowsDomain({ workflows: [...exampleWorkflows, ...notify.workflows], sendLinks: approvalLinkMailer() }),
  setupRoles: ['notifications'],
};

export const domains: Domain[] = [
  apiDomain, fanoutDomain, emailDomain, extractionDomain, workflows, dealsDomain, notify.domain,
  dashboardDomain(),
];

/** The boot configuration of every shipped domain: the engine's variables and each slice. */
export type NovaConfig = EmailConfig & ExtractionConfig & WorkflowsConfig & DealsConfig & NotifyConfig;

/** Parses the environment with every shipped domain's slice and checks (ConfigError on a bad one). */
export function loadNovaConfig(env: NodeJS.ProcessEnv = process.env): NovaConfig {
  return loadDomainConfig(env, domains) as NovaConfig;
}
