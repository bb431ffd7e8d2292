import { createElement as h, type ReactNode } from 'react';

/**
 * A brief's Markdown as React elements: the subset the briefs use (headings, paragraphs, `-`/`*`
 * and numbered lists, fenced code, **strong**, *emphasis*, `code`, [links](https://…)). No HTML
 * is ever parsed or injected: every piece of text is a React text node (escaped), raw HTML in
 * the source shows as its characters, and a link keeps only an http(s) or mailto target. An LLM
 * writes part of a brief, so its text is treated as untrusted. No dependency: the few rules
 * below cover what the brief writer produces, and anything else reads as plain text. Written
 * with createElement, not JSX, so the server's tests (which compile without JSX) can render it.
 */
export function Markdown({ source, headingOffset = 2, label }: { source: string; headingOffset?: number; label?: string }) {
  return h('div', { className: 'markdown', 'aria-label': label }, ...blocks(source, headingOffset));
}

type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; ordered: boolean; items: string[] }
  | { kind: 'code'; text: string };

/** The source's blocks, line by line. */
export function parseBlocks(source: string): Block[] {
  const out: Block[] = [];
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) out.push({ kind: 'paragraph', text: paragraph.join(' ') });
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*```/.test(line)) {
      flush();
      const code: string[] = [];
      while (++i < lines.length && !/^\s*```/.test(lines[i]!)) code.push(lines[i]!);
      out.push({ kind: 'code', text: code.join('\n') });
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    const item = /^\s*(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      out.push({ kind: 'heading', level: heading[1]!.length, text: heading[2]! });
    } else if (item) {
      flush();
      const ordered = item[2] !== undefined;
      const last = out.at(-1);
      if (last?.kind === 'list' && last.ordered === ordered) last.items.push(item[3]!);
      else out.push({ kind: 'list', ordered, items: [item[3]!] });
    } else if (!line.trim()) {
      flush();
    } else {
      const last = out.at(-1);
      // A continuation line of a list item (indented, no blank line before it).
      if (!paragraph.length && last?.kind === 'list' && /^\s+\S/.test(line) && lines[i - 1]?.trim()) {
        last.items[last.items.length - 1] += ` ${line.trim()}`;
      } else {
        paragraph.push(line.trim());
      }
    }
  }
  flush();
  return out;
}

function blocks(source: string, headingOffset: number): ReactNode[] {
  return parseBlocks(source).map((b, i) => {
    switch (b.kind) {
      case 'heading': return h(`h${Math.min(6, b.level + headingOffset)}`, { key: i }, ...inline(b.text));
      case 'paragraph': return h('p', { key: i }, ...inline(b.text));
      case 'code': return h('pre', { key: i }, h('code', null, b.text));
      case 'list': return h(b.ordered ? 'ol' : 'ul', { key: i }, ...b.items.map((t, j) => h('li', { key: j }, ...inline(t))));
    }
  });
}

// Order matters: code first (nothing inside it is markup), then links, strong, emphasis.
const INLINE = /`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\*\*(.+?)\*\*|__(.+?)__|\*([^*\s](?:[^*]*[^*\s])?)\*|\b_([^_]+)_\b/;

/** Inline markup of one block's text, as text nodes and elements. */
export function inline(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let rest = text;
  let key = 0;
  for (let m = INLINE.exec(rest); m; m = INLINE.exec(rest)) {
    if (m.index) out.push(rest.slice(0, m.index));
    const [whole, code, linkText, href, strong, strong2, em, em2] = m;
    if (code !== undefined) out.push(h('code', { key: key++ }, code));
    else if (linkText !== undefined) {
      out.push(safeHref(href!)
        ? h('a', { key: key++, href, rel: 'noopener noreferrer nofollow', target: '_blank' }, ...inline(linkText))
        : h('span', { key: key++ }, ...inline(linkText)));
    } else if (strong !== undefined || strong2 !== undefined) out.push(h('strong', { key: key++ }, ...inline((strong ?? strong2)!)));
    else out.push(h('em', { key: key++ }, ...inline((em ?? em2)!)));
    rest = rest.slice(m.index + whole.length);
  }
  if (rest) out.push(rest);
  return out;
}

/** Only web and mail links: never `javascript:`, `data:` or anything a browser would run. */
export function safeHref(href: string): boolean {
  return /^(https?:\/\/|mailto:)/i.test(href);
}
