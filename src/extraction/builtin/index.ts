import type { ExtractionInput, Extractor, ExtractOutcome } from '../extractor.ts';
import { parseUserPrompt as parsePrompt } from '../prompt.ts';
import { salvageOutput, type CATEGORIES, type ExtractionOutput } from '../schema.ts';
import type { Participant } from '../store.ts';
import { estimateTokens } from '../text.ts';
import { findDates, type FoundDate } from './dates.ts';
import { ACTION_PATTERNS, CATEGORY_CUES, COMPLAINT, GREETING, NOT_ACTION, NOTIFICATION_SENDER } from './lexicon.ts';
import { blocker, findAmounts, findPeople, language, sentences, sentiment } from './rules.ts';

/** Version of the rule set (stored as the prompt version of builtin rows). */
export const BUILTIN_RULES_VERSION = 'builtin-rules-v1';

/**
 * The rule-based extractor: deterministic, no network, a fraction of a millisecond a message.
 * It fills every field of the schema from patterns (dates, amounts, addresses, action phrases, a
 * sentiment lexicon, blocker phrases), so an install with no LLM key still gets useful rows.
 */
export class BuiltinExtractor implements Extractor {
  readonly provider = 'builtin' as const;
  readonly model = BUILTIN_RULES_VERSION;
  readonly promptVersion = BUILTIN_RULES_VERSION;

  async extract(input: ExtractionInput): Promise<ExtractOutcome> {
    const output = extractBuiltin(input);
    // The rules build the output to the schema; parsing proves it (and catches a rule's mistake).
    // An entity a rule got wrong is dropped with a note; it does not cost the whole message.
    const parsed = salvageOutput(output);
    if (!parsed.ok) {
      return { ok: false, error: parsed.error.message, rawOutput: JSON.stringify(output), usage: { inputTokens: 0, outputTokens: 0 }, calls: 1 };
    }
    return {
      ok: true, output: parsed.output, usage: { inputTokens: estimateTokens(input.text), outputTokens: 0 }, calls: 1,
      ...(parsed.notes.length && { notes: parsed.notes }),
    };
  }
}

/**
 * What the builtin rules make of a user prompt written by `userPrompt` (prompt.ts): how the LLM
 * emulator answers, so that the emulated model returns plausible, valid extractions.
 */
export function extractFromPrompt(prompt: string): ExtractionOutput | undefined {
  const input = parsePrompt(prompt);
  return input && extractBuiltin(input);
}

export function extractBuiltin(input: ExtractionInput): ExtractionOutput {
  const text = input.text;
  const all = sentences(text);
  const reference = input.date ?? new Date();
  const dates = findDates(`${input.subject}\n${text}`, reference).map((d) => ({ ...d, index: d.index - input.subject.length - 1 }));
  const actionItems = findActions(all, dates, input.from[0], input.to[0]);
  const mood = sentiment(`${input.subject}. ${text}`);
  const category = categorize(input, text, actionItems.length > 0, mood.label);
  const { people, organizations } = findPeople([...input.from, ...input.to, ...input.cc], text);
  return {
    summary: summarize(input.subject, all),
    intent: intentOf(category, input.subject, actionItems, all),
    category,
    sentiment: mood,
    actionItems,
    dates: dates.slice(0, 50).map(({ text: t, date, kind }) => ({ text: t, date, kind })),
    people,
    organizations,
    amounts: findAmounts(text).slice(0, 50),
    blocker: blocker([{ text: input.subject }, ...all]),
    language: language(`${input.subject} ${text}`),
  };
}

function findActions(
  all: { text: string; index: number }[],
  dates: FoundDate[],
  sender: Participant | undefined,
  recipient: Participant | undefined,
): ExtractionOutput['actionItems'] {
  const items: ExtractionOutput['actionItems'] = [];
  for (const s of all) {
    if (NOT_ACTION.test(s.text) && !/\b(?:could|can) you\b/i.test(s.text)) continue;
    const rule = ACTION_PATTERNS.find((p) => p.re.test(s.text));
    if (!rule) continue;
    // "Maria, please send…" or "@maria": the named person owns it, whatever the phrase says.
    const named = /^([A-Z][a-z]+),\s+(?:please|can you|could you|would you)\b/.exec(s.text)?.[1] ?? /@([A-Z][a-z]+)\b/.exec(s.text)?.[1];
    const owner = named ?? (rule.owner === 'recipient' ? who(recipient) : rule.owner === 'sender' ? who(sender) : null);
    const due = dates.find((d) => d.index >= s.index && d.index < s.index + s.text.length);
    items.push({ text: s.text.slice(0, 500), owner, dueDate: due?.date ?? null });
    if (items.length === 50) break;
  }
  return items;
}

const who = (p: Participant | undefined) => (p ? (p.name ?? p.email) : null);

function categorize(input: ExtractionInput, text: string, hasActions: boolean, mood: string): (typeof CATEGORIES)[number] {
  const sender = input.from[0]?.email ?? '';
  const all = `${input.subject}\n${text}`;
  if (NOTIFICATION_SENDER.test(sender)) return /\bunsubscribe\b/i.test(all) ? 'newsletter' : 'notification';
  if (mood === 'negative' && COMPLAINT.test(all)) return 'complaint';
  for (const cue of CATEGORY_CUES) {
    if (cue.re.test(all)) return cue.category as (typeof CATEGORIES)[number];
  }
  if (hasActions) return 'request';
  if (/\?/.test(text)) return 'question';
  return text.trim() ? 'other' : 'notification';
}

const INTENTS: Record<string, string> = {
  newsletter: 'share news', notification: 'notify', invoice: 'request payment', complaint: 'raise a complaint',
  introduction: 'make an introduction', meeting: 'arrange a meeting', follow_up: 'follow up', update: 'give an update',
  question: 'ask a question', personal: 'personal note', other: 'inform',
};

function intentOf(category: string, subject: string, actions: ExtractionOutput['actionItems'], all: { text: string }[]): string {
  if (category === 'request' && actions[0]) return clip(actions[0].text, 200);
  if (category === 'question') {
    const q = all.find((s) => s.text.endsWith('?'));
    if (q) return clip(q.text, 200);
  }
  const base = INTENTS[category] ?? 'inform';
  const topic = subject.replace(/^((re|fw|fwd|aw|tr)\s*:\s*)+/i, '').trim();
  return clip(topic ? `${base}: ${topic}` : base, 200);
}

/** The subject and the first sentences that are not a greeting, up to about 300 characters. */
function summarize(subject: string, all: { text: string }[]): string {
  const topic = subject.replace(/^((re|fw|fwd|aw|tr)\s*:\s*)+/i, '').trim();
  const body: string[] = [];
  for (const s of all) {
    if (GREETING.test(s.text) || s.text.length < 3) continue;
    body.push(s.text);
    if (body.join(' ').length > 160 || body.length === 2) break;
  }
  const summary = [topic && `${topic}.`, ...body].filter(Boolean).join(' ');
  return clip(summary || '(empty message)', 300);
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1).trimEnd()}…`;
}
