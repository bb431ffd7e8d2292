import { listExtractions } from '../extraction/index.ts';
import type { Job } from '../queue/types.ts';
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import { emailOutput, parsed, type EmailOutput } from './analysis.ts';
import type { DealsDeps } from './deps.ts';
import type { EmailJob } from './queues.ts';
import * as store from './store.ts';
import { isUuid } from './ids.ts';

/** The communication a job names is gone (or belongs to another deal). */
export class EmailNotFound extends Error {
  override name = 'EmailNotFound';
}

/**
 * email-processing over `communications` (the rows syncs write, which the brief reads too: the
 * original's brief read the legacy `emails` table instead). A mail that came through Nova's email
 * sync already has an AI extraction (email_extractions): its sentiment and blocker are reused,
 * with no second LLM call.
 */
export async function processEmail(job: EmailJob, ctx: JobContext<EmailJob, DealsDeps>): Promise<unknown> {
  const { sql } = ctx.services;
  const email = await store.getCommunication(sql, job.emailId);
  if (!email || email.deal_id !== job.dealId) throw new EmailNotFound(`communication ${job.emailId} of deal ${job.dealId} not found`);
  await ctx.progress(10);

  let analysis = await fromExtraction(ctx, email.message_id);
  const source = analysis ? 'email_extractions' : ctx.deps.analyzer.provider;
  if (!analysis) {
    analysis = parsed(emailOutput, await ctx.deps.analyzer.analyzeEmail({ subject: email.subject, sender: email.sender, body: email.body ?? '' }, ctx.signal));
  }
  await ctx.progress(30);

  let { sentiment, isBlocker } = analysis;
  let thread: { messages: number; blockedBy: string | null } | undefined;
  if (job.operation === 'detect_blocker' && email.thread_id) {
    // The whole thread, within this deal only: a blocker anywhere in it blocks the deal.
    const messages = await store.threadOf(sql, email.deal_id, email.thread_id);
    const blocked = messages.find((m) => m.is_blocker && m.id !== email.id);
    thread = { messages: messages.length, blockedBy: blocked?.id ?? null };
    if (blocked) isBlocker = true;
  }
  if (isBlocker) sentiment = 'blocker';
  await store.saveEmailAnalysis(sql, email.id, sentiment, isBlocker, { ...analysis, source, thread });
  await ctx.progress(100);
  return { emailId: email.id, operation: job.operation, sentiment, isBlocker, source };
}

/** The email domain's stored extraction of the message, mapped to the deal analysis, if any. */
async function fromExtraction(ctx: JobContext<EmailJob, DealsDeps>, messageId: string | null): Promise<EmailOutput | undefined> {
  if (!messageId) return undefined;
  const done = (await listExtractions(ctx.services.sql, messageId)).find((r) => r.status === 'succeeded' && r.result);
  if (!done?.result) return undefined;
  const r = done.result;
  const negative = r.sentiment.label === 'negative' || r.sentiment.label === 'mixed';
  return {
    sentiment: r.blocker.isBlocker ? 'blocker' : negative ? 'risk' : r.sentiment.label === 'positive' ? 'positive' : 'neutral',
    isBlocker: r.blocker.isBlocker,
    blockerReason: r.blocker.reason,
    keyPoints: [r.summary, ...r.actionItems.map((a) => a.text)].slice(0, 10),
  };
}

export const isPermanentEmailError = (err: unknown) => err instanceof EmailNotFound;

/** Every attempt failed: the communication row keeps the reason. */
export async function onEmailDead(job: Job<unknown>, ctx: DeadContext<DealsDeps>): Promise<void> {
  const p = job.payload as Partial<EmailJob>;
  if (!isUuid(p?.emailId)) return;
  await store.markEmailFailed(ctx.tx, p.emailId, `${p.operation ?? 'analysis'} failed: ${ctx.error.message}`.slice(0, 2000));
}
