import type { QueueClient } from '../queue/queue.ts';
import type { JobContext, Services } from '../runtime/domain.ts';
import type { DealsDeps } from './deps.ts';
import { ATTEMPTS, briefKey, DAILY_BRIEF_QUEUE, dayIn, type BriefFanoutJob } from './queues.ts';
import * as store from './store.ts';

export interface FanOutResult {
  queued: number;
  deals: number;
  results: { dealId: string; dealName: string; date: string; jobId: number }[];
}

/**
 * Queues one brief per active deal, all in one statement. The brief's date is the occurrence's
 * calendar day in the deal's own zone (deals.timezone), else in TIMEZONE: the cron fires once at
 * DAILY_BRIEF_TIME in TIMEZONE for every deal, and a deal abroad gets its local date on it (the
 * original dated every brief in UTC under a New York cron).
 */
export async function queueAllDailyBriefs(services: Pick<Services, 'sql'> & { queue: QueueClient }, at: Date, defaultZone: string): Promise<FanOutResult> {
  const deals = await store.activeDeals(services.sql);
  const items = deals.map((d) => {
    const date = dayIn(at, d.timezone ?? defaultZone);
    return { payload: { dealId: d.id, date }, dedupKey: briefKey(d.id, date), maxAttempts: ATTEMPTS[DAILY_BRIEF_QUEUE] };
  });
  const ids = await services.queue.sendBatch(DAILY_BRIEF_QUEUE, items);
  return {
    queued: ids.length,
    deals: deals.length,
    results: deals.map((d, i) => ({ dealId: d.id, dealName: d.name, date: items[i]!.payload.date, jobId: ids[i]! })),
  };
}

/** daily-brief-fanout (role `scheduler`): the schedule's job. */
export async function fanOutBriefs(job: BriefFanoutJob, ctx: JobContext<BriefFanoutJob, DealsDeps>): Promise<unknown> {
  const at = job.scheduledFor ? new Date(job.scheduledFor) : new Date();
  const { queued, deals } = await queueAllDailyBriefs(ctx.services, at, job.timezone ?? ctx.deps.config.TIMEZONE);
  ctx.log.info(`queued ${queued} daily briefs for ${deals} active deals`);
  return { queued, deals, scheduledFor: at.toISOString() };
}
