/**
 * Email bodies built to make backtracking regular expressions slow: long runs that almost match
 * (an opening tag that never closes, a word that never reaches its `@`, spaces that never reach
 * the end of a line). Each is `size` characters. Shared by the extraction fuzz test and
 * bench/extraction-text.ts.
 */

const fill = (unit: string, size: number, prefix = '', suffix = '') =>
  prefix + unit.repeat(Math.max(0, Math.ceil((size - prefix.length - suffix.length) / unit.length))).slice(0, Math.max(0, size - prefix.length - suffix.length)) + suffix;

export function adversarialBodies(size = 100 * 1024): { name: string; body: string }[] {
  const shapes: [string, string, string?, string?][] = [
    ['gmail_quote div without a closing quote', '<div class="x gmail_quote', '<p>hi</p>'],
    ['div tags with no >', '<div class="a" ', '<p>hi</p>'],
    ['divRplyFwdMsg ids', '<div id="divRplyFwdMsg', '<p>hi</p>'],
    ['unclosed <a', '<a', '<b>'],
    ['unclosed <', '<', '<p>x</p>'],
    ['unclosed <li', '<li', '<p>x</p>'],
    ['unclosed <p', '<p ', '<p>x</p>'],
    ['unclosed comments', '<!--', '<p>x</p>'],
    ['unclosed scripts', '<script>', '<p>x</p>'],
    ['unclosed styles', '<style a=b>', '<p>x</p>'],
    ['unclosed blockquotes', '<blockquote>', '<p>x</p>'],
    ['nested blockquotes', '<blockquote>x', '<p>x</p>'],
    ['closing tags with spaces', '</script   ', '<script>'],
    ['entities with no semicolon', '&aaaaaaaaaaaaaaaaaaaa', '<p>x</p>'],
    ['numeric entities with no semicolon', '&#11111111111111111', '<p>x</p>'],
    ['one long entity name', 'a', '<p>&', ';'],
    ['spaces before a letter', ' ', '', 'x'],
    ['tabs and no-break spaces', '\t\u00a0 ', 'x', 'x'],
    ['one long word', 'a'],
    ['dotted words with no @', 'a.'],
    ['at signs', 'a@'],
    ['an almost address', 'a@a.'],
    ['pluses and dashes', '+-'],
    ['capitalised names before <', 'Ab ', '"', ''],
    ['digits', '1'],
    ['thousands separators', '1,'],
    ['currency and digits', '$1,0'],
    ['decimal points', '1.'],
    ['terminators', '.'],
    ['terminators and letters', 'a.!?'],
    ['quote headers', 'On x', '', ''],
    ['German quote headers', 'schrieb ', 'Am '],
    ['lines of On', 'On a b c d e f g\n'],
    ['lines of Am ... schrieb', 'Am 1 schrieb 2 schrieb 3 schrieb 4 schrieb 5\n'],
    ['From lines', 'From: a\n'],
    ['quoted lines', '> '],
    ['underscores', '_'],
    ['dashes', '-'],
    ['sign-off lines', 'Best regards,\n'],
    ['blank lines', '\n \n'],
    ['weekday phrases', 'next next next '],
    ['month names', 'March '],
    ['waiting on', 'waiting on '],
    ['no blockers', 'not '],
    ['words', 'please could you send '],
    ['unicode letters', 'é'],
  ];
  const out: { name: string; body: string }[] = [];
  for (const [name, unit, prefix, suffix] of shapes) {
    out.push({ name: `${name} (text)`, body: fill(unit, size, prefix ?? '', suffix ?? '') });
    out.push({ name: `${name} (in HTML)`, body: fill(unit, size, `<html><body><div>Hello ${prefix ?? ''}`, `${suffix ?? ''}</div></body></html>`) });
  }
  return out;
}
