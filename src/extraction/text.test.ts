import { describe, expect, it } from 'vitest';
import { cutToTokens, htmlToText, prepareBody, stripQuotesAndSignature } from './text.ts';

describe('preparing a body for extraction', () => {
  it('turns HTML into lines of text and decodes entities', () => {
    const text = htmlToText('<html><head><style>p{color:red}</style></head><body><p>Hello&nbsp;Ana,</p><p>Price: &euro;20 &amp; more<br>Line two</p><ul><li>one</li><li>two</li></ul><script>alert(1)</script></body></html>');
    expect(text).not.toMatch(/color|alert|</);
    expect(text).toContain('Hello Ana,');
    expect(text).toContain('Price: €20 & more\nLine two');
    expect(text).toMatch(/• one\n• two/);
  });

  it('leaves plain text alone, even with a < in it', () => {
    expect(htmlToText('a < b and c > d')).toBe('a < b and c > d');
  });

  it('drops the quoted history of a reply (Gmail, Outlook, > lines)', () => {
    const gmail = prepareBody('<div>Sounds good.</div><div class="gmail_quote">On Mon, Mar 3 at 9:00 Bob wrote:<blockquote>Old text $500</blockquote></div>', 1000);
    expect(gmail.text).toBe('Sounds good.');
    const plain = stripQuotesAndSignature('Yes, Friday works.\n\nOn Tue, 4 Mar 2025, Ana <ana@x.com> wrote:\n> Can we meet?\n> Thanks');
    expect(plain.trim()).toBe('Yes, Friday works.');
    const outlook = stripQuotesAndSignature('Approved.\n\nFrom: Ana Lee <ana@x.com>\nSent: Monday, March 3, 2025\nTo: Bob\nSubject: PO');
    expect(outlook.trim()).toBe('Approved.');
    expect(stripQuotesAndSignature('New answer\n> quoted line\nmore new').split('\n')).toEqual(['New answer', 'more new']);
  });

  it('keeps a "From:" line that opens no header block', () => {
    expect(stripQuotesAndSignature('Hi\nFrom: the team, with thanks.\nBye')).toContain('From: the team');
  });

  it('drops the signature after "-- ", a mobile footer, or a sign-off with a few short lines', () => {
    expect(stripQuotesAndSignature('Body here\n-- \nAna Lee\nCEO').trim()).toBe('Body here');
    expect(stripQuotesAndSignature('Body here\n\nSent from my iPhone').trim()).toBe('Body here');
    expect(stripQuotesAndSignature('Please sign today.\n\nBest regards,\nAna Lee\nHead of Sales | Acme\n+1 555 0100').trim()).toBe('Please sign today.');
  });

  it('cuts a long body to the token budget at a boundary and says so', () => {
    const long = 'A sentence of text. '.repeat(1000);
    const cut = cutToTokens(long, 100);
    expect(cut.truncated).toBe(true);
    expect(cut.text.length).toBeLessThanOrEqual(100 * 4 + 4);
    expect(cut.text.endsWith('.\n[…]')).toBe(true);
    expect(cutToTokens('short', 100)).toEqual({ text: 'short', truncated: false });
  });
});
