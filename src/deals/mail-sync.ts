import type { NylasClient } from '../email/index.ts';
import { findMessage } from '../extraction/index.ts';
import type { JobContext } from '../runtime/domain.ts';
import type { DealsDeps } from './deps.ts';
import { queueEmailProcessing, type SourceSyncJob } from './queues.ts';
import * as sources from './sources-store.ts';
import * as store from './store.ts';
import type { SourceRow } from './store.ts';
import type { SyncResult } from './sync-result.ts';

/** Messages per Nylas page. */
const PAGE = 200;

type Message = Awaited<ReturnType<NylasClient['listMessages']>>['data'][number];

/** A mail source's configuration: the deal inbox's Nylas grant and who makes a mail the deal's. */
export interface MailSourceConfig {
  grantId: string;
  participants: string[];
  domains: string[];
}

export function mailConfig(source: SourceRow): MailSourceConfig {
  const c = source.configuration ?? {};
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase()) : []);
  if (typeof c.grantId !== 'string' || !c.grantId) throw new Error(`the ${source.source_type} source has no Nylas grant (grantId)`);
  return { grantId: c.grantId, participants: list(c.participants), domains: list(c.domains).map((d) => d.replace(/^@/, '')) };
}

/** Whether a message is the deal's: any participant is a listed address or at a listed domain. */
export function belongsToDeal(message: Message, config: MailSourceConfig): boolean {
  const people = [...message.from, ...message.to, ...message.cc, ...message.bcc].map((p) => p.email.toLowerCase());
  return people.some((email) => config.participants.includes(email) || config.domains.includes(email.slice(email.lastIndexOf('@') + 1)));
}

/**
 * Gmail and Outlook sources, both through the Nylas grant of the deal's inbox (Nylas speaks to
 * either provider; the source type names which one the grant is). The cursor is the newest
 * received time already synced (unix seconds, in page_token): a run lists what arrived since, from
 * the newest down, and saves the new cursor only when every page is in. A run that fails part-way
 * lists the same window again; messages already stored are skipped by the unique
 * (deal, source type, message id), so none is missed and none is analysed twice. With no cursor
 * (or `full`) the window is the last DEALS_MAIL_LOOKBACK_DAYS days, as the original's 30.
 * Each new message becomes a communication and queues its sentiment analysis; a message that
 * Nova's email sync already holds is linked to it, so its AI extraction is reused.
 */
export async function mailSync(source: SourceRow, job: SourceSyncJob, ctx: JobContext<SourceSyncJob, DealsDeps>): Promise<SyncResult> {
  const { sql, queue } = ctx.services;
  const config = mailConfig(source);
  const nylas = ctx.deps.nylas.client();
  const r: SyncResult = { synced: 0, newDocuments: 0, updatedDocuments: 0, deletedDocuments: 0, filesScanned: 0, pages: 0, newEmails: 0 };
  const saved = Number(source.page_token);
  const lookback = Math.floor(Date.now() / 1000) - ctx.deps.config.DEALS_MAIL_LOOKBACK_DAYS * 86_400;
  const after = job.syncType === 'incremental' && Number.isInteger(saved) && saved > 0 ? saved : lookback;
  // Nylas filters by address; domains are matched here, so with domains the listing is unfiltered.
  const anyEmail = config.domains.length ? undefined : config.participants;
  if (!config.domains.length && !config.participants.length) throw new Error(`the ${source.source_type} source lists no participants or domains`);
  let newest = after;
  let pageToken: string | undefined;
  do {
    const page = await nylas.listMessages(config.grantId, { limit: PAGE, pageToken, receivedAfter: after, anyEmail }, ctx.signal);
    await sql.transaction(async (tx) => {
      for (const m of page.data) {
        newest = Math.max(newest, m.date);
        if (!belongsToDeal(m, config)) continue;
        const known = await findMessage(tx, m.id);
        const id = await store.insertSyncedCommunication(tx, {
          dealId: source.deal_id, subject: m.subject ?? '(no subject)', sender: m.from[0]?.email ?? 'unknown',
          recipients: m.to.map((p) => p.email), body: m.body ?? m.snippet ?? null, threadId: m.thread_id, sourceType: source.source_type,
          sourceId: m.id, messageId: known?.id ?? null, receivedAt: new Date(m.date * 1000),
        });
        if (!id) continue;
        r.newEmails!++;
        r.synced++;
        await queueEmailProcessing(queue, id, source.deal_id, 'analyze_sentiment', tx);
      }
    });
    r.filesScanned += page.data.length;
    r.pages++;
    pageToken = page.nextCursor ?? undefined;
    if (pageToken) await ctx.progress({ pages: r.pages, messagesScanned: r.filesScanned });
  } while (pageToken);
  await sources.savePageToken(sql, source.id, String(newest));
  return r;
}
