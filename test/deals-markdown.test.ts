import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Markdown } from '../web/src/deals/markdown.ts';
import { buildBrief, narrativeOf } from '../src/deals/brief.ts';

const html = (source: string) => renderToStaticMarkup(createElement(Markdown, { source }));

describe('the dashboard Markdown of a brief', () => {
  it('renders headings, lists, strong and emphasis as elements', () => {
    expect(html('# Deal: daily brief\n\n**Headline**\n\nA *calm* day.\n\n## Risks\n\n- **high** Legal exposure\n- none `here`\n\n1. one\n2. two'))
      .toBe('<div class="markdown"><h3>Deal: daily brief</h3><p><strong>Headline</strong></p><p>A <em>calm</em> day.</p><h4>Risks</h4>'
        + '<ul><li><strong>high</strong> Legal exposure</li><li>none <code>here</code></li></ul><ol><li>one</li><li>two</li></ol></div>');
  });

  it('never injects HTML: tags show as text and only web or mail links are links', () => {
    const out = html('<img src=x onerror=alert(1)> <script>alert(2)</script>\n\n- [click](javascript:alert(3)) [site](https://example.com/a) [m](mailto:a@b.example)');
    expect(out).not.toMatch(/<img|<script|href="javascript/);
    expect(out).toContain('&lt;img src=x onerror=alert(1)&gt; &lt;script&gt;alert(2)&lt;/script&gt;');
    expect(out).toContain('<span>click</span>');
    expect(out).toContain('<a href="https://example.com/a" rel="noopener noreferrer nofollow" target="_blank">site</a>');
    expect(out).toContain('href="mailto:a@b.example"');
  });

  it('renders a brief the writer produced, narrative first, with no Markdown markup left', () => {
    const inputs = { dealName: 'Falcon', date: '2026-03-02', asOf: new Date('2026-03-02T12:00:00Z'), documents: [], communications: [], workstreams: [], previous: undefined };
    const sections = buildBrief(inputs);
    const brief = buildBrief(inputs, narrativeOf('Falcon', sections));
    const out = html(brief.markdown);
    expect(out).toMatch(/^<div class="markdown"><h3>Falcon: daily brief, 2026-03-02<\/h3><p><strong>Falcon: 0% reviewed, 0 blockers, 0 risks<\/strong><\/p><p>0 new and 0 updated/);
    expect(out).toContain('<h4>Blockers</h4><ul><li>none</li></ul>');
    expect(out).not.toMatch(/\*\*|^#|>#/m);
  });
});
