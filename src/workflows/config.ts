import { z } from 'zod';
import { int, type Config } from '../config.ts';
import { usersVariable } from './identity.ts';

/** The workflows domain's variables (roles workflow-runner, http-worker, hitl-worker, agent-runner), part of the boot schema. */
export const workflowsConfig = z.object({
  /** Ticks run at once per `workflow-runner` process (a waiting run takes none). */
  WORKFLOW_RUNNER_CONCURRENCY: int(64, 1, 10_000),
  /** HTTP steps in flight per `http-worker` process. */
  HTTP_WORKER_CONCURRENCY: int(32, 1, 10_000),
  HTTP_STEP_TIMEOUT_MS: int(30_000, 100),
  /** Response bodies larger than this fail the step (the original read them whole). */
  HTTP_STEP_MAX_RESPONSE_BYTES: int(1_048_576, 1024),
  /** Hosts or IPs (comma list) HTTP steps may reach although they are loopback/private/link-local. */
  HTTP_STEP_ALLOWED_HOSTS: z.string().default('').transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)),
  /**
   * How long events sent with POST /api/events are kept: a waitForEvent registering within this
   * window after the event was sent (and after its run started) still receives it.
   */
  WORKFLOW_EVENT_RETENTION_MS: int(3_600_000, 1000),
  /** Runs one identity may start per minute (POST /api/workflows/:name/runs and /api/v1/…/execute together); 0: no limit. */
  WORKFLOW_START_RATE_LIMIT: int(50, 0, 1_000_000),
  /** Model calls of agent steps in flight per `agent-runner` process (each mostly waits on the provider). */
  AGENT_RUNNER_CONCURRENCY: int(16, 1, 10_000),
  /** Patches an agent may apply to its running workflow document (all agents of a run together). */
  AGENT_MAX_RUN_PATCHES: int(5, 0, 1000),
  /** Agent nodes a patched document may hold at most (the original's "max 5 agents", which never fired). */
  AGENT_MAX_AGENT_NODES: int(5, 1, 1000),
  /**
   * Approvers and their personal tokens and roles, `name:token[:role|role],…`: set, a decision's
   * identity is the user of the `X-User-Token` it carries, no longer the X-User-ID header.
   */
  NOVA_USERS: usersVariable,
  /** Approval requests delivered at once per `hitl-worker` process. */
  HITL_WORKER_CONCURRENCY: int(16, 1, 10_000),
  /**
   * HMAC key of signed approval links; every process that makes or checks links needs the same
   * one. Unset, each process makes up its own at start: links then work only on the process
   * that made them and die with it, so that is for development only.
   */
  APPROVAL_LINK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Where approvers reach the API from (the links' origin); default NOVA_API_URL. */
  APPROVAL_LINK_BASE_URL: z.url({ error: 'must be a URL' }).optional().transform((u) => u?.replace(/\/+$/, '')),
  /** How long a signed approval link stays valid (never past the approval's own timeout). */
  APPROVAL_LINK_TTL_MS: int(7 * 86_400_000, 1000),
});

export type WorkflowsConfig = Config & z.infer<typeof workflowsConfig>;
