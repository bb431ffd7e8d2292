import { z } from 'zod';

/**
 * The one extraction schema. What a provider must return is `extractionOutput`; what Nova stores
 * (`email_extractions.result`) is that plus how it was made (`extractionRecord`).
 *
 * Bump EXTRACTION_SCHEMA_VERSION whenever the shape or the meaning of a field changes: the
 * `extraction-queue` role then re-queues every message whose stored extraction is older.
 */
export const EXTRACTION_SCHEMA_VERSION = 1;

/** Version of the instructions sent to LLM providers (stored with each row, for audits). */
export const PROMPT_VERSION = 'extract-v1';

export const CATEGORIES = [
  'request', 'question', 'meeting', 'invoice', 'update', 'introduction', 'follow_up',
  'complaint', 'newsletter', 'notification', 'personal', 'other',
] as const;

export const SENTIMENTS = ['positive', 'neutral', 'negative', 'mixed'] as const;
export const DATE_KINDS = ['deadline', 'meeting', 'event', 'other'] as const;

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD');
const text = (max: number) => z.string().trim().min(1).max(max);

export const extractionOutput = z.object({
  /** One or two sentences a person can read instead of the email. */
  summary: text(1000),
  /** What the sender wants, in a few words ("schedule a demo", "pay invoice 1042"). */
  intent: text(200),
  category: z.enum(CATEGORIES),
  sentiment: z.object({
    label: z.enum(SENTIMENTS),
    /** -1 (very negative) to 1 (very positive). */
    score: z.number().min(-1).max(1),
  }),
  actionItems: z
    .array(z.object({ text: text(500), owner: z.string().trim().max(200).nullable(), dueDate: isoDate.nullable() }))
    .max(50),
  dates: z.array(z.object({ text: text(200), date: isoDate.nullable(), kind: z.enum(DATE_KINDS) })).max(50),
  people: z
    .array(z.object({
      name: z.string().trim().max(200).nullable(),
      email: z.email().nullable(),
      organization: z.string().trim().max(200).nullable(),
    }))
    .max(100),
  organizations: z.array(z.object({ name: text(200), domain: z.string().trim().max(253).nullable() })).max(50),
  amounts: z
    .array(z.object({
      text: text(100),
      value: z.number(),
      /** ISO 4217 code when the email names or implies one. */
      currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD').nullable(),
    }))
    .max(50),
  /** Something stops progress (a deal, a task) until someone acts: seed 003's blocker detection. */
  blocker: z.object({ isBlocker: z.boolean(), reason: z.string().trim().max(500).nullable() }),
  /** ISO 639-1 code of the body's language, `und` when unknown. */
  language: z.string().regex(/^([a-z]{2}|und)$/, 'must be an ISO 639-1 code or "und"'),
});

export type ExtractionOutput = z.infer<typeof extractionOutput>;

export const PROVIDERS = ['builtin', 'openai', 'anthropic'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export const extractionMeta = z.object({
  schemaVersion: z.number().int(),
  provider: z.enum(PROVIDERS),
  model: z.string(),
  promptVersion: z.string(),
  usage: z.object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0) }),
});

export const extractionRecord = extractionOutput.extend({ meta: extractionMeta });
export type ExtractionRecord = z.infer<typeof extractionRecord>;
export type ExtractionMeta = z.infer<typeof extractionMeta>;

/** The output schema as JSON Schema: the prompt's contract and Anthropic's tool input schema. */
export function outputJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(extractionOutput, { target: 'draft-7' }) as Record<string, unknown>;
}

/** Validation issues in a few lines a model can act on ("actionItems.0.dueDate: must be ..."). */
export function describeIssues(error: z.ZodError, max = 10): string {
  const lines = error.issues.slice(0, max).map((i) => `- ${i.path.join('.') || '(root)'}: ${i.message}`);
  if (error.issues.length > max) lines.push(`- … and ${error.issues.length - max} more`);
  return lines.join('\n');
}
