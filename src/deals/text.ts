import { OcrImageError, type OcrEngine, type RawImage } from './ocr.ts';

/**
 * The text of a document file, by type: plain text as is, PDF through unpdf (pdf.js, no native
 * code), DOCX through mammoth, images through OCR. A PDF page with no text layer (a scan) is read
 * by OCR of the images drawn on it, which pdf.js decodes: scanners put each page in one image, so
 * no page renderer (and no native canvas) is needed. A file that cannot be read throws
 * UnreadableDocument, which no retry can fix.
 */

/** A file whose text cannot be read: the job fails at once, with this reason stored. */
export class UnreadableDocument extends Error {
  override name = 'UnreadableDocument';
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|csv|x-yaml|markdown))/;
export const PDF = 'application/pdf';
export const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

const IMAGE_EXTENSIONS: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', tif: 'image/tiff', tiff: 'image/tiff', bmp: 'image/bmp', webp: 'image/webp',
  pbm: 'image/x-portable-bitmap', pgm: 'image/x-portable-graymap', ppm: 'image/x-portable-pixmap',
};
/** The image types Tesseract's reader (Leptonica, as tesseract.js builds it) decodes. */
export const OCR_IMAGE_TYPES = new Set(Object.values(IMAGE_EXTENSIONS));

/** How text is read: OCR of scans and images, within limits. */
export interface ReadOptions {
  maxChars: number;
  /** Absent: scans and images are unreadable (OCR off). */
  ocr?: OcrEngine | undefined;
  /** Pages of one PDF read by OCR at most; later scanned pages are left out (and counted). */
  maxOcrPages?: number;
  signal?: AbortSignal | undefined;
}

/** What reading found: the text, and how much of it came from OCR. */
export interface ReadResult {
  text: string;
  ocrPages: number;
  /** Scanned pages past maxOcrPages, not read. */
  skippedPages: number;
}

/** A page with fewer characters than this in its text layer is taken for a scan. */
const SCANNED_PAGE_CHARS = 16;

/** What a name's extension says when the source gave no type. */
export function mimeOf(name: string, given?: string | null): string {
  if (given && given !== 'application/octet-stream') return given;
  const ext = name.toLowerCase().split('.').pop();
  if (ext === 'pdf') return PDF;
  if (ext === 'docx') return DOCX;
  if (ext === 'txt' || ext === 'md' || ext === 'csv') return 'text/plain';
  const image = ext && IMAGE_EXTENSIONS[ext];
  if (image) return image;
  return given ?? 'application/octet-stream';
}

/** The readable text of `bytes`, cut at `maxChars`. */
export async function extractText(bytes: Uint8Array, mime: string, options: ReadOptions): Promise<ReadResult> {
  let read: ReadResult = { text: '', ocrPages: 0, skippedPages: 0 };
  if (TEXT_TYPES.test(mime)) {
    // fatal: a binary file mislabelled as text is unreadable, not a page of replacement chars.
    try {
      read.text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new UnreadableDocument(`the ${mime} file is not valid UTF-8 text`);
    }
  } else if (mime === PDF) {
    read = await pdfText(bytes, options);
  } else if (mime === DOCX) {
    read.text = await docxText(bytes);
  } else if (OCR_IMAGE_TYPES.has(mime)) {
    if (!options.ocr) throw new UnreadableDocument(`${mime} files need OCR, which is off (DEALS_OCR=false)`);
    read = { text: await ocrOrUnreadable(() => options.ocr!.recognize(bytes, options.signal)), ocrPages: 1, skippedPages: 0 };
  } else {
    throw new UnreadableDocument(`no text reader for ${mime} files`);
  }
  const text = read.text.replace(/\u0000/g, '').trim();
  if (!text) {
    const why = read.ocrPages ? 'OCR found no text in it' : options.ocr ? 'it has no text layer and no page image' : 'a scan needs OCR, which is off (DEALS_OCR=false)';
    throw new UnreadableDocument(`the ${mime} file has no text (${why})`);
  }
  return { ...read, text: text.slice(0, options.maxChars) };
}

async function ocrOrUnreadable(read: () => Promise<string>): Promise<string> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof OcrImageError) throw new UnreadableDocument(err.message, { cause: err });
    throw err;
  }
}

async function pdfText(bytes: Uint8Array, options: ReadOptions): Promise<ReadResult> {
  const { extractText: extract, getDocumentProxy, getResolvedPDFJS } = await import('unpdf');
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  let pages: string[];
  try {
    // pdf.js takes ownership of the buffer it is given: hand it a copy.
    pdf = await getDocumentProxy(new Uint8Array(bytes));
    pages = (await extract(pdf, { mergePages: false })).text;
  } catch (err) {
    // An encrypted PDF lands here too: pdf.js's PasswordException ("No password given").
    throw new UnreadableDocument(`unreadable PDF: ${(err as Error).message}`, { cause: err });
  }
  const out: ReadResult = { text: '', ocrPages: 0, skippedPages: 0 };
  try {
    const { OPS } = await getResolvedPDFJS();
    const max = options.maxOcrPages ?? Infinity;
    const texts: string[] = [];
    for (let n = 1; n <= pages.length; n++) {
      const layer = pages[n - 1] ?? '';
      if (layer.trim().length >= SCANNED_PAGE_CHARS || !options.ocr) {
        texts.push(layer);
        continue;
      }
      if (out.ocrPages >= max) {
        out.skippedPages++;
        continue;
      }
      options.signal?.throwIfAborted();
      // Decoded and read while holding the engine: only this page's images are in memory.
      const read = await options.ocr.session((ocrRead) => ocrPage(pdf, n, OPS, ocrRead), options.signal);
      if (read.length) out.ocrPages++;
      texts.push(layer, ...read);
    }
    out.text = texts.join('\n');
    return out;
  } finally {
    await pdf.loadingTask.destroy();
  }
}

/** The OCR text of the images drawn on page `n` (none: an empty list). */
async function ocrPage(
  pdf: Awaited<ReturnType<typeof import('unpdf').getDocumentProxy>>,
  n: number,
  OPS: Record<string, number>,
  read: (image: RawImage, dpi?: number) => Promise<string>,
): Promise<string[]> {
  const page = await pdf.getPage(n);
  try {
    const ops = await page.getOperatorList();
    const texts: string[] = [];
    // The current transformation (PDF `cm`, `q`/`Q`): an image is drawn on the unit square
    // under it, so its drawn width in points, against its pixels, gives the scan's dpi.
    let ctm = [1, 0, 0, 1, 0, 0];
    const saved: number[][] = [];
    for (let i = 0; i < ops.fnArray.length; i++) {
      const fn = ops.fnArray[i];
      if (fn === OPS.save) saved.push(ctm);
      else if (fn === OPS.restore) ctm = saved.pop() ?? ctm;
      else if (fn === OPS.transform) ctm = multiply(ctm, ops.argsArray[i] as number[]);
      // A repeated image (pdf.js folds repeats into one paint) is read once.
      if (fn !== OPS.paintImageXObject && fn !== OPS.paintImageXObjectRepeat && fn !== OPS.paintInlineImageXObject) continue;
      const arg = ops.argsArray[i]![0] as string | RawImage;
      // A named image is resolved by its page (or, shared, by the document); an inline one is its own data.
      const image = typeof arg === 'string'
        ? await new Promise<RawImage | null>((resolve) => (arg.startsWith('g_') ? page.commonObjs : page.objs).get(arg, resolve))
        : arg;
      // Tiny images are logos and rules, not page scans.
      if (!image?.data || image.width * image.height < 10_000 || ![1, 2, 3].includes(image.kind)) continue;
      const drawnInches = Math.hypot(ctm[0]!, ctm[1]!) / 72;
      const dpi = fn === OPS.paintImageXObjectRepeat || drawnInches < 0.5 ? undefined : image.width / drawnInches;
      texts.push(await ocrOrUnreadable(() => read(image, dpi)));
    }
    return texts;
  } finally {
    page.cleanup();
  }
}

/** `m` then `n` as PDF matrices [a b c d e f] (`n` applied first, as `cm` does). */
function multiply(m: number[], n: number[]): number[] {
  const [a, b, c, d, e, f] = m as [number, number, number, number, number, number];
  const [p, q, r, s, t, u] = n as [number, number, number, number, number, number];
  return [p * a + q * c, p * b + q * d, r * a + s * c, r * b + s * d, t * a + u * c + e, t * b + u * d + f];
}

async function docxText(bytes: Uint8Array): Promise<string> {
  const mammoth = await import('mammoth');
  try {
    const { value } = await mammoth.extractRawText({ buffer: Buffer.from(bytes) });
    return value;
  } catch (err) {
    throw new UnreadableDocument(`unreadable DOCX: ${(err as Error).message}`, { cause: err });
  }
}
