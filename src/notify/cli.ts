import type { Command } from 'commander';
import { apiClient } from '../cli/api-client.ts';

interface Listed {
  id: number;
  status: string;
  name: string;
  recipients: string[];
  channels: string[] | null;
  createdAt: string;
  processedAt: string | null;
}

/**
 * `nova notify send|list|retract|resend`: through the API server (NOVA_API_URL, with NOVA_API_TOKEN when
 * set), so it works the same against `npm start` and a cluster.
 */
export function registerNotifyCommands(program: Command): void {
  const notify = program.command('notify').description('send, list, retract and resend notifications (through the API server)');

  notify
    .command('send')
    .description('trigger a notification workflow for recipients')
    .argument('<workflowKey>', 'the workflow (ent_notification_workflow.workflow_key)')
    .argument('<recipients...>', 'subscriber ids (UUIDs)')
    .option('--payload <json>', 'payload as JSON', '{}')
    .option('--channels <list>', 'comma list of IN_APP, EMAIL, SMS, CHAT, PUSH (default: the workflow\'s)')
    .option('--transaction-id <id>', 'idempotency key: the same id returns the first notification')
    .option('--at <iso>', 'deliver no sooner than this time (scheduled_for)')
    .action(async (workflowKey: string, recipients: string[], opts: { payload: string; channels?: string; transactionId?: string; at?: string }) => {
      let payload: unknown;
      try {
        payload = JSON.parse(opts.payload);
      } catch {
        throw new Error('--payload is not valid JSON');
      }
      const api = apiClient('nova notify');
      const r = await api.request<{ notification: Listed; created: boolean }>('POST', '/api/notifications', {
        workflowKey, recipients, payload,
        ...(opts.channels && { channels: opts.channels.split(',').map((c) => c.trim().toUpperCase()) }),
        ...(opts.transactionId && { transactionId: opts.transactionId }),
        ...(opts.at && { scheduledFor: opts.at }),
      });
      console.log(`${r.created ? 'created' : 'already existed:'} notification ${r.notification.id} (${r.notification.status})`);
    });

  notify
    .command('list')
    .description('the latest notifications')
    .option('--status <status>', 'PENDING, PROCESSING, SENT, FAILED or RETRACTED')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action(async (opts: { status?: string; limit: string; json?: boolean }) => {
      const api = apiClient('nova notify');
      const q = new URLSearchParams({ limit: opts.limit, ...(opts.status && { status: opts.status.toUpperCase() }) });
      const r = await api.request<{ notifications: Listed[] }>('GET', `/api/notifications?${q}`);
      if (opts.json) return console.log(JSON.stringify(r.notifications, null, 2));
      for (const n of r.notifications) {
        console.log(`${String(n.id).padStart(8)}  ${n.status.padEnd(10)}  ${n.createdAt}  ${(n.channels ?? []).join(',').padEnd(14)}  ${n.recipients.length} recipient(s)  ${n.name}`);
      }
      if (r.notifications.length === 0) console.log('no notifications');
    });

  notify
    .command('retract')
    .description('retract a notification: before delivery it is not sent; after, its in-app messages are withdrawn')
    .argument('<id>', 'the notification id')
    .option('--reason <text>', 'recorded as retraction_reason')
    .action(async (id: string, opts: { reason?: string }) => {
      const api = apiClient('nova notify');
      const r = await api.request<{ previousStatus: string; inAppRetracted: number }>('POST', `/api/notifications/${encodeURIComponent(id)}/retract`, opts.reason ? { reason: opts.reason } : {});
      console.log(`notification ${id} retracted (was ${r.previousStatus}; ${r.inAppRetracted} in-app message(s) withdrawn)`);
    });

  notify
    .command('resend')
    .description('send a FAILED notification again (after fixing its template or recipient); deliveries already sent are not repeated')
    .argument('<id>', 'the notification id')
    .action(async (id: string) => {
      const api = apiClient('nova notify');
      await api.request('POST', `/api/notifications/${encodeURIComponent(id)}/resend`, {});
      console.log(`notification ${id} is PENDING again: it is dispatched at once`);
    });
}
