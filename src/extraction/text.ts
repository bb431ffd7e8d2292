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
  // Bounded names: a run of letters after `&` with no `;` is scanned once, not to its end each time.
  return s.replace(/&(#x[0-9a-f]{1,8}|#\d{1,8}|[a-z]{1,32});/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/*
 * Every pattern below runs on text anyone can email in, so each is linear in its input: a
 * pattern that starts at `<` stops at the next `<` or `>` (`[^<>]`), never at the end of the
 * body, and what used to be a lazy `[\s\S]*?` up to a closing tag is a forward search that
 * resumes where the last one ended (see dropElements). Backtracking patterns on a body that
 * never closes a tag took seconds per 100 KB (issue 11); these take a few milliseconds.
 */

const HTML_TAG = /<(?:html|body|div|p|br|span|table|a|b|i|ul|ol|li|blockquote|font|strong|em|h[1-6])[\s/>]/i;

/** Whether a body is HTML: one of the usual tags, opened and closed by a `>` somewhere after it. */
export function looksLikeHtml(s: string): boolean {
  const m = HTML_TAG.exec(s);
  return m !== null && (s[m.index + m[0].length - 1] === '>' || s.indexOf('>', m.index) !== -1);
}

/** Removes `<!-- … -->` comments; an unterminated one runs to the end, as in a browser. */
function dropComments(s: string): string {
  let out = '';
  let at = 0;
  for (let open = s.indexOf('<!--'); open !== -1; open = s.indexOf('<!--', at)) {
    out += s.slice(at, open);
    const close = s.indexOf('-->', open + 4);
    if (close === -1) return out;
    at = close + 3;
  }
  return out + s.slice(at);
}

/**
 * Removes the elements named (from the opening tag to the matching closing tag), replacing each
 * with `replacement`; nested ones of the same name count, so `<blockquote>` inside a quoted
 * `<blockquote>` goes with it. An element never closed runs to the end. One pass over the text.
 */
function dropElements(s: string, names: string, replacement: string): string {
  const tag = new RegExp(`<(/?)(${names})(?=[\\s/>])[^<>]*>?`, 'gi');
  let out = '';
  let at = 0;
  let depth = 0;
  let open = '';
  for (let m = tag.exec(s); m; m = tag.exec(s)) {
    const closing = m[1] === '/';
    const name = m[2]!.toLowerCase();
    if (depth === 0) {
      if (closing) continue;
      out += s.slice(at, m.index);
      open = name;
      depth = 1;
    } else if (name === open) {
      depth += closing ? -1 : 1;
      if (depth === 0) {
        out += replacement;
        at = m.index + m[0].length;
      }
    }
  }
  return depth > 0 ? out + replacement : out + s.slice(at);
}

/**
 * Cuts the body at the first `<div` whose attribute `attribute` contains one of `markers`: the
 * quoted history that Gmail (class gmail_quote) and Outlook (id divRplyFwdMsg, appendonsend) put
 * after the message. Markers are found by a linear search, then the tag around each is checked.
 */
function cutAtQuoteDiv(s: string, attribute: 'class' | 'id', markers: RegExp): string {
  markers.lastIndex = 0;
  for (let m = markers.exec(s); m; m = markers.exec(s)) {
    // The tag around the marker, looked for no further back than a real tag's attributes reach.
    const from = Math.max(0, m.index - 512);
    const window = s.slice(from, m.index);
    const lt = window.lastIndexOf('<');
    if (lt === -1 || window.lastIndexOf('>') > lt) continue;
    const open = from + lt;
    const tag = window.slice(lt);
    if (/^<div[\s/]/i.test(tag) && new RegExp(`\\s${attribute}\\s*=`, 'i').test(tag)) return s.slice(0, open);
  }
  return s;
}

/** HTML to readable text: blocks become line breaks, lists get bullets, quoted blocks are dropped. */
export function htmlToText(html: string): string {
  if (!looksLikeHtml(html)) return decodeEntities(html);
  let s = dropComments(html);
  s = dropElements(s, 'head|style|script|title|template', '');
  // Gmail, Outlook and Apple Mail wrap the quoted history in these; it is not this message.
  s = dropElements(s, 'blockquote', '\n');
  s = cutAtQuoteDiv(s, 'class', /gmail_quote/gi);
  s = cutAtQuoteDiv(s, 'id', /divRplyFwdMsg|appendonsend/gi);
  s = s
    .replace(/<br\s{0,20}\/?>/gi, '\n')
    .replace(/<li(?=[\s/>])[^<>]*>/gi, '\n• ')
    .replace(/<\/?(?:p|div|tr|table|ul|ol|h[1-6]|section|article|header|footer|pre|hr)(?=[\s/>])[^<>]*>/gi, '\n')
    .replace(/<\/t[dh]\s{0,20}>/gi, '\t')
    .replace(/<[^<>]+>/g, '');
  return decodeEntities(s);
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

// How every QUOTE_HEADERS line begins: one test rules out almost every line.
const QUOTE_HEADER_START = /^(?:on |le |am |el |-|_|from:)/i;

// Sign-offs that start a signature when only a few short lines follow them.
const SIGN_OFF = /^(best|best regards|kind regards|regards|warm regards|many thanks|thanks|thank you|cheers|sincerely|yours|talk soon|br|mit freundlichen grüßen|cordialement|saludos|un saludo)[,.!]?\s*$/i;
const MOBILE_FOOTER = /^(sent from my|get outlook for|sent from outlook|envoyé de mon|von meinem .* gesendet)/i;

const MAX_HEADER_LINE = 500;

/**
 * A line without its trailing spaces, tabs and no-break spaces. Not `/[ \t]+$/`: that pattern
 * retries from every space of a long run that does not end the line, quadratic in the run.
 */
function trimLineEnd(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t' || line[end - 1] === '\u00a0')) end--;
  return end === line.length ? line : line.slice(0, end);
}

/** Drops quoted replies, forwarded history and the signature; keeps what this message says. */
export function stripQuotesAndSignature(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n').map(trimLineEnd);
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    // "-- " is the standard signature delimiter (RFC 3676 §4.3).
    if (lines[i] === '-- ' || line === '--' || MOBILE_FOOTER.test(line)) {
      end = i;
      break;
    }
    // A header line is short; longer lines are not tried (the patterns' bounded repeats cost
    // up to a few hundred steps per character of a line).
    if (i > 0 && line.length <= MAX_HEADER_LINE && QUOTE_HEADER_START.test(line) && QUOTE_HEADERS.some((re) => re.test(line))) {
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
  // Cut before converting: markup and quoted history rarely take more than RAW_PER_TEXT times
  // the text kept, and nothing past that point could reach the budget anyway. Every step below is
  // linear, so this bounds the work by the budget, not by what the sender chose to send.
  const rawLimit = Math.max(maxTokens * 4 * RAW_PER_TEXT, MIN_RAW_CHARS);
  const raw = body.length > rawLimit ? body.slice(0, rawLimit) : body;
  const cut = cutToTokens(tidy(stripQuotesAndSignature(htmlToText(raw))), maxTokens);
  return raw === body ? cut : { text: cut.truncated ? cut.text : `${cut.text}\n[…]`, truncated: true };
}

/** Raw characters read per character of the text budget (HTML is often 5-10 times its text). */
const RAW_PER_TEXT = 16;
const MIN_RAW_CHARS = 64 * 1024;
