import { isEmailAddress } from '../schema.ts';

/**
 * Email addresses written in a body, found from their `@` outwards rather than by one pattern
 * over the whole text: a pattern that starts at every word and runs until it finds an `@` is
 * quadratic in a long run of words without one. Each `@` costs at most the longest local part
 * and domain, so the scan is linear.
 *
 * Written addresses may be internationalised (`josé@…`, `info@münchen.de`), carry VERP and
 * other specials (`bounce+user=example.com@…`, `%`, `&`, `~`), or name an IP literal
 * (`user@[192.0.2.1]`). `!#$*?^{|}'/` are valid too but too rare in prose to tell from
 * punctuation around an address, so only header addresses (checked by the schema) carry them.
 */

const LOCAL_CHAR = /[\p{L}\p{N}\p{M}._%+=&~-]/u;
const DOMAIN_CHAR = /[\p{L}\p{N}\p{M}.-]/u;
const IP_LITERAL = /\[(?:[Ii][Pp][Vv]6:[0-9A-Fa-f:.]{2,45}|\d{1,3}(?:\.\d{1,3}){3})\]/y;
// A display name right before `<address>`: "Maria Lopez" <maria@…>, up to four capitalised words.
const NAME_BEFORE = /"?([A-Z][\w'-]*(?: [A-Z][\w'-]*){0,3})"?\s*$/;
const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
/** `@` signs looked at per text: plenty for any real message, a bound for a hostile one. */
const MAX_CANDIDATES = 2000;

export function findAddresses(text: string): { name: string | null; email: string; index: number }[] {
  const out: { name: string | null; email: string; index: number }[] = [];
  let candidates = 0;
  for (let at = text.indexOf('@'); at !== -1 && candidates < MAX_CANDIDATES; at = text.indexOf('@', at + 1)) {
    candidates++;
    let start = at;
    while (start > 0 && at - start <= MAX_LOCAL && LOCAL_CHAR.test(text[start - 1]!)) start--;
    while (start < at && text[start] === '.') start++;
    if (start === at || at - start > MAX_LOCAL) continue;
    let end: number;
    if (text[at + 1] === '[') {
      IP_LITERAL.lastIndex = at + 1;
      const literal = IP_LITERAL.exec(text);
      if (!literal) continue;
      end = at + 1 + literal[0].length;
    } else {
      end = at + 1;
      while (end < text.length && end - at <= MAX_DOMAIN && DOMAIN_CHAR.test(text[end]!)) end++;
      // A sentence's full stop or a dash after the address is not part of it.
      while (end > at + 1 && (text[end - 1] === '.' || text[end - 1] === '-')) end--;
    }
    const email = text.slice(start, end);
    if (!isEmailAddress(email)) continue;
    out.push({ name: nameBefore(text, start), email, index: start });
  }
  return out;
}

function nameBefore(text: string, start: number): string | null {
  let lt = start - 1;
  while (lt >= 0 && lt >= start - 4 && text[lt] === ' ') lt--;
  if (text[lt] !== '<') return null;
  // A bounded window: the pattern is tried from each of its characters.
  return NAME_BEFORE.exec(text.slice(Math.max(0, lt - 60), lt))?.[1] ?? null;
}
