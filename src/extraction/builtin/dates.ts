import type { DATE_KINDS } from '../schema.ts';
import { Spans } from './rules.ts';

/**
 * Date expressions in English email text, resolved to calendar dates against the message's own
 * date: ISO (2025-03-14), US numeric (3/14/2025), "March 14(th)(, 2025)", "14 March (2025)",
 * weekdays ("by Friday", "next Tuesday"), today / tomorrow, end of day / week / month.
 */

export interface FoundDate {
  text: string;
  /** YYYY-MM-DD, or null when the expression names no day (never the case for these rules). */
  date: string | null;
  kind: (typeof DATE_KINDS)[number];
  /** Offset of the expression in the text (to attach due dates to action items). */
  index: number;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTH = '(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?';
const DAY = '(\\d{1,2})(?:st|nd|rd|th)?';

type Resolver = (m: RegExpExecArray, ref: Date) => Date | null;

const RULES: { re: RegExp; resolve: Resolver }[] = [
  { re: /\b(\d{4})-(\d{2})-(\d{2})\b/g, resolve: (m) => ymd(+m[1]!, +m[2]!, +m[3]!) },
  {
    re: new RegExp(`\\b${MONTH}\\s+${DAY}(?:,?\\s+(\\d{4}))?\\b`, 'gi'),
    resolve: (m, ref) => withYear(monthIndex(m[1]!), +m[2]!, m[3], ref),
  },
  {
    re: new RegExp(`\\b${DAY}\\s+(?:of\\s+)?${MONTH}(?:,?\\s+(\\d{4}))?\\b`, 'gi'),
    resolve: (m, ref) => withYear(monthIndex(m[2]!), +m[1]!, m[3], ref),
  },
  {
    re: /\b(\d{1,2})\/(\d{1,2})\/(\d{4}|\d{2})\b/g,
    resolve: (m) => {
      let [month, day] = [+m[1]!, +m[2]!];
      // US order unless the first number cannot be a month.
      if (month > 12 && day <= 12) [month, day] = [day, month];
      const year = m[3]!.length === 2 ? 2000 + +m[3]! : +m[3]!;
      return ymd(year, month, day);
    },
  },
  { re: /\b(today|tonight|end of (?:the )?day|eod|cob)\b/gi, resolve: (_m, ref) => ref },
  { re: /\btomorrow\b/gi, resolve: (_m, ref) => addDays(ref, 1) },
  {
    re: /\b(?:(next|this|on|by|until|before)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b/gi,
    resolve: (m, ref) => nextWeekday(ref, WEEKDAYS.indexOf(m[2]!.toLowerCase())),
  },
  { re: /\b(end of (?:the )?week|eow)\b/gi, resolve: (_m, ref) => nextWeekday(ref, 5, true) },
  { re: /\bnext week\b/gi, resolve: (_m, ref) => addDays(nextWeekday(ref, 1), 0) },
  {
    re: /\b(end of (?:the )?month|eom)\b/gi,
    resolve: (_m, ref) => new Date(Date.UTC(ref.getUTCFullYear(), ref.getUTCMonth() + 1, 0)),
  },
];

const DEADLINE_BEFORE = /\b(by|due|deadline|before|no later than|until|till|expires?|expiring|ends?|closes?|latest)\b[^.!?\n]{0,20}$/i;
const MEETING_WORDS = /\b(meet|meeting|call|demo|sync|lunch|coffee|interview|appointment|catch up|chat|workshop|webinar|zoom|standup)\b/i;

/** Every date expression in `text`, in order of appearance, overlaps removed. */
export function findDates(text: string, reference: Date): FoundDate[] {
  const ref = new Date(Date.UTC(reference.getUTCFullYear(), reference.getUTCMonth(), reference.getUTCDate()));
  const found: (FoundDate & { end: number })[] = [];
  const taken = new Spans(text.length);
  for (const rule of RULES) {
    rule.re.lastIndex = 0;
    for (let m = rule.re.exec(text); m && found.length < MAX_DATES; m = rule.re.exec(text)) {
      const start = m.index;
      const end = start + m[0].length;
      const date = rule.resolve(m, ref);
      if (!date || !taken.claim(start, end)) continue;
      found.push({ text: m[0], date: iso(date), kind: kindAt(text, start, end), index: start, end });
    }
  }
  found.sort((a, b) => a.index - b.index);
  // "Friday, March 14" is one date written twice: keep one entry spanning both.
  const merged: typeof found = [];
  for (const f of found) {
    const prev = merged[merged.length - 1];
    if (prev && prev.date === f.date && f.index - prev.end <= 2) {
      prev.text = text.slice(prev.index, f.end);
      prev.end = f.end;
      if (f.kind === 'deadline') prev.kind = 'deadline';
    } else merged.push(f);
  }
  return merged.map(({ end: _end, ...d }) => d);
}

function kindAt(text: string, start: number, end: number): FoundDate['kind'] {
  const before = text.slice(Math.max(0, start - 40), start);
  if (DEADLINE_BEFORE.test(before) || /^(by|until|before)\b/i.test(text.slice(start, end))) return 'deadline';
  const sentence = sentenceAround(text, start, end);
  if (MEETING_WORDS.test(sentence)) return 'meeting';
  if (/\b(on|at|from)\s*$/i.test(before)) return 'event';
  return 'other';
}

/**
 * The sentence a date sits in, looked for within SENTENCE_REACH characters each side: searching
 * the whole text for each date's full stops made a long text of dates quadratic.
 */
function sentenceAround(text: string, start: number, end: number): string {
  const lo = Math.max(0, start - SENTENCE_REACH);
  const before = text.slice(lo, start);
  const from = lo + Math.max(before.lastIndexOf('.'), before.lastIndexOf('\n'), before.lastIndexOf('?')) + 1;
  const after = text.slice(end, end + SENTENCE_REACH);
  const stops = ['.', '\n', '?', '!'].map((c) => after.indexOf(c)).filter((i) => i >= 0);
  return text.slice(from, end + (stops.length ? Math.min(...stops) : after.length));
}

const SENTENCE_REACH = 300;
/** Dates looked at per text (50 are kept): a body of nothing but dates costs no more than this. */
const MAX_DATES = 500;

function monthIndex(name: string): number {
  return MONTHS.indexOf(name.slice(0, 3).toLowerCase()) + 1;
}

/** A month and day with no year is the next such day, allowing a week in the past ("on March 3"). */
function withYear(month: number, day: number, year: string | undefined, ref: Date): Date | null {
  if (year) return ymd(+year, month, day);
  const thisYear = ymd(ref.getUTCFullYear(), month, day);
  if (!thisYear) return null;
  return thisYear.getTime() < ref.getTime() - 7 * 86_400_000 ? ymd(ref.getUTCFullYear() + 1, month, day) : thisYear;
}

function ymd(year: number, month: number, day: number): Date | null {
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1900 || year > 2200) return null;
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCMonth() === month - 1 ? d : null;
}

function addDays(d: Date, n: number): Date {
  return new Date(d.getTime() + n * 86_400_000);
}

/** The first `weekday` after `ref` (or on it, when `inclusive`). */
function nextWeekday(ref: Date, weekday: number, inclusive = false): Date {
  let diff = (weekday - ref.getUTCDay() + 7) % 7;
  if (diff === 0 && !inclusive) diff = 7;
  return addDays(ref, diff);
}

function iso(d: Date): string {
  return d.toISOString().slice(0, 10);
}
