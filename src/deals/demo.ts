import type { Config } from '../config.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { DealsConfig } from './config.ts';

/**
 * The deals demo of `nova start`: with no GDRIVE_API_URL, a process that runs the API and the
 * deals roles (as `all` does) starts the Drive emulator in-process with a data-room folder,
 * creates a demo deal with a few emails, connects the folder (a full sync, then summaries), and
 * queues the deal's brief once the documents had time to be read: a newcomer sees a brief
 * within a minute, with no account. Every 30 s a file of the folder changes and Drive's push
 * notification starts an incremental sync. NOVA_DEMO=false (or GDRIVE_API_URL) turns it off.
 */

const NEEDS = ['api', 'daily-brief', 'documents', 'emails', 'source-sync'];
const DEAL_NAME = 'Demo: Project Falcon';
const FOLDER = 'demo-data-room';
const BRIEF_AFTER_MS = 15_000;
const CHANGE_EVERY_MS = 30_000;

const FIN_TEXT = 'Revenue grew 12% year on year to 48 million. EBITDA margin was 21%. Churn in the SMB segment rose, and cash conversion declined in Q3.';

/** The data room's files; the emulator and the PDF samples load only when the demo runs. */
async function demoFiles(): Promise<{ id: string; name: string; mimeType: string; content: string | Uint8Array }[]> {
  const { pdfBytes, scannedPdfBytes } = await import('../emulators/gdrive/samples.ts');
  return [
    { id: 'spa', name: 'Share purchase agreement (draft 3) legal.txt', mimeType: 'text/plain', content:
      'This share purchase agreement sets out the sale of Falcon Ltd. The seller gives an indemnity capped at 20% of the price. ' +
      'A pending litigation with a former distributor is disclosed in schedule 4. Change of control consent is needed from two customers.' },
    { id: 'fin', name: 'Q3 financial summary.txt', mimeType: 'text/plain', content: FIN_TEXT },
    { id: 'hr', name: 'Key employee retention plan.txt', mimeType: 'text/plain', content:
      'Retention bonuses are proposed for 14 key employees. Severance terms for the CFO are under negotiation. Headcount is 312.' },
    { id: 'it', name: 'IT systems overview.pdf', mimeType: 'application/pdf', content:
      pdfBytes('The ERP runs on premises and the CRM in the cloud. A security audit found two high findings in network segmentation.') },
    // A scan with no text layer: its text comes from OCR (a second or two on the first start).
    { id: 'env', name: 'Environmental survey (scan).pdf', mimeType: 'application/pdf', content: scannedPdfBytes() },
  ];
}

const EMAILS = [
  { subject: 'Data room access for the lender', sender: 'counsel@seller-law.example', threadId: 'demo-1',
    body: 'We cannot proceed with the lender review until the NDA is countersigned. Please treat this as urgent.' },
  { subject: 'Deadline for the revised LOI', sender: 'banker@advisor.example', threadId: 'demo-2',
    body: 'The seller asks for the revised letter of intent by Friday. There is a concern about the earn-out mechanics.' },
  { subject: 'Management presentation', sender: 'ceo@falcon.example', threadId: 'demo-3',
    body: 'Thanks for the great session yesterday. We agreed on the next steps and the site visit is confirmed.' },
];

export interface DealsDemo {
  config: Config;
  begin(runtime: Runtime): Promise<void>;
  stop(): Promise<void>;
}

export async function prepareDealsDemo(config: Config, roles: Set<string>): Promise<DealsDemo | undefined> {
  const c = config as DealsConfig & { NOVA_DEMO?: boolean };
  if (c.GDRIVE_API_URL || c.NOVA_DEMO === false || !NEEDS.every((r) => roles.has(r))) return undefined;
  // As the email demo: never demo data in a server database unless asked for (NOVA_DEMO=true).
  if (c.DATABASE_URL && c.NOVA_DEMO !== true) return undefined;
  const token = `demo-${Math.random().toString(36).slice(2)}`;
  const { GdriveEmulator } = await import('../emulators/gdrive/index.ts');
  const drive = new GdriveEmulator({ token });
  await drive.start();
  for (const f of await demoFiles()) drive.put({ ...f, folderId: FOLDER });
  const timers: NodeJS.Timeout[] = [];
  return {
    config: { ...config, GDRIVE_API_URL: drive.url, GDRIVE_ACCESS_TOKEN: token } as Config,
    async begin(runtime) {
      const base = `http://127.0.0.1:${runtime.apiPort}`;
      const headers = { 'content-type': 'application/json', ...(config.NOVA_API_TOKEN && { authorization: `Bearer ${config.NOVA_API_TOKEN}` }) };
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
        if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
        return (await res.json()) as Record<string, any>;
      };
      const { deals } = await call('GET', '/api/deals');
      let deal = (deals as { id: string; name: string }[]).find((d) => d.name === DEAL_NAME);
      if (!deal) {
        deal = (await call('POST', '/api/deals', { name: DEAL_NAME })).deal as { id: string; name: string };
        for (const e of EMAILS) await call('POST', `/api/deals/${deal.id}/communications`, e);
      }
      // A new emulator each start: connect the folder again (a full sync; unchanged files are no-ops).
      const { source } = await call('POST', `/api/deals/${deal.id}/sources`, { sourceType: 'gdrive', folderId: FOLDER });
      drive.watch(source.channelId, `${base}/webhooks/gdrive`, source.channelToken);
      const dealId = deal.id;
      runtime.log.info('demo: Drive emulator running in-process; the demo deal gets its brief in about 15 s', { emulator: drive.url, dealId });
      timers.push(setTimeout(() => {
        call('POST', `/api/deals/${dealId}/briefs`, {}).catch((err: unknown) => runtime.log.warn('demo: could not queue the brief', { error: err }));
      }, BRIEF_AFTER_MS));
      let edit = 0;
      timers.push(setInterval(() => {
        edit++;
        drive.put({ id: 'fin', name: 'Q3 financial summary.txt', folderId: FOLDER, content: `${FIN_TEXT} Revision ${edit}.` });
        drive.notify(source.channelId).catch((err: unknown) => runtime.log.warn('demo: could not notify the Drive change', { error: err }));
      }, CHANGE_EVERY_MS));
      for (const t of timers) t.unref();
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      await drive.stop();
    },
  };
}
