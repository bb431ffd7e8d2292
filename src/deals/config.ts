import { z } from 'zod';
import { bool, int, type Config } from '../config.ts';

/** The deals domain's variables (seed 003), part of the boot schema. */
export const dealsConfig = z.object({
  /** Cron of the daily-brief fan-out (the seed's name and default). */
  DAILY_BRIEF_TIME: z.string().min(1).default('0 8 * * *'),
  /** IANA zone the cron is read in (the seed's name and default). */
  TIMEZONE: z.string().min(1).default('America/New_York'),
  /**
   * First retry delay of every deals queue; each next one is 5 times longer (the seed's 5, 25,
   * 125 s). Tests shorten it.
   */
  DEALS_RETRY_BASE_MS: int(5000, 0),
  /** Google Drive API base; unset with no token, `nova start` runs the local Drive emulator. */
  GDRIVE_API_URL: z.url({ error: 'must be a URL' }).optional(),
  GDRIVE_ACCESS_TOKEN: z.string().min(1).optional(),
  /** Drive requests per second per source connection, shared by every process. */
  GDRIVE_RATE_LIMIT_PER_SECOND: int(10, 1),
  /** Microsoft Graph base (no version path); unset: SharePoint/OneDrive sync is off. */
  GRAPH_API_URL: z.url({ error: 'must be a URL' }).optional(),
  /** Bearer token for Graph (an app token with Files.Read.All / Sites.Read.All). */
  GRAPH_ACCESS_TOKEN: z.string().min(1).optional(),
  /** Graph requests per second per source connection, shared by every process. */
  GRAPH_RATE_LIMIT_PER_SECOND: int(10, 1),
  /** Items per drive delta page asked for ($top; Graph may send fewer). */
  GRAPH_DELTA_PAGE_SIZE: int(500, 1, 1000),
  /** Gmail / Outlook sources: how far back the first (or a `full`) sync reads, in days (the original's 30). */
  DEALS_MAIL_LOOKBACK_DAYS: int(30, 1, 3650),
  /** OCR of scanned PDF pages and images (tesseract.js, language data shipped: no network). */
  DEALS_OCR: bool(true),
  /** Tesseract languages, `+`-joined; only `eng` ships, others need DEALS_OCR_LANG_PATH. */
  DEALS_OCR_LANGUAGES: z.string().regex(/^[a-z_]+(\+[a-z_]+)*$/, 'must be Tesseract language codes joined by +').default('eng'),
  /** Folder of `<lang>.traineddata.gz` files; unset: the shipped @tesseract.js-data/eng model. */
  DEALS_OCR_LANG_PATH: z.string().min(1).optional(),
  /** Scanned pages of one PDF read by OCR at most (about 1 s each on one core). */
  DEALS_OCR_MAX_PAGES: int(50, 1, 10_000),
  /** Largest page image OCR takes, in pixels (a letter page at 600 dpi is 33.7 M). */
  DEALS_OCR_MAX_PIXELS: int(40_000_000, 10_000),
  /** Document text sent to the LLM per question, in characters (the original's 8,000). */
  DEALS_LLM_MAX_INPUT_CHARS: int(8000, 500, 1_000_000),
  /** Largest document text kept for processing, in characters. */
  DEALS_MAX_DOCUMENT_CHARS: int(200_000, 1000),
});

export type DealsConfig = Config & z.infer<typeof dealsConfig>;
