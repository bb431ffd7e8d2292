/**
 * Turns a stored email body into the text worth extracting from: HTML to plain text, quoted
 * replies and signatures removed, and the rest cut to a token budget. Only what the sender wrote
 * in this message is left, so facts from the quoted history are not attributed to it twice.
 */

const ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ndash: '–', mdash: '—', hellip: '…',
  euro: '€', pound: '£', yen: '¥', copy: '©', reg: '®', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“', bull: '•',
};

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

const looksLikeHtml = (s: string) => /<(html|body|div|p|br|span|table|a|b|i|ul|ol|li|blockquote|font|strong|em|h[1-6])\b[^>]*>/i.test(s);

/** HTML to readable text: blocks become line breaks, lists get bullets, quoted blocks are dropped. */
export function htmlToText(html: string): string {
  if (!looksLikeHtml(html)) return decodeEntities(html);
  let s = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(head|style|script|title|template)\b[\s\S]*?<\/\1\s*>/gi, '')
    // Gmail, Outlook and Apple Mail wrap the quoted history in these; it is not this message.
    .replace(/<(blockquote)\b[\s\S]*?<\/\1\s*>/gi, '\n')
    .replace(/<div[^>]*class="?[^">]*gmail_quote[\s\S]*$/i, '')
    .replace(/<div[^>]*id="?(divRplyFwdMsg|appendonsend)[\s\S]*$/i, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li\b[^>]*>/gi, '\n• ')
    .replace(/<\/?(p|div|tr|table|ul|ol|h[1-6]|section|article|header|footer|pre|hr)\b[^>]*>/gi, '\n')
    .replace(/<\/t[dh]\s*>/gi, '\t')
    .replace(/<[^>]+>/g, '');
  s = decodeEntities(s);
  return s;
}

// A line that opens the quoted history of a reply or forward; everything from it on is dropped.
const QUOTE_HEADERS = [
  /^On .{4,200}wrote:\s*$/i,
  /^Le .{4,200}a écrit\s*:\s*$/i,
  /^Am .{4,200}schrieb .{0,200}:\s*$/i,
  /^El .{4,200}escribió:\s*$/i,
  /^-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}\s*$/i,
  /^_{10,}\s*$/,
  /^From:\s.+$/i, // Outlook's header block ("From: … Sent: … To: …")
];

// Sign-offs that start a signature when only a few short lines follow them.
const SIGN_OFF = /^(best|best regards|kind regards|regards|warm regards|many thanks|thanks|thank you|cheers|sincerely|yours|talk soon|br|mit freundlichen grüßen|cordialement|saludos|un saludo)[,.!]?\s*$/i;
const MOBILE_FOOTER = /^(sent from my|get outlook for|sent from outlook|envoyé de mon|von meinem .* gesendet)/i;

/** Drops quoted replies, forwarded history and the signature; keeps what this message says. */
export function stripQuotesAndSignature(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n').map((l) => l.replace(/[ \t\u00a0]+$/g, ''));
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    // "-- " is the standard signature delimiter (RFC 3676 §4.3).
    if (lines[i] === '-- ' || line === '--' || MOBILE_FOOTER.test(line)) {
      end = i;
      break;
    }
    if (i > 0 && QUOTE_HEADERS.some((re) => re.test(line))) {
      // "From:" only counts when an Outlook block follows (Sent/Date/To within three lines).
      if (/^From:/i.test(line) && !lines.slice(i + 1, i + 4).some((l) => /^(Sent|Date|To|Subject):/i.test(l.trim()))) continue;
      end = i;
      break;
    }
  }
  const kept = lines.slice(0, end).filter((l) => !/^\s*>/.test(l));
  // A sign-off near the end followed by a few short lines (name, title, phone) is the signature.
  for (let i = Math.max(0, kept.length - 8); i < kept.length; i++) {
    if (SIGN_OFF.test(kept[i]!.trim())) {
      const rest = kept.slice(i + 1).filter((l) => l.trim());
      if (rest.length <= 6 && rest.every((l) => l.trim().length <= 80)) {
        kept.length = i;
        break;
      }
    }
  }
  return kept.join('\n');
}

/** Collapses runs of spaces and blank lines. */
export function tidy(text: string): string {
  return text
    .replace(/\u00a0/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Tokens a text costs, estimated at four characters a token (close for English on GPT and
 * Claude tokenizers; pessimistic enough elsewhere that the budget holds). No tokenizer is loaded:
 * the extraction process stays small.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Cuts `text` to about `maxTokens`, at a paragraph or sentence boundary when one is near. */
export function cutToTokens(text: string, maxTokens: number): { text: string; truncated: boolean } {
  const maxChars = maxTokens * 4;
  if (text.length <= maxChars) return { text, truncated: false };
  let cut = text.slice(0, maxChars);
  const boundary = Math.max(cut.lastIndexOf('\n'), cut.lastIndexOf('. '));
  if (boundary > maxChars * 0.8) cut = cut.slice(0, boundary + 1);
  return { text: `${cut.trimEnd()}\n[…]`, truncated: true };
}

/** The body as the extractor should read it (HTML converted, quotes and signature trimmed, cut). */
export function prepareBody(body: string | null, maxTokens: number): { text: string; truncated: boolean } {
  if (!body) return { text: '', truncated: false };
  return cutToTokens(tidy(stripQuotesAndSignature(htmlToText(body))), maxTokens);
}
