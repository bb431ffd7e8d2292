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
}

/** The folder of the shipped English model (LSTM only, integer weights: small and fast). */
export function shippedLangPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tesseract.js-data/eng/package.json')), '4.0.0_best_int');
}

/** One reused Tesseract worker, pages in turn. */
export class OcrEngine {
  private worker: Promise<Worker> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Pages recognized, and Tesseract workers started, by this engine (benches and tests read them). */
  pages = 0;
  workersStarted = 0;

  constructor(private readonly options: OcrOptions) {}

  private start(): Promise<Worker> {
    this.worker ??= (async () => {
      const { createWorker, OEM } = await import('tesseract.js');
      this.workersStarted++;
      // cacheMethod none: Tesseract would otherwise copy the model into the working directory.
      // errorHandler: without one, tesseract.js rethrows a page's error outside the promise (an
      // uncaught exception that ends the process); the promise rejects with it either way.
      return createWorker(this.options.languages, OEM.LSTM_ONLY, {
        langPath: this.options.langPath ?? shippedLangPath(), gzip: true, cacheMethod: 'none', errorHandler: () => undefined,
      });
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
    const run = this.chain.then(async () => {
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
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The text of raw pixels (as pdf.js decodes a page's image), through a grayscale PGM. */
  recognizePixels(image: RawImage, signal?: AbortSignal): Promise<string> {
    if (image.width * image.height > this.options.maxPixels) {
      return Promise.reject(new OcrImageError(`a ${image.width}×${image.height} image is larger than the OCR limit of ${this.options.maxPixels} pixels`));
    }
    return this.recognize(toPgm(image), signal);
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
 * A binary PGM (Netpbm P5) of the image in gray: Tesseract reads it as is and binarizes it
 * itself, so no image library is needed between pdf.js and Tesseract.
 */
export function toPgm({ width, height, kind, data }: RawImage): Uint8Array {
  const header = new TextEncoder().encode(`P5\n${width} ${height}\n255\n`);
  const out = new Uint8Array(header.length + width * height);
  out.set(header);
  const px = out.subarray(header.length);
  if (kind === 1) {
    const rowBytes = (width + 7) >> 3;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) px[y * width + x] = (data[y * rowBytes + (x >> 3)]! >> (7 - (x & 7))) & 1 ? 255 : 0;
    }
  } else {
    const channels = kind === 2 ? 3 : 4;
    if (data.length < width * height * channels) throw new OcrImageError(`image data is shorter than ${width}×${height}×${channels}`);
    for (let i = 0, j = 0; i < px.length; i++, j += channels) {
      // Rec. 601 luma; alpha is ignored (scans are opaque).
      px[i] = (data[j]! * 299 + data[j + 1]! * 587 + data[j + 2]! * 114) / 1000;
    }
  }
  return out;
}
