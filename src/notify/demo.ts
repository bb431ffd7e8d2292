import type { Config } from '../config.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { NotifyConfig } from './config.ts';

/**
 * The notifications demo of `nova start`: a process that runs the API, `notifications` and
 * `workflow-runner` (as `all` does) with no NOTIFY_SMTP_URL gets a demo workflow with email and
 * in-app templates, a demo subscriber, and one notification, delivered to the in-process SMTP
 * sink, the inbox and (with no VAPID keys) the in-process push service within a second
 * (GET /api/notify/emulator/smtp, GET /api/notify/emulator/push, the Notifications page).
 * NOVA_DEMO=false turns it off; on a PostgreSQL server (DATABASE_URL) it runs only with NOVA_DEMO=true.
 */

const NEEDS = ['api', 'notifications', 'workflow-runner'];
export const DEMO_SUBSCRIBER = '00000000-0000-4000-8000-00000000d3e0';

export interface NotifyDemo {
  begin(runtime: Runtime): Promise<void>;
}

export function prepareNotifyDemo(config: Config, roles: Set<string>): NotifyDemo | undefined {
  const c = config as NotifyConfig & { NOVA_DEMO?: boolean };
  if (c.NOTIFY_SMTP_URL || c.NOVA_DEMO === false || !NEEDS.every((r) => roles.has(r))) return undefined;
  if (c.DATABASE_URL && c.NOVA_DEMO !== true) return undefined;
  return {
    async begin(runtime) {
      const base = `http://127.0.0.1:${runtime.apiPort}`;
      const headers = { 'content-type': 'application/json', ...(config.NOVA_API_TOKEN && { authorization: `Bearer ${config.NOVA_API_TOKEN}` }) };
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
        if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
        return (await res.json()) as Record<string, any>;
      };
      try {
        await call('PUT', '/api/notify/templates/demo-welcome-email', {
          channel: 'EMAIL', subject: 'Welcome to Nova, {{ subscriber.name }}',
          body: '<h1>Hello {{ subscriber.name }}</h1><p>Your workspace <b>{{ workspace }}</b> is ready.</p>',
        });
        await call('PUT', '/api/notify/templates/demo-welcome-inapp', { channel: 'IN_APP', subject: 'Welcome!', body: 'Workspace {{ workspace }} is ready.' });
        await call('PUT', '/api/notify/templates/demo-welcome-push', { channel: 'PUSH', subject: 'Welcome, {{ subscriber.name }}', body: 'Workspace {{ workspace }} is ready.' });
        // A browser of the demo subscriber, subscribed on the in-process push service (there with no VAPID keys).
        const push = await fetch(`${base}/api/notify/emulator/push/subscriptions`, { method: 'POST', headers, body: '{}' });
        const pushSubscriptions = push.ok ? [await push.json()] : [];
        const channels = pushSubscriptions.length ? ['EMAIL', 'IN_APP', 'PUSH'] : ['EMAIL', 'IN_APP'];
        await call('PUT', '/api/notify/workflows/demo-welcome', {
          name: 'Demo: welcome', defaultChannels: channels, templates: { EMAIL: 'demo-welcome-email', IN_APP: 'demo-welcome-inapp', PUSH: 'demo-welcome-push' },
        });
        // The in-process push service is new at each start: the demo subscriber's browser subscribes again.
        await call('PUT', `/api/notify/subscribers/${DEMO_SUBSCRIBER}`, { name: 'Ada Lovelace', email: 'ada@nova.example', timezone: 'Europe/London', pushSubscriptions });
        // Once per database: the same transaction id returns the first notification.
        const { notification, created } = await call('POST', '/api/notifications', {
          workflowKey: 'demo-welcome', recipients: [DEMO_SUBSCRIBER], payload: { workspace: 'nova-demo' }, transactionId: 'demo-welcome-1',
        });
        runtime.log.info('demo: a welcome notification goes to the in-process SMTP sink, push service and the demo inbox', {
          notificationId: notification.id, created, mail: `${base}/api/notify/emulator/smtp`, inbox: `${base}/api/notify/inbox/${DEMO_SUBSCRIBER}`, push: `${base}/api/notify/emulator/push`,
        });
      } catch (err) {
        runtime.log.warn('demo: could not set up the notifications demo', { error: err });
      }
    },
  };
}
