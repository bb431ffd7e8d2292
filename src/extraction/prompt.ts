import type { ExtractionInput } from './extractor.ts';
import { CATEGORIES, DATE_KINDS, outputJsonSchema, SENTIMENTS } from './schema.ts';
import type { Participant } from './store.ts';

/**
 * What LLM providers are told. The user message has a fixed layout (headers, then the body after
 * a marker line) so that it reads well to a model and can be parsed back by the LLM emulator.
 */

let schemaText: string | undefined;

export function systemPrompt(): string {
  schemaText ??= JSON.stringify(outputJsonSchema());
  return [
    'You extract structured facts from one email for a CRM. Answer with one JSON object and nothing else.',
    'Rules:',
    '- Use only what the email says; never invent people, dates or amounts. Empty arrays are fine.',
    `- category is one of: ${CATEGORIES.join(', ')}. sentiment.label is one of: ${SENTIMENTS.join(', ')}; sentiment.score is from -1 to 1.`,
    `- Dates are YYYY-MM-DD, resolved against the email's Date header; dates[].kind is one of: ${DATE_KINDS.join(', ')}.`,
    '- actionItems[].owner is the name or address of who must act, or null; dueDate is YYYY-MM-DD or null.',
    '- amounts[].value is a number (12500, not "12,500"); currency is an ISO 4217 code or null.',
    '- blocker.isBlocker is true only when something stops progress until someone acts; reason quotes or paraphrases it.',
    '- language is the ISO 639-1 code of the body.',
    `JSON Schema of the answer: ${schemaText}`,
  ].join('\n');
}

const BODY_MARKER = '--- body ---';

const formatList = (list: Participant[]) => list.map((p) => (p.name ? `${p.name} <${p.email}>` : p.email)).join(', ');

export function userPrompt(input: ExtractionInput): string {
  return [
    `Subject: ${input.subject}`,
    `From: ${formatList(input.from)}`,
    `To: ${formatList(input.to)}`,
    `Cc: ${formatList(input.cc)}`,
    `Date: ${input.date ? input.date.toISOString() : 'unknown'}`,
    `Truncated: ${input.truncated ? 'yes' : 'no'}`,
    BODY_MARKER,
    input.text,
  ].join('\n');
}

/** The follow-up that asks a model to fix output that did not validate. */
export function repairPrompt(issues: string): string {
  return [
    'Your answer did not match the required JSON Schema:',
    issues,
    'Answer again with the complete, corrected JSON object and nothing else.',
  ].join('\n');
}

/** Reads a user prompt back into its input (the LLM emulator answers from it). */
export function parseUserPrompt(prompt: string): ExtractionInput | undefined {
  const at = prompt.indexOf(`\n${BODY_MARKER}\n`);
  if (at < 0) return undefined;
  const headers = new Map<string, string>();
  for (const line of prompt.slice(0, at).split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const date = new Date(headers.get('Date') ?? '');
  return {
    subject: headers.get('Subject') ?? '',
    from: parseList(headers.get('From')),
    to: parseList(headers.get('To')),
    cc: parseList(headers.get('Cc')),
    date: Number.isNaN(date.getTime()) ? null : date,
    text: prompt.slice(at + BODY_MARKER.length + 2),
    truncated: headers.get('Truncated') === 'yes',
  };
}

function parseList(value: string | undefined): Participant[] {
  if (!value) return [];
  return value.split(/,\s*(?=[^,]*(?:<|@))/).flatMap((part) => {
    const m = /^(.*?)\s*<([^>]+)>$/.exec(part.trim());
    if (m) return [{ name: m[1] || null, email: m[2]! }];
    return part.includes('@') ? [{ name: null, email: part.trim() }] : [];
  });
}

/**
 * The JSON object in a model's answer. JSON mode returns bare JSON; models without it wrap it in
 * prose or a ```json fence, so take the outermost braces.
 */
export function jsonIn(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    const start = trimmed.indexOf('{');
    const end = trimmed.lastIndexOf('}');
    if (start < 0 || end <= start) throw new SyntaxError('no JSON object in the answer');
    return JSON.parse(trimmed.slice(start, end + 1));
  }
}
