/**
 * Notifications (seed 002, XNovu): role `notifications` dispatches due rows of
 * notify.ent_notification to delivery runs of the `notify.deliver` workflow (src/workflows), which
 * send them on their channels (email, in-app, chat, SMS, web push, or Novu forwarding). Routes run on the
 * `api` role. A dispatch job executes its delivery run's first tick itself; processes running
 * `workflow-runner` set this domain up too, as they execute the ticks after it (a send's retry).
 * `approvalLinkMailer` (approval-mail.ts) is the workflows domain's approval link sender, wired in
 * src/domains.ts.
 *
 * `createNotify` returns the domain and the workflow to declare to the workflows domain; the
 * workflow reads the deps of the runtime that set this domain up, so a process (or a test) that
 * runs several runtimes makes one `createNotify` per runtime.
 */
import { defineDomain, defineQueue, type Domain, type Services } from '../runtime/domain.ts';
import type { Workflow, WorkflowEngine } from '../workflows/index.ts';
import { registerNotifyCommands } from './cli.ts';
import { checkNotifyConfig, notifyConfig, type NotifyConfig } from './config.ts';
import { deliveryWorkflow } from './deliver.ts';
import { setupNotify, type NotifyDeps, type NotifySetupOptions } from './deps.ts';
import { DISPATCH_QUEUE, dispatchHandler, pollFailedRows, pollNewRows, pollScheduledRows, type DispatchJob } from './dispatch.ts';
import { DIGEST_QUEUE, flushDigests, sendDigest, type DigestJob } from './digest.ts';
import { finishDigest } from './digest-store.ts';
import { RULE_QUEUE, RuleError, runRuleJob, syncRuleSchedules, type RuleJob } from './rules.ts';

export { notifyConfig, type NotifyConfig } from './config.ts';
export { approvalLinkMailer } from './approval-mail.ts';
export { DISPATCH_QUEUE, type DispatchJob } from './dispatch.ts';
export { DELIVER_WORKFLOW } from './deliver.ts';
export { DIGEST_QUEUE, type DigestJob } from './digest.ts';
export { RULE_QUEUE, type RuleJob } from './rules.ts';
export { inboxTopic } from './channels/in-app.ts';
export type { ChannelProvider, OutgoingMessage, SendResult } from './channels/types.ts';
export { PermanentDeliveryError } from './channels/types.ts';
export type { NotifyDeps } from './deps.ts';

export const NOTIFICATIONS_ROLE = 'notifications';

declare module '../queue/types.ts' {
  interface JobCatalog {
    'notify.dispatch': DispatchJob;
    'notify.digest': DigestJob;
    'notify.rule': RuleJob;
  }
}

export const NOTIFY_TABLES = [
  'notify.typ_notification_category', 'notify.typ_notification_priority', 'notify.ent_notification_template', 'notify.ent_notification_workflow',
  'notify.ent_notification_rule', 'notify.ent_notification', 'notify.ent_subscriber', 'notify.ent_subscriber_preference',
  'notify.ent_notification_delivery', 'notify.ent_inbox_message', 'notify.ent_digest_event', 'notify.ent_digest', 'notify.poll_cursor',
];

export interface NotifyOptions extends NotifySetupOptions {
  /** The workflows engine of a runtime (the workflows domain's `engine`). */
  engine: (services: Services) => WorkflowEngine;
}

export function createNotify(options: NotifyOptions): { domain: Domain; workflows: Workflow<any, any>[] } {
  let current: NotifyDeps | undefined;
  const deps = () => {
    if (!current) throw new Error('the notify domain is not set up in this process: run workflow-runner with the notify domain declared');
    return current;
  };
  const domain = defineDomain<NotifyDeps, typeof notifyConfig.shape>({
    name: 'notify',
    group: 'notifications',
    roles: [NOTIFICATIONS_ROLE],
    setupRoles: ['workflow-runner'],
    config: notifyConfig,
    checkConfig: checkNotifyConfig,
    owns: NOTIFY_TABLES,
    setup: async (services) => {
      current = await setupNotify(services, options.engine(services), options);
      return current;
    },
    queues: (c) => [
      defineQueue({
        name: DISPATCH_QUEUE, role: NOTIFICATIONS_ROLE, handler: (payload: DispatchJob, ctx) => dispatchHandler(ctx.deps)(payload, ctx),
        concurrency: (c as NotifyConfig).NOTIFY_CONCURRENCY, batchSize: 64,
        // A dispatch claims a row, starts its run and ticks it (the sends' own failures are the
        // run's data): it fails on infrastructure errors alone. No timeout, as for a
        // workflow.tick job: the run's steps have their own (the channels' timeouts).
        retry: { maxAttempts: 10, baseDelayMs: 500, maxDelayMs: 30_000 },
      }),
      defineQueue({
        name: DIGEST_QUEUE, role: NOTIFICATIONS_ROLE, handler: (payload: DigestJob, ctx) => sendDigest(ctx.deps, payload, ctx),
        concurrency: (c as NotifyConfig).NOTIFY_CONCURRENCY, batchSize: 64,
        retry: { maxAttempts: (c as NotifyConfig).NOTIFY_DELIVERY_ATTEMPTS, baseDelayMs: (c as NotifyConfig).NOTIFY_RETRY_BASE_MS, maxDelayMs: 300_000 },
        timeoutMs: 60_000,
        onDead: async (job, ctx) => finishDigest(ctx.tx, (job.payload as DigestJob).digestId, 'FAILED', null, ctx.error.message),
      }),
      defineQueue({
        name: RULE_QUEUE, role: NOTIFICATIONS_ROLE, handler: (payload: RuleJob, ctx) => runRuleJob(ctx.services.sql, payload),
        concurrency: 4, retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000 }, timeoutMs: 60_000,
        nonRetryable: (err) => err instanceof RuleError,
      }),
    ],
    loops: (c) => {
      const config = c as NotifyConfig;
      return [
        { name: 'notify-poll-new', role: NOTIFICATIONS_ROLE, singleton: true, intervalMs: config.POLL_INTERVAL_MS, run: async (ctx) => void (await pollNewRows(ctx)) },
        { name: 'notify-poll-failed', role: NOTIFICATIONS_ROLE, singleton: true, intervalMs: config.FAILED_POLL_INTERVAL_MS, run: async (ctx) => void (await pollFailedRows(ctx)) },
        { name: 'notify-rules', role: NOTIFICATIONS_ROLE, singleton: true, intervalMs: config.RULE_POLL_INTERVAL_MS, run: async (ctx) => void (await syncRuleSchedules(ctx.services)) },
        // Not a singleton: flushes on several replicas skip each other's claimed rows.
        { name: 'notify-digest', role: NOTIFICATIONS_ROLE, intervalMs: config.NOTIFY_DIGEST_INTERVAL_MS, run: async (ctx) => void (await flushDigests(ctx, 500, ctx.deps.config.NOTIFY_DIGEST_MAX_WAIT_MS)) },
        { name: 'notify-poll-scheduled', role: NOTIFICATIONS_ROLE, singleton: true, intervalMs: config.SCHEDULED_POLL_INTERVAL_MS, run: async (ctx) => void (await pollScheduledRows(ctx)) },
      ];
    },
    routes: async (app, _services, d) => {
      const { notifyRoutes } = await import('./api.ts');
      await app.register(async (scope) => notifyRoutes(scope, d));
    },
    commands: registerNotifyCommands,
    stop: async (d) => {
      await d.close();
      if (current === d) current = undefined;
    },
  });
  return { domain, workflows: [deliveryWorkflow(deps)] };
}
