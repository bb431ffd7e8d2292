import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDealsDomain } from '../src/deals/index.ts';
import { OcrEngine, toPgm } from '../src/deals/ocr.ts';
import { queueDocumentProcessing } from '../src/deals/queues.ts';
import * as store from '../src/deals/store.ts';
import { extractText } from '../src/deals/text.ts';
import { encryptedPdfBytes, scannedPdfBytes, scanPng, scanPngScaled } from '../src/emulators/gdrive/samples.ts';
import { QueueClient } from '../src/queue/queue.ts';
import type { Runtime } from '../src/runtime/runtime.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { startRuntime, until } from './helpers/runtime.ts';

// Words of the sample scan (src/emulators/gdrive/scan-sample.ts), found only by reading its pixels.
const KNOWN_WORDS = ['asbestos', 'warehouse', 'indemnity', 'remediation', 'litigation', 'landlord'];

// One engine for the whole file, as one `documents` process has: its worker starts once.
const ocr = new OcrEngine({ languages: 'eng', maxPixels: 40_000_000 });
afterAll(() => ocr.close());

describe('OCR of scans, offline', () => {
  it('reads a scanned PDF page (no text layer) with the shipped language data', async () => {
    const read = await extractText(scannedPdfBytes(), 'application/pdf', { maxChars: 100_000, ocr });
    expect(read.ocrPages).toBe(1);
    for (const word of KNOWN_WORDS) expect(read.text.toLowerCase()).toContain(word);
  });

  it('reads a 660 dpi scan reduced to 300 dpi, and a 165 dpi one as it is', async () => {
    const before = ocr.downscaled;
    const fine = await extractText(scannedPdfBytes(1, scanPngScaled(4)), 'application/pdf', { maxChars: 100_000, ocr });
    expect(ocr.downscaled).toBe(before + 1);
    for (const word of KNOWN_WORDS) expect(fine.text.toLowerCase()).toContain(word);
    await extractText(scannedPdfBytes(), 'application/pdf', { maxChars: 100_000, ocr });
    expect(ocr.downscaled).toBe(before + 1);
  });

  it('leaves scanned pages past the page limit unread', async () => {
    const capped = await extractText(scannedPdfBytes(3), 'application/pdf', { maxChars: 100_000, ocr, maxOcrPages: 1 });
    expect(capped).toMatchObject({ ocrPages: 1, skippedPages: 2 });
    expect(capped.text.match(/asbestos/g)).toHaveLength(1);
    expect(ocr.workersStarted).toBe(1);
  });

  it('refuses an image that is not one, and one over the pixel limit, as unreadable', async () => {
    await expect(extractText(new TextEncoder().encode('not an image'), 'image/png', { maxChars: 1000, ocr })).rejects.toMatchObject({
      name: 'UnreadableDocument', message: expect.stringMatching(/OCR could not read the image/),
    });
    const small = new OcrEngine({ languages: 'eng', maxPixels: 10_000 });
    await expect(extractText(scannedPdfBytes(), 'application/pdf', { maxChars: 1000, ocr: small })).rejects.toMatchObject({
      name: 'UnreadableDocument', message: expect.stringMatching(/larger than the OCR limit of 10000 pixels/),
    });
    expect(small.workersStarted).toBe(0);
    // The engine still reads after a bad image: an image file now.
    expect((await extractText(scanPng(), 'image/png', { maxChars: 1000, ocr })).text).toMatch(/environmental survey found asbestos/);
  });

  it('turns 1-bit and RGB pixels into a grayscale PGM', () => {
    const bits = toPgm({ width: 9, height: 1, kind: 1, data: new Uint8Array([0b1010_0000, 0b1000_0000]) });
    expect([...bits.slice(-9)]).toEqual([255, 0, 255, 0, 0, 0, 0, 0, 255]);
    const rgb = toPgm({ width: 2, height: 1, kind: 2, data: new Uint8Array([255, 255, 255, 255, 0, 0]) });
    expect(new TextDecoder().decode(rgb.slice(0, 11))).toBe('P5\n2 1\n255\n');
    expect([...rgb.slice(-2)]).toEqual([255, 76]);
    // Halved: each output pixel the mean of a 2×2 block.
    const half = toPgm({ width: 4, height: 2, kind: 2, data: new Uint8Array([0, 0, 0, 255, 255, 255, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0]) }, 0.5);
    expect(new TextDecoder().decode(half.slice(0, 11))).toBe('P5\n2 1\n255\n');
    expect([...half.slice(-2)]).toEqual([191, 0]);
  });
});

describe.each(backends)('deals OCR jobs on $name', (backend) => {
  let db: TestDb;
  let runtime: Runtime;
  let queue: QueueClient;
  let dealId: string;
  // This backend's `documents` process: its own engine, closed when the runtime stops.
  const engine = new OcrEngine({ languages: 'eng', maxPixels: 40_000_000 });

  beforeAll(async () => {
    db = await backend.create();
    queue = new QueueClient(db.sql);
    runtime = await startRuntime(db, [createDealsDomain({ ocr: engine })], {
      WORKER_TYPE: 'documents', DEALS_RETRY_BASE_MS: '100', POLL_INTERVAL_MS: '50',
    });
    dealId = (await store.insertDeal(db.sql, { name: 'Warehouse deal' })).id;
  });
  afterAll(async () => {
    await runtime?.stop();
    await db?.drop();
  });

  const finished = async (id: number) => {
    await until(async () => ['completed', 'dead'].includes((await queue.getJob(id))!.state), 30_000, `job ${id}`);
    return (await queue.getJob(id))!;
  };

  it('summarizes and extracts risks from a scanned PDF, reading it once with one reused worker', async () => {
    const docId = await store.insertDocument(db.sql, { dealId, name: 'Environmental survey (scan).pdf', sourceType: 'upload', fileData: scannedPdfBytes() });
    const summary = await finished(await queueDocumentProcessing(queue, docId, dealId, 'summarize'));
    expect(summary.state).toBe('completed');
    expect(summary.result).toMatchObject({ ocrPages: 1 });
    const risks = await finished(await queueDocumentProcessing(queue, docId, dealId, 'extract_risks'));
    expect(risks.state).toBe('completed');
    const doc = (await store.getDocument(db.sql, docId))!;
    for (const word of KNOWN_WORDS) expect(doc.content!.toLowerCase()).toContain(word);
    expect(doc.summary).toMatch(/asbestos/);
    expect(doc.risks).toEqual(expect.arrayContaining([expect.objectContaining({ title: 'Legal exposure', citation: expect.stringMatching(/indemnity|litigation/) })]));
    // The text was stored by the first job: the second did not OCR again; the worker was reused.
    expect(risks.result).not.toHaveProperty('ocrPages');
    expect(engine.workersStarted).toBe(1);
  });

  it('fails an encrypted PDF at once with the reason on the row, without retries', async () => {
    const docId = await store.insertDocument(db.sql, { dealId, name: 'locked.pdf', sourceType: 'upload', fileData: encryptedPdfBytes() });
    const job = await finished(await queueDocumentProcessing(queue, docId, dealId, 'summarize'));
    expect(job).toMatchObject({ state: 'dead', attempts: 1, last_error: { name: 'UnreadableDocument' } });
    expect((await store.getDocument(db.sql, docId))!.error).toBe('summarize failed: unreadable PDF: No password given');
  });
});
