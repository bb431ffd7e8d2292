import { describe, expect, it } from 'vitest';
import { extractText } from '../src/deals/text.ts';
import { pdfPagesBytes } from '../src/emulators/gdrive/samples.ts';

describe('text PDFs', () => {
  it('reads every page of a 10-page text PDF, in order, with no OCR', async () => {
    const pages = Array.from({ length: 10 }, (_, i) => `Page ${i + 1} of the purchase agreement: clause ${100 + i} on indemnity.`);
    const read = await extractText(pdfPagesBytes(pages), 'application/pdf', { maxChars: 100_000 });
    expect(read.ocrPages).toBe(0);
    const found = pages.map((p) => read.text.indexOf(p.slice(0, 12)));
    expect(found.every((at) => at >= 0), read.text).toBe(true);
    expect([...found].sort((a, b) => a - b)).toEqual(found);
    expect(read.text).toContain('clause 109 on indemnity');
  });
});
