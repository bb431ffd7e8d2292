import { z } from 'zod';

/**
 * The deal analyses (summary, risks, workstream, email sentiment) behind one narrow interface,
 * with each output checked against its schema before anything is stored: a provider that answers
 * outside the schema fails the job (and it retries) instead of storing a made-up default, as the
 * original's AI helpers did. The builtin analyzer is deterministic and needs no network.
 */

export const SEVERITIES = ['low', 'medium', 'high'] as const;
export const WORKSTREAMS = ['Legal', 'HR', 'Finance', 'IT', 'Ops'] as const;
export const EMAIL_SENTIMENTS = ['positive', 'neutral', 'risk', 'blocker'] as const;

export const summaryOutput = z.object({ summary: z.string().trim().min(1).max(2000) });
export const risksOutput = z.object({
  risks: z.array(z.object({
    title: z.string().trim().min(1).max(300),
    severity: z.enum(SEVERITIES),
    citation: z.string().max(500),
    explanation: z.string().max(1000),
  })).max(5),
});
export const classifyOutput = z.object({
  workstream: z.enum(WORKSTREAMS),
  confidence: z.number().int().min(0).max(100),
  reasoning: z.string().max(500),
});
export const emailOutput = z.object({
  sentiment: z.enum(EMAIL_SENTIMENTS),
  isBlocker: z.boolean(),
  blockerReason: z.string().max(500).nullable(),
  keyPoints: z.array(z.string().max(300)).max(10),
});

/** The LLM-written opening of a daily brief (the sections themselves are computed from the data). */
export const briefNarrative = z.object({
  headline: z.string().trim().min(1).max(300),
  summary: z.string().trim().min(1).max(2000),
});

export type BriefNarrative = z.infer<typeof briefNarrative>;
export type RisksOutput = z.infer<typeof risksOutput>;
export type ClassifyOutput = z.infer<typeof classifyOutput>;
export type EmailOutput = z.infer<typeof emailOutput>;

export interface DocumentInput {
  name: string;
  text: string;
}

export interface EmailInput {
  subject: string;
  sender: string;
  body: string;
}

/** What a brief's narrative is written from: the computed sections. */
export interface BriefFacts {
  dealName: string;
  date: string;
  sections: Record<string, unknown>;
}

/** What produces the analyses; its answers are parsed by the schemas above before use. */
export interface DealAnalyzer {
  readonly provider: string;
  summarize(doc: DocumentInput, signal?: AbortSignal): Promise<unknown>;
  extractRisks(doc: DocumentInput, signal?: AbortSignal): Promise<unknown>;
  classify(doc: DocumentInput, signal?: AbortSignal): Promise<unknown>;
  analyzeEmail(email: EmailInput, signal?: AbortSignal): Promise<unknown>;
  /** The brief's headline and summary; absent (the builtin): the brief is the sections alone. */
  narrateBrief?(facts: BriefFacts, signal?: AbortSignal): Promise<unknown>;
}

// Keyword tables of the builtin analyzer: small and explicit, so its output is predictable in
// tests and demos. Longer phrases first where one contains another.
const RISK_TERMS: [RegExp, (typeof SEVERITIES)[number], string][] = [
  [/\b(litigation|lawsuit|indemnif\w*|breach|fraud)\b/i, 'high', 'Legal exposure'],
  [/\b(liabilit\w*|penalt\w*|termination|change of control)\b/i, 'medium', 'Contractual liability'],
  [/\b(compliance|regulator\w*|gdpr|sanction\w*|antitrust)\b/i, 'medium', 'Regulatory compliance'],
  [/\b(churn|decline|loss|impairment|default)\b/i, 'medium', 'Financial deterioration'],
  [/\b(key person|attrition|retention|severance)\b/i, 'low', 'People risk'],
];
const WORKSTREAM_TERMS: Record<(typeof WORKSTREAMS)[number], RegExp> = {
  Legal: /\b(agreement|contract|nda|legal|litigation|liabilit\w*|indemnif\w*|ip|patent|compliance)\b/gi,
  HR: /\b(employee\w*|hr|payroll|benefits|retention|severance|headcount|hiring)\b/gi,
  Finance: /\b(revenue|ebitda|financial\w*|audit|tax|cash|balance sheet|forecast|valuation|invoice)\b/gi,
  IT: /\b(it|software|systems?|security|infrastructure|cloud|data|network)\b/gi,
  Ops: /\b(operations?|supply|vendor\w*|logistics|facilit\w*|manufacturing)\b/gi,
};
const BLOCKER = /\b(blocked|blocker|cannot proceed|can't proceed|on hold|stalled|waiting on|refus\w*)\b/i;
const RISK = /\b(concern\w*|risk\w*|issue\w*|problem\w*|delay\w*|dispute\w*|escalat\w*)\b/i;
const POSITIVE = /\b(great|thanks|approved|agreed|signed|good news|pleased|done)\b/i;

const sentences = (text: string) => text.replace(/\s+/g, ' ').split(/(?<=[.!?])\s+/).map((s) => s.trim()).filter(Boolean);

/** Deterministic analyses from keyword rules: the default with no LLM key, and in tests. */
export class BuiltinAnalyzer implements DealAnalyzer {
  readonly provider = 'builtin';

  async summarize(doc: DocumentInput): Promise<unknown> {
    const first = sentences(doc.text).slice(0, 3).join(' ');
    const summary = first ? first.slice(0, 1000) : `${doc.name} has no readable text.`;
    return { summary };
  }

  async extractRisks(doc: DocumentInput): Promise<unknown> {
    const risks: RisksOutput['risks'] = [];
    for (const [pattern, severity, title] of RISK_TERMS) {
      const citation = sentences(doc.text).find((s) => pattern.test(s));
      if (!citation) continue;
      risks.push({ title, severity, citation: citation.slice(0, 500), explanation: `${doc.name} mentions "${citation.match(pattern)![0]}".` });
      if (risks.length === 5) break;
    }
    return { risks };
  }

  async classify(doc: DocumentInput): Promise<unknown> {
    const text = `${doc.name} ${doc.text.slice(0, 2000)}`;
    let best: (typeof WORKSTREAMS)[number] = 'Ops';
    let bestHits = 0;
    let total = 0;
    for (const name of WORKSTREAMS) {
      const hits = text.match(WORKSTREAM_TERMS[name])?.length ?? 0;
      total += hits;
      if (hits > bestHits) [best, bestHits] = [name, hits];
    }
    const confidence = total ? Math.round((bestHits / total) * 100) : 0;
    return { workstream: best, confidence, reasoning: total ? `${bestHits} of ${total} workstream terms are ${best} terms.` : 'No workstream terms found.' };
  }

  async analyzeEmail(email: EmailInput): Promise<unknown> {
    const text = `${email.subject}\n${email.body.slice(0, 2000)}`;
    const blocker = text.match(BLOCKER);
    const sentiment = blocker ? 'blocker' : RISK.test(text) ? 'risk' : POSITIVE.test(text) ? 'positive' : 'neutral';
    return {
      sentiment,
      isBlocker: !!blocker,
      blockerReason: blocker ? (sentences(text).find((s) => BLOCKER.test(s)) ?? email.subject).slice(0, 500) : null,
      keyPoints: sentences(email.body).slice(0, 3).map((s) => s.slice(0, 300)),
    };
  }
}

/** Parses a provider's answer; a ZodError here is a bad answer, retried like any failure. */
export function parsed<T>(schema: z.ZodType<T>, output: unknown): T {
  return schema.parse(output);
}
