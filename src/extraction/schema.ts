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

/*
 * An email address as mail really carries it: internationalised local parts and domains
 * (RFC 6531: `josé@…`, `info@münchen.de`), every atom character of RFC 5322 (VERP's `=`, `%`,
 * `&`, `~`, ...), and IP-literal domains (`user@[192.0.2.1]`, `user@[IPv6:2001:db8::1]`).
 * Each part is a run of one class between dots, so matching is linear.
 */
const ATOM = "[\\p{L}\\p{N}\\p{M}!#$%&'*+/=?^_`{|}~-]+";
const LABEL = '[\\p{L}\\p{N}\\p{M}](?:[\\p{L}\\p{N}\\p{M}-]{0,61}[\\p{L}\\p{N}\\p{M}])?';
const EMAIL_ADDRESS = new RegExp(
  `^${ATOM}(?:\\.${ATOM})*@(?:(?:${LABEL}\\.)+${LABEL}|\\[(?:[Ii][Pp][Vv]6:[0-9A-Fa-f:.]{2,45}|\\d{1,3}(?:\\.\\d{1,3}){3})\\])$`,
  'u',
);

/** Whether `s` is an email address Nova stores (see EMAIL_ADDRESS); at most 254 characters, 64 before the `@`. */
export function isEmailAddress(s: string): boolean {
  return s.length <= 254 && s.lastIndexOf('@') <= 64 && EMAIL_ADDRESS.test(s);
}

/** The form an address is stored and compared in (NFC, lower case), or null when it is not one. */
export function normalizeEmail(s: string): string | null {
  const email = s.trim().normalize('NFC').toLowerCase();
  return isEmailAddress(email) ? email : null;
}

const emailAddress = z.string().max(254).refine(isEmailAddress, 'must be an email address').meta({ format: 'email' });

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
      email: emailAddress.nullable(),
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
  /** What was changed to make the output valid (entities dropped), when anything was. */
  notes: z.array(z.string()).optional(),
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

/** The lists of the output whose entries stand alone: one bad entry can be dropped without the rest. */
const ENTITY_LISTS = ['actionItems', 'dates', 'people', 'organizations', 'amounts'] as const;

/**
 * Validates an output; when the only problems are inside entries of the entity lists, drops
 * those entries and validates again, so one bad address or amount costs that entity, not the
 * whole extraction. Returns the valid output with a note per dropped entity, or the errors.
 */
export function salvageOutput(output: unknown): { ok: true; output: ExtractionOutput; notes: string[] } | { ok: false; error: z.ZodError } {
  const first = extractionOutput.safeParse(output);
  if (first.success) return { ok: true, output: first.data, notes: [] };
  const bad = new Map<string, Set<number>>();
  for (const issue of first.error.issues) {
    const [list, index] = issue.path;
    if (!ENTITY_LISTS.includes(list as (typeof ENTITY_LISTS)[number]) || typeof index !== 'number') return { ok: false, error: first.error };
    if (!bad.has(list as string)) bad.set(list as string, new Set());
    bad.get(list as string)!.add(index);
  }
  const copy = { ...(output as Record<string, unknown>) };
  const notes: string[] = [];
  for (const [list, indexes] of bad) {
    const entries = copy[list] as unknown[];
    copy[list] = entries.filter((_, i) => !indexes.has(i));
    for (const i of indexes) {
      const issue = first.error.issues.find((x) => x.path[0] === list && x.path[1] === i)!;
      notes.push(`dropped ${list}.${i}: ${issue.path.slice(2).join('.') || '(entry)'}: ${issue.message}`);
    }
  }
  const second = extractionOutput.safeParse(copy);
  return second.success ? { ok: true, output: second.data, notes } : { ok: false, error: second.error };
}
