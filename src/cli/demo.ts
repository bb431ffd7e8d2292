import { randomBytes } from 'node:crypto';
import type { EmailConfig as Config } from '../email/config.ts';
import type { Runtime } from '../runtime/runtime.ts';

/**
 * The demo default of `nova start`: with no NYLAS_API_KEY, a process that runs the API and the
 * email roles (as `all` does) starts the Nylas emulator in-process with a demo mailbox, connects
 * it as an inbox and starts its backfill, then delivers a new message by signed webhook now and
 * then. A newcomer opening the dashboard sees discovery, thread sync, extraction and live events
 * within seconds, with no account. Set NYLAS_API_KEY (or NOVA_DEMO=false) to turn it off. On a
 * PostgreSQL server (DATABASE_URL) it starts only with NOVA_DEMO=true.
 */

const GRANT = 'demo-grant';
const NEEDS = ['api', 'webhooks', 'backfill', 'threads', 'completion'];
const NEW_MESSAGE_EVERY_MS = 20_000;

export interface Demo {
  /** The configuration pointing Nova at the emulator. */
  config: Config;
  /** Connects the demo inbox and starts its backfill (once per database). */
  begin(runtime: Runtime): Promise<void>;
  stop(): Promise<void>;
}

export async function prepareDemo(config: Config, roles: Set<string>): Promise<Demo | undefined> {
  if (config.NYLAS_API_KEY || config.NOVA_DEMO === false || !NEEDS.every((r) => roles.has(r))) return undefined;
  // A server database may be production: the demo inbox goes there only when asked for by name.
  if (config.DATABASE_URL && config.NOVA_DEMO !== true) return undefined;
  const apiKey = `demo-${randomBytes(8).toString('hex')}`;
  const secret = config.NYLAS_WEBHOOK_SECRET ?? `demo-${randomBytes(16).toString('hex')}`;
  // Loaded only when the demo runs: a production process carries no emulator.
  const { NylasEmulator } = await import('../emulators/nylas/index.ts');
  const emulator = new NylasEmulator({
    apiKey, webhookSecret: secret, threadsPerGrant: 120, messagesPerThread: 3,
    // The API server listens on PORT; a port of 0 is only known once it runs (set in begin).
    webhookUrl: `http://127.0.0.1:${config.PORT}/webhooks/nylas`,
  });
  await emulator.start();
  let timer: NodeJS.Timeout | undefined;
  return {
    config: { ...config, NYLAS_API_KEY: apiKey, NYLAS_API_URI: emulator.url, NYLAS_WEBHOOK_SECRET: secret },
    async begin(runtime) {
      const base = `http://127.0.0.1:${runtime.apiPort}`;
      const headers = { 'content-type': 'application/json', ...(config.NOVA_API_TOKEN && { authorization: `Bearer ${config.NOVA_API_TOKEN}` }) };
      const post = async (path: string, body: unknown) => {
        const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
        return { status: res.status, body: (await res.json()) as Record<string, any> };
      };
      const connected = await post('/api/inboxes', { grantId: GRANT, email: 'demo@nova.example', provider: 'google' });
      const inbox = connected.body.inbox as { id: string };
      const listed = await fetch(`${base}/api/inboxes`, { headers }).then((r) => r.json() as Promise<{ inboxes: { id: string; backfillStatus: string | null }[] }>);
      const status = listed.inboxes.find((i) => i.id === inbox.id)?.backfillStatus;
      // A database that already ran the demo keeps its mailbox; only a fresh one starts a backfill.
      if (status === 'pending' || status === null || status === undefined) {
        const started = await post(`/api/inboxes/${inbox.id}/backfill`, {});
        runtime.log.info('demo: Nylas emulator running in-process; backfilling the demo mailbox', {
          emulator: emulator.url, configId: started.body.configId, dashboard: `http://localhost:${runtime.apiPort}/`,
        });
      } else {
        runtime.log.info('demo: Nylas emulator running in-process; the demo mailbox was synced before', { dashboard: `http://localhost:${runtime.apiPort}/` });
      }
      const url = `${base}/webhooks/nylas`;
      timer = setInterval(() => {
        emulator.createMessage(GRANT, {}, { deliver: false })
          .then(({ message }) => emulator.sendWebhook('message.created', message, { url }))
          .catch((err: unknown) => runtime.log.warn('demo: could not deliver a new message', { error: err }));
      }, NEW_MESSAGE_EVERY_MS);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await emulator.stop();
    },
  };
}
