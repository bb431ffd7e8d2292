import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Worker } from 'tesseract.js';

/**
 * OCR with tesseract.js (Tesseract compiled to WebAssembly: no native code, no system package).
 * The language data is read from disk, never fetched: by default the LSTM model shipped in the
 * `@tesseract.js-data/eng` npm package (4.0.0_best_int, 2.9 MB), so OCR works offline and in the
 * production image. A process keeps one Tesseract worker (a worker thread), created on the first
 * page and reused; pages are recognized one at a time, which bounds memory (docs/BENCHMARKS.md:
 * a `documents` process stays near 200 MB RSS while OCRing) and keeps one core busy at most.
 *
 * What makes a page fast (bench/deals.ts, docs/BENCHMARKS.md "Deals"):
 * - the LSTM engine only (OEM 1) and only the configured languages: no legacy classifier;
 * - automatic page segmentation (PSM 3): single-block modes (6) were no faster on a letter page
 *   and merge the columns of a two-column scan;
 * - no inverted-text retry (`tessedit_do_invert` 0): Tesseract otherwise recognizes each
 *   low-confidence line a second time as white-on-black, which a paper scan never is;
 * - page images finer than ~300 dpi are box-filtered down to 300 dpi before recognition (a 600
 *   dpi scan is 4 times the pixels for no gain in accuracy), and colour is reduced to gray here,
 *   one byte a pixel; Tesseract binarizes (Otsu) itself.
 * The "fast" LSTM models (tessdata_fast) would be quicker still, but no npm package ships them
 * and nothing is downloaded at run time: DEALS_OCR_LANG_PATH can point at them.
 */

/** A page or image Tesseract could not read (not an image, too large): retrying cannot help. */
export class OcrImageError extends Error {
  override name = 'OcrImageError';
}

export interface OcrOptions {
  /** `+`-joined Tesseract language codes, e.g. `eng` or `eng+fra`. */
  languages: string;
  /** Folder holding `<lang>.traineddata.gz`; default: the shipped `@tesseract.js-data/eng`. */
  langPath?: string | undefined;
  /** Larger images are refused instead of growing the WebAssembly heap without bound. */
  maxPixels: number;
  /** false: Tesseract's own defaults and no resampling (what the bench compares the tuning with). */
  tuned?: boolean;
}

/** The folder of the shipped English model (LSTM only, integer weights: small and fast). */
export function shippedLangPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tesseract.js-data/eng/package.json')), '4.0.0_best_int');
}

/** The resolution page images are reduced to: Tesseract's models are trained on ~300 dpi text. */
export const OCR_DPI = 300;
/** Images up to this much finer than OCR_DPI are read as they are (a resample would cost more than it saves). */
const DOWNSCALE_ABOVE = 1.25;

/** The worker's Tesseract parameters (see the comment at the top). */
const TESSERACT_PARAMETERS = (psm: string) => ({
  tessedit_pageseg_mode: psm as never,
  tessedit_do_invert: '0',
});

/** One reused Tesseract worker, pages in turn. */
export class OcrEngine {
  private worker: Promise<Worker> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Pages recognized, and Tesseract workers started, by this engine (benches and tests read them). */
  pages = 0;
  workersStarted = 0;
  /** Page images reduced to OCR_DPI before recognition. */
  downscaled = 0;

  constructor(private readonly options: OcrOptions) {}

  private start(): Promise<Worker> {
    this.worker ??= (async () => {
      const { createWorker, OEM, PSM } = await import('tesseract.js');
      this.workersStarted++;
      // cacheMethod none: Tesseract would otherwise copy the model into the working directory.
      // errorHandler: without one, tesseract.js rethrows a page's error outside the promise (an
      // uncaught exception that ends the process); the promise rejects with it either way.
      const worker = await createWorker(this.options.languages, OEM.LSTM_ONLY, {
        langPath: this.options.langPath ?? shippedLangPath(), gzip: true, cacheMethod: 'none', errorHandler: () => undefined,
      });
      try {
        if (this.options.tuned !== false) await worker.setParameters(TESSERACT_PARAMETERS(PSM.AUTO));
      } catch (err) {
        await worker.terminate();
        throw err;
      }
      return worker;
    })();
    // A worker that failed to start is started again by the next page, not cached broken.
    this.worker.catch(() => { this.worker = undefined; });
    return this.worker;
  }

  /**
   * The text of one image: an encoded file (PNG, JPEG, TIFF, BMP, WebP, PNM) as bytes. An abort
   * ends the worker (Tesseract cannot stop mid-page); the next page starts a new one.
   */
  recognize(image: Uint8Array, signal?: AbortSignal): Promise<string> {
    return this.exclusive(() => this.readBytes(image, signal));
  }

  /**
   * The text of raw pixels (as pdf.js decodes a page's image), through a grayscale PGM. `dpi`,
   * when the page says how large the image is drawn, lets a finer scan be reduced to OCR_DPI.
   */
  recognizePixels(image: RawImage, signal?: AbortSignal, dpi?: number): Promise<string> {
    return this.exclusive(() => this.readPixels(image, signal, dpi));
  }

  /**
   * Runs `fn` alone on the engine, with a reader of pixels: a caller decodes a page's images
   * inside it, so only the page being read has decoded images in memory, however many documents
   * wait for OCR (a `documents` process reads five at once; a 600 dpi page's images are tens of MB).
   */
  session<T>(fn: (read: (image: RawImage, dpi?: number) => Promise<string>) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.exclusive(() => fn((image, dpi) => this.readPixels(image, signal, dpi)));
  }

  /** One thing at a time on the worker, in call order; a failure does not stop the next. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private readPixels(image: RawImage, signal: AbortSignal | undefined, dpi: number | undefined): Promise<string> {
    if (image.width * image.height > this.options.maxPixels) {
      return Promise.reject(new OcrImageError(`a ${image.width}×${image.height} image is larger than the OCR limit of ${this.options.maxPixels} pixels`));
    }
    const scale = this.options.tuned !== false && dpi && dpi > OCR_DPI * DOWNSCALE_ABOVE ? OCR_DPI / dpi : 1;
    let pgm: Uint8Array;
    try {
      pgm = toPgm(image, scale);
    } catch (err) {
      return Promise.reject(err);
    }
    if (scale < 1) this.downscaled++;
    return this.readBytes(pgm, signal);
  }

  private async readBytes(image: Uint8Array, signal: AbortSignal | undefined): Promise<string> {
    signal?.throwIfAborted();
    const worker = await this.start();
    let onAbort: (() => void) | undefined;
    // Tesseract cannot stop mid-page, and a terminated worker may never answer: race the abort.
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        void this.close();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const { data } = await Promise.race([worker.recognize(Buffer.from(image.buffer, image.byteOffset, image.byteLength)), aborted]);
      this.pages++;
      return data.text;
    } catch (err) {
      signal?.throwIfAborted();
      const message = err instanceof Error ? err.message : String(err);
      throw new OcrImageError(`OCR could not read the image: ${message}`, { cause: err });
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.then((w) => w.terminate(), () => undefined);
  }
}

/** pdf.js's decoded image: `kind` 1 = 1 bit per pixel (rows padded to bytes), 2 = RGB, 3 = RGBA. */
export interface RawImage {
  width: number;
  height: number;
  kind: number;
  data: Uint8Array | Uint8ClampedArray;
}

/**
 * A binary PGM (Netpbm P5) of the image in gray, scaled by `scale` (≤ 1, a box filter: each output
 * pixel the mean of the source pixels it covers, so a 1-bit scan becomes smooth gray). Tesseract
 * reads PGM as is and binarizes it itself, so no image library is needed between pdf.js and it.
 * The source is read a row at a time: a 600 dpi page never exists in full as gray bytes.
 */
export function toPgm(image: RawImage, scale = 1): Uint8Array {
  const { width, height, kind, data } = image;
  const need = kind === 1 ? ((width + 7) >> 3) * height : width * height * (kind === 2 ? 3 : 4);
  if (data.length < need) throw new OcrImageError(`image data is shorter than ${width}×${height} ${kind === 1 ? 'bits' : kind === 2 ? 'RGB pixels' : 'RGBA pixels'}`);
  const dw = scale < 1 ? Math.max(1, Math.round(width * scale)) : width;
  const dh = scale < 1 ? Math.max(1, Math.round(height * scale)) : height;
  const header = new TextEncoder().encode(`P5\n${dw} ${dh}\n255\n`);
  const out = new Uint8Array(header.length + dw * dh);
  out.set(header);
  const px = out.subarray(header.length);
  if (dw === width && dh === height) {
    for (let y = 0; y < height; y++) grayRow(image, y, px.subarray(y * width, (y + 1) * width));
  } else {
    boxDownscale(image, px, dw, dh);
  }
  return out;
}

/** Row `y` in gray, one byte a pixel: 1-bit rows unpacked (1 = white), RGB(A) by Rec. 601 luma. */
function grayRow({ width, kind, data }: RawImage, y: number, out: Uint8Array): void {
  if (kind === 1) {
    const at = y * ((width + 7) >> 3);
    for (let x = 0; x < width; x++) out[x] = (data[at + (x >> 3)]! >> (7 - (x & 7))) & 1 ? 255 : 0;
    return;
  }
  const channels = kind === 2 ? 3 : 4;
  // Alpha is ignored (scans are opaque).
  for (let x = 0, j = y * width * channels; x < width; x++, j += channels) out[x] = (data[j]! * 299 + data[j + 1]! * 587 + data[j + 2]! * 114) / 1000;
}

/** Area-average resampling to a smaller gray image (integer source spans per output pixel). */
function boxDownscale(image: RawImage, dst: Uint8Array, dw: number, dh: number): void {
  const { width: sw, height: sh } = image;
  // Column spans are the same for every row: computed once.
  const x0 = new Uint32Array(dw);
  const x1 = new Uint32Array(dw);
  for (let x = 0; x < dw; x++) {
    x0[x] = Math.floor((x * sw) / dw);
    x1[x] = Math.max(x0[x]! + 1, Math.floor(((x + 1) * sw) / dw));
  }
  const row = new Uint8Array(sw);
  const sums = new Uint32Array(dw);
  for (let y = 0; y < dh; y++) {
    const y0 = Math.floor((y * sh) / dh);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * sh) / dh));
    sums.fill(0);
    for (let sy = y0; sy < y1; sy++) {
      grayRow(image, sy, row);
      for (let x = 0; x < dw; x++) {
        let s = 0;
        for (let sx = x0[x]!; sx < x1[x]!; sx++) s += row[sx]!;
        sums[x] = sums[x]! + s;
      }
    }
    for (let x = 0; x < dw; x++) dst[y * dw + x] = Math.round(sums[x]! / ((y1 - y0) * (x1[x]! - x0[x]!)));
  }
}
