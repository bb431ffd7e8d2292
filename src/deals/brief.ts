import type { Job } from '../queue/types.ts';
import type { DeadContext, JobContext } from '../runtime/domain.ts';
import { briefNarrative, parsed, type BriefNarrative } from './analysis.ts';
import type { DealsDeps } from './deps.ts';
import { isUuid } from './ids.ts';
import { isDay, type DailyBriefJob } from './queues.ts';
import * as store from './store.ts';

const DAY_MS = 86_400_000;
const LEGAL_TERMS = /legal|compliance|liability/i;
const NOTABLE_SUBJECT = /approval|deadline|urgent|review/i;

export interface BriefInputs {
  dealName: string;
  date: string;
  /** The brief's "now": the end of its day, or the present for today's. */
  asOf: Date;
  documents: store.DocumentRow[];
  communications: store.CommunicationRow[];
  workstreams: { id: string; name: string }[];
  previous: store.BriefRow | undefined;
}

/** The original's five JSON sections (with Nova's additions: summaries, sentiment counts). */
export interface Sections {
  progress_snapshot: { overall: number; workstreams: Record<string, number>; change_vs_previous: number };
  changes: { new_documents: string[]; updated_documents: string[]; reviewed_count: number; summaries: { document: string; summary: string | null }[] };
  blockers: { items: { title: string; workstream: string; age_days: number; owner?: string }[] };
  risks: { items: { title: string; severity: string; source: string; citation?: string }[] };
  communications: { notable: { subject: string; sender: string; snippet: string; reason: string }[]; sentiment: Record<string, number> };
}

/** A brief: the sections plus the same as Markdown, opened by the LLM's narrative when there is one. */
export type Brief = Sections & { markdown: string; narrative: BriefNarrative | null };

/**
 * The original's heuristics, on `communications` (what syncs write) and with the documents'
 * stored risks and summaries added. Pure: the same inputs give the same brief.
 */
export function buildBrief(input: BriefInputs, narrative: BriefNarrative | null = null): Brief {
  const now = input.asOf.getTime();
  const recent = (d: Date) => now - d.getTime() <= DAY_MS && d.getTime() <= now;
  const docs = input.documents.filter((d) => d.status !== 'deleted');
  const reviewed = docs.filter((d) => d.status === 'reviewed');
  const pct = (part: number, all: number) => (all ? Math.round((part / all) * 100) : 0);

  const byWorkstream: Record<string, number> = {};
  for (const ws of input.workstreams) {
    const mine = docs.filter((d) => d.workstream_id === ws.id);
    byWorkstream[ws.name] = pct(mine.filter((d) => d.status === 'reviewed').length, mine.length);
  }
  const overall = pct(reviewed.length, docs.length);
  const previousOverall = (input.previous?.progress_snapshot as { overall?: number } | null)?.overall ?? 0;
  const progress_snapshot = { overall, workstreams: byWorkstream, change_vs_previous: previousOverall ? overall - previousOverall : 0 };

  const newDocs = docs.filter((d) => d.status === 'new' && recent(d.created_at));
  const changes = {
    new_documents: newDocs.map((d) => d.name),
    updated_documents: docs.filter((d) => d.status === 'updated' && recent(d.updated_at)).map((d) => d.name),
    reviewed_count: reviewed.length,
    summaries: newDocs.filter((d) => d.summary).map((d) => ({ document: d.name, summary: d.summary })),
  };

  const ageDays = (d: Date) => Math.max(0, Math.floor((now - d.getTime()) / DAY_MS));
  const flagged = input.communications.filter((c) => c.is_blocker || c.sentiment === 'risk' || c.sentiment === 'blocker');
  const blockers = {
    items: [
      ...flagged.slice(0, 5).map((c) => ({ title: c.subject, workstream: 'General', age_days: ageDays(c.received_at), owner: c.sender })),
      ...docs.filter((d) => d.status !== 'reviewed' && ageDays(d.updated_at) >= 7).slice(0, 3)
        .map((d) => ({ title: `Document pending review: ${d.name}`, workstream: d.workstream ?? 'General', age_days: ageDays(d.updated_at) })),
    ],
  };

  const risks = {
    items: [
      ...docs.flatMap((d) => ((d.risks as { title: string; severity: string; citation: string }[] | null) ?? [])
        .map((r) => ({ title: `${r.title}: ${d.name}`, severity: r.severity, source: d.name, citation: r.citation }))),
      ...newDocs.filter((d) => LEGAL_TERMS.test(d.name)).slice(0, 3)
        .map((d) => ({ title: `New ${d.workstream ?? 'document'} requires review`, severity: 'medium', source: d.name })),
    ].slice(0, 10),
  };

  const communications = {
    notable: input.communications
      .filter((c) => recent(c.received_at) && (NOTABLE_SUBJECT.test(c.subject) || c.is_blocker || c.sentiment === 'risk' || c.sentiment === 'blocker'))
      .slice(0, 5)
      .map((c) => ({
        subject: c.subject, sender: c.sender, snippet: (c.body ?? '').replace(/\s+/g, ' ').slice(0, 200),
        reason: c.is_blocker || c.sentiment === 'blocker' ? 'Blocker' : c.sentiment === 'risk' ? 'Risk' : 'Important',
      })),
    sentiment: countBy(input.communications.filter((c) => recent(c.received_at)).map((c) => c.sentiment ?? 'unanalyzed')),
  };

  const sections: Sections = { progress_snapshot, changes, blockers, risks, communications };
  return { ...sections, narrative, markdown: markdown(input.dealName, input.date, sections, narrative) };
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function markdown(deal: string, date: string, s: Sections, narrative: BriefNarrative | null): string {
  const list = (items: string[], none: string) => (items.length ? items.map((i) => `- ${i}`).join('\n') : `- ${none}`);
  const delta = s.progress_snapshot.change_vs_previous;
  return [
    `# ${deal}: daily brief, ${date}`,
    ...(narrative ? [`**${narrative.headline}**`, narrative.summary] : []),
    `## Progress`,
    `${s.progress_snapshot.overall}% of documents reviewed${delta ? ` (${delta > 0 ? '+' : ''}${delta} since the last brief)` : ''}.`,
    list(Object.entries(s.progress_snapshot.workstreams).map(([n, p]) => `${n}: ${p}%`), 'no workstreams'),
    `## Changes`,
    list([...s.changes.new_documents.map((n) => `New: ${n}`), ...s.changes.updated_documents.map((n) => `Updated: ${n}`)], 'no new or updated documents'),
    `## Blockers`,
    list(s.blockers.items.map((b) => `${b.title} (${b.workstream}, ${b.age_days} d)`), 'none'),
    `## Risks`,
    list(s.risks.items.map((r) => `**${r.severity}** ${r.title}`), 'none'),
    `## Communications`,
    list(s.communications.notable.map((c) => `${c.reason}: ${c.subject} (${c.sender})`), 'nothing notable'),
    '',
  ].join('\n\n');
}

/**
 * The builtin narrative (what the LLM emulator answers to a brief prompt): counts from the
 * sections, no model. The shipped builtin analyzer does not narrate.
 */
export function narrativeOf(dealName: string, s: Sections): BriefNarrative {
  const blockers = s.blockers.items.length;
  const risks = s.risks.items.length;
  const high = s.risks.items.filter((r) => r.severity === 'high').length;
  return {
    headline: `${dealName}: ${s.progress_snapshot.overall}% reviewed, ${blockers} blocker${blockers === 1 ? '' : 's'}, ${risks} risk${risks === 1 ? '' : 's'}`,
    summary: [
      `${s.changes.new_documents.length} new and ${s.changes.updated_documents.length} updated documents since yesterday.`,
      high ? `${high} high-severity risk${high === 1 ? ' needs' : 's need'} attention.` : 'No high-severity risk.',
      blockers ? `Top blocker: ${s.blockers.items[0]!.title}.` : 'Nothing is blocked.',
    ].join(' '),
  };
}

/** daily-brief: builds the deal's brief of `date` and saves it; a second run that day replaces it. */
export async function generateBrief(job: DailyBriefJob, ctx: JobContext<DailyBriefJob, DealsDeps>): Promise<unknown> {
  const { sql } = ctx.services;
  const deal = await store.getDeal(sql, job.dealId);
  if (!deal) return { skipped: 'deal not found', dealId: job.dealId };
  await ctx.progress(10);
  const endOfDay = new Date(Date.parse(`${job.date}T00:00:00Z`) + DAY_MS);
  const asOf = new Date(Math.min(Date.now(), endOfDay.getTime()));
  const [documents, communications, workstreams, previous] = await Promise.all([
    store.listDocuments(sql, deal.id),
    store.listCommunications(sql, deal.id),
    store.workstreams(sql, deal.id),
    store.previousBrief(sql, deal.id, job.date),
  ]);
  await ctx.progress(70);
  const inputs = { dealName: deal.name, date: job.date, asOf, documents, communications, workstreams, previous };
  let brief = buildBrief(inputs);
  // With an LLM, the model writes the opening from the computed sections (facts stay computed).
  const { analyzer } = ctx.deps;
  if (analyzer.narrateBrief) {
    const { markdown: _m, narrative: _n, ...sections } = brief;
    const narrative = parsed(briefNarrative, await analyzer.narrateBrief({ dealName: deal.name, date: job.date, sections }, ctx.signal));
    brief = buildBrief(inputs, narrative);
  }
  const briefId = await store.upsertBrief(sql, deal.id, job.date, brief);
  await ctx.progress(100);
  return { success: true, briefId, dealId: deal.id, date: job.date, provider: analyzer.provider };
}

/** Every attempt failed: the day's brief row says so (a published one keeps its content). */
export async function onBriefDead(job: Job<unknown>, ctx: DeadContext<DealsDeps>): Promise<void> {
  const p = job.payload as Partial<DailyBriefJob>;
  if (!isUuid(p?.dealId) || !isDay(p.date)) return;
  // The deal may be gone (cascade): write only when it still exists.
  if (!(await store.getDeal(ctx.tx, p.dealId))) return;
  await store.markBriefFailed(ctx.tx, p.dealId, p.date, ctx.error.message.slice(0, 2000));
}
