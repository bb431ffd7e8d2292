import { normalizeEmail, type ExtractionOutput } from '../schema.ts';
import { findAddresses } from './addresses.ts';
import type { Participant } from '../store.ts';
import { BLOCKER_PATTERNS, FREE_MAIL, NEGATIVE, NEGATORS, NOT_BLOCKER, ORG_SUFFIX, POSITIVE, STOPWORDS } from './lexicon.ts';

/** The pure rules of the builtin extractor, one function per field. */

/**
 * Sentences of a text: split at ., !, ? followed by white space (or the end), and at line breaks.
 * A terminator inside a word ("jane.doe@x.com", "3.5") does not end one. A scanner rather than
 * a pattern: the pattern this replaces retried every run of terminators from each of its
 * characters, and a body of dots took seconds.
 */
export function sentences(text: string): { text: string; index: number }[] {
  const out: { text: string; index: number }[] = [];
  const emit = (from: number, to: number) => {
    const raw = text.slice(from, to);
    const lead = raw.length - raw.trimStart().length;
    const s = raw.trim().replace(/^[•*-]\s*/, '');
    // A run of terminators alone ("...") is no sentence.
    if (s.length > 1 && /[^.!?]/.test(s)) out.push({ text: s, index: from + lead });
  };
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      emit(start, i);
      start = ++i;
    } else if (c === '.' || c === '!' || c === '?') {
      let j = i + 1;
      while (j < text.length && (text[j] === '.' || text[j] === '!' || text[j] === '?')) j++;
      if (j === text.length || /\s/.test(text[j]!)) {
        emit(start, j);
        start = j;
      }
      i = j;
    } else i++;
  }
  emit(start, text.length);
  return out;
}

const CURRENCY_SYMBOL: Record<string, string> = { $: 'USD', '€': 'EUR', '£': 'GBP', '¥': 'JPY', '₹': 'INR' };
const CURRENCY_WORD: Record<string, string> = {
  usd: 'USD', eur: 'EUR', gbp: 'GBP', jpy: 'JPY', cad: 'CAD', aud: 'AUD', chf: 'CHF', inr: 'INR', sek: 'SEK',
  dollars: 'USD', dollar: 'USD', euros: 'EUR', euro: 'EUR', pounds: 'GBP',
};
const NUMBER = '(\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.(\\d+))?';
const SCALE = '(?:\\s?(k|m|mm|bn|thousand|million|billion)\\b)?';
const AMOUNT_RULES: { re: RegExp; currency: (m: RegExpExecArray) => string | null; num: number }[] = [
  { re: new RegExp(`(?<![A-Za-z])(?:(US|C|A)?([$€£¥₹]))\\s?${NUMBER}${SCALE}`, 'gi'), num: 3,
    currency: (m) => (m[1]?.toUpperCase() === 'C' ? 'CAD' : m[1]?.toUpperCase() === 'A' ? 'AUD' : CURRENCY_SYMBOL[m[2]!] ?? null) },
  { re: new RegExp(`\\b(USD|EUR|GBP|JPY|CAD|AUD|CHF|INR|SEK)\\s?${NUMBER}${SCALE}`, 'gi'), num: 2,
    currency: (m) => m[1]!.toUpperCase() },
  { re: new RegExp(`\\b${NUMBER}${SCALE}\\s?(USD|EUR|GBP|JPY|CAD|AUD|CHF|INR|SEK|dollars?|euros?|pounds)\\b`, 'gi'), num: 1,
    currency: (m) => CURRENCY_WORD[m[4]!.toLowerCase()] ?? null },
];
/** Matches looked at per rule set: a body of nothing but amounts cannot cost more than this. */
const MAX_FOUND = 500;

/**
 * Which characters of a text earlier matches took, so a later rule skips overlaps in time
 * proportional to its own match, not to the number of matches so far.
 */
export class Spans {
  private readonly taken: Uint8Array;
  constructor(length: number) {
    this.taken = new Uint8Array(length);
  }
  /** Takes [start, end) unless any of it is taken already. */
  claim(start: number, end: number): boolean {
    for (let i = start; i < end; i++) if (this.taken[i]) return false;
    this.taken.fill(1, start, end);
    return true;
  }
}

const SCALES: Record<string, number> = { k: 1e3, thousand: 1e3, m: 1e6, mm: 1e6, million: 1e6, bn: 1e9, billion: 1e9 };

/** Money amounts with their currency: "$12,500.00", "€2.5M", "USD 300", "1,200 euros". */
export function findAmounts(text: string): ExtractionOutput['amounts'] {
  const found: (ExtractionOutput['amounts'][number] & { index: number; end: number })[] = [];
  const taken = new Spans(text.length);
  for (const rule of AMOUNT_RULES) {
    rule.re.lastIndex = 0;
    for (let m = rule.re.exec(text); m && found.length < MAX_FOUND; m = rule.re.exec(text)) {
      const [start, end] = [m.index, m.index + m[0].length];
      if (!taken.claim(start, end)) continue;
      const whole = m[rule.num]!.replace(/,/g, '');
      const fraction = m[rule.num + 1];
      const scale = m[rule.num + 2]?.toLowerCase();
      const value = Number(`${whole}${fraction ? `.${fraction}` : ''}`) * (scale ? SCALES[scale]! : 1);
      if (!Number.isFinite(value)) continue;
      found.push({ text: m[0].trim(), value: Math.round(value * 100) / 100, currency: rule.currency(m), index: start, end });
    }
  }
  return found.sort((a, b) => a.index - b.index).map(({ index: _i, end: _e, ...a }) => a);
}

/** "acme-robotics.co.uk" → "Acme Robotics"; null for free mail providers and IP literals. */
export function organizationOf(email: string): { name: string; domain: string } | null {
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  if (!domain || domain.startsWith('[') || FREE_MAIL.has(domain)) return null;
  const labels = domain.split('.');
  // The registrable label: the one before the public suffix (co.uk, com.au, ...).
  const second = labels.length >= 3 && /^(co|com|org|net|ac|gov)$/.test(labels[labels.length - 2]!) ? labels[labels.length - 3]! : labels[labels.length - 2];
  if (!second) return null;
  const name = second.split(/[-_]/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' ');
  return { name, domain: labels.slice(labels.indexOf(second)).join('.') };
}

/** People from the headers and from addresses written in the body, each with an organisation. */
export function findPeople(participants: Participant[], text: string): { people: ExtractionOutput['people']; organizations: ExtractionOutput['organizations'] } {
  const people = new Map<string, ExtractionOutput['people'][number]>();
  const orgs = new Map<string, ExtractionOutput['organizations'][number]>();
  const add = (name: string | null, email: string) => {
    const key = normalizeEmail(email);
    // An address the schema would refuse is left out here rather than failing the extraction.
    if (!key) return;
    const org = organizationOf(key);
    if (org && !orgs.has(org.domain)) orgs.set(org.domain, { name: org.name, domain: org.domain });
    const known = people.get(key);
    if (known) {
      known.name ??= name;
      return;
    }
    people.set(key, { name: name?.trim().slice(0, 200) || null, email: key, organization: org?.name ?? null });
  };
  for (const p of participants) add(p.name ?? null, p.email);
  for (const found of findAddresses(text)) {
    if (people.size >= 100) break;
    add(found.name, found.email);
  }
  ORG_SUFFIX.lastIndex = 0;
  for (let m = ORG_SUFFIX.exec(text); m && orgs.size < 50; m = ORG_SUFFIX.exec(text)) {
    const name = m[1]!.trim().replace(/\.$/, '');
    const bare = name.replace(/\s+\S+$/, '').toLowerCase();
    if (![...orgs.values()].some((o) => [name.toLowerCase(), bare].includes(o.name.toLowerCase()))) orgs.set(`name:${name}`, { name, domain: null });
  }
  return { people: [...people.values()].slice(0, 100), organizations: [...orgs.values()].slice(0, 50) };
}

const WORD = /[a-z']+/g;

/** Lexicon sentiment with negation: a negator up to two words before a cue flips it. */
export function sentiment(text: string): ExtractionOutput['sentiment'] {
  const words = text.toLowerCase().match(WORD) ?? [];
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const pair = i + 1 < words.length ? `${w} ${words[i + 1]}` : '';
    const cue = POSITIVE.has(pair) ? 1 : NEGATIVE.has(pair) ? -1 : POSITIVE.has(w) ? 1 : NEGATIVE.has(w) ? -1 : 0;
    if (cue === 0) continue;
    const negated = NEGATORS.has(words[i - 1] ?? '') || NEGATORS.has(words[i - 2] ?? '');
    if ((cue > 0) !== negated) pos++;
    else neg++;
  }
  const total = pos + neg;
  // Scaled by how much evidence there is: one "thanks" is mildly positive, not +1.
  const score = total === 0 ? 0 : Math.round(((pos - neg) / total) * Math.min(1, total / 4) * 100) / 100;
  const label = pos > 0 && neg > 0 && Math.abs(score) < 0.25 ? 'mixed' : score >= 0.2 ? 'positive' : score <= -0.2 ? 'negative' : 'neutral';
  return { label, score };
}

/** The first sentence that says progress is stopped, unless it says the opposite. */
export function blocker(all: { text: string }[]): ExtractionOutput['blocker'] {
  for (const s of all) {
    if (NOT_BLOCKER.test(s.text)) continue;
    if (BLOCKER_PATTERNS.some((re) => re.test(s.text))) return { isBlocker: true, reason: s.text.slice(0, 500) };
  }
  return { isBlocker: false, reason: null };
}

const STOPWORD_LANGS = new Map<string, string[]>();
for (const [lang, list] of Object.entries(STOPWORDS)) for (const w of list) STOPWORD_LANGS.set(w, [...(STOPWORD_LANGS.get(w) ?? []), lang]);

/** ISO 639-1 code by stopword hits; `und` when no language has at least three. */
export function language(text: string): string {
  const words = text.toLowerCase().match(/[\p{L}']+/gu) ?? [];
  const counts = new Map<string, number>();
  for (const w of words.slice(0, 400)) for (const lang of STOPWORD_LANGS.get(w) ?? []) counts.set(lang, (counts.get(lang) ?? 0) + 1);
  let best = 'und';
  let bestCount = 2;
  for (const [lang, n] of counts) if (n > bestCount) [best, bestCount] = [lang, n];
  return best;
}
