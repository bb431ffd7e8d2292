import { NylasClient, type EmailConfig } from '../email/index.ts';
import { createChatModel, type ExtractionConfig } from '../extraction/index.ts';
import type { Services } from '../runtime/domain.ts';
import { BuiltinAnalyzer, type DealAnalyzer } from './analysis.ts';
import type { DealsConfig } from './config.ts';
import { DriveClient } from './gdrive/client.ts';
import { GraphClient } from './graph/client.ts';
import { LlmDealAnalyzer } from './llm-analyzer.ts';
import { OcrEngine } from './ocr.ts';
import * as sources from './sources-store.ts';

/** A Drive job ran in a process with no Drive configured: retrying cannot help. */
export class DriveNotConfigured extends Error {
  override name = 'DriveNotConfigured';
}

/** A Graph job ran in a process with no Graph configured: retrying cannot help. */
export class GraphNotConfigured extends Error {
  override name = 'GraphNotConfigured';
}

/** Microsoft Graph (SharePoint, OneDrive) as the deals domain reaches it: one client per process. */
export interface GraphAccess {
  /** The client; throws GraphNotConfigured when GRAPH_API_URL is unset. */
  client(): GraphClient;
  /** A file's bytes, drawn from the deal's SharePoint connection budget. */
  download(dealId: string, itemId: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/** A mail source ran in a process with no Nylas key: retrying cannot help. */
export class NylasNotConfigured extends Error {
  override name = 'NylasNotConfigured';
}

/** Google Drive as the deals domain reaches it: one client per process. */
export interface DriveAccess {
  /** The client; throws when no Drive is configured. */
  client(): DriveClient;
  /** A file's bytes, drawn from the deal's Drive connection budget. */
  download(dealId: string, fileId: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/** What the deals domain keeps per process, built once by its setup. */
export interface DealsDeps {
  services: Services;
  config: DealsConfig;
  analyzer: DealAnalyzer;
  drive: DriveAccess;
  graph: GraphAccess;
  /** Nylas (Gmail and Outlook sources): the email domain's client, on its per-grant budget. */
  nylas: { client(): NylasClient };
  /** The process's OCR engine (one Tesseract worker, started on the first scan); absent with DEALS_OCR=false. */
  ocr: OcrEngine | undefined;
}

export interface DealsSetupOptions {
  /** Replaces the builtin analyzer (tests inject failing or LLM-backed ones). */
  analyzer?: DealAnalyzer;
  /** Replaces the OCR engine built from the config (tests read its counters). */
  ocr?: OcrEngine;
}

/**
 * The analyzer: the LLM of LLM_PROVIDER (or of the key that is set), as the extraction domain
 * resolves it; the builtin rules with no provider.
 */
async function createAnalyzer(config: DealsConfig & ExtractionConfig, services: Services): Promise<DealAnalyzer> {
  const model = await createChatModel(config);
  if (!model) return new BuiltinAnalyzer();
  return new LlmDealAnalyzer({
    model, rateLimiter: services.rateLimiter,
    limits: { requestsPerMinute: config.LLM_REQUESTS_PER_MINUTE, tokensPerMinute: config.LLM_TOKENS_PER_MINUTE },
    maxOutputTokens: config.LLM_MAX_OUTPUT_TOKENS, maxRetries: config.LLM_MAX_RETRIES, timeoutMs: config.LLM_TIMEOUT_MS,
    maxInputChars: config.DEALS_LLM_MAX_INPUT_CHARS,
  });
}

export async function setupDeals(services: Services, options: DealsSetupOptions = {}): Promise<DealsDeps> {
  const config = services.config as DealsConfig;
  let client: DriveClient | undefined;
  const drive: DriveAccess = {
    client() {
      if (!config.GDRIVE_API_URL) throw new DriveNotConfigured('no Google Drive is configured (set GDRIVE_API_URL and GDRIVE_ACCESS_TOKEN)');
      client ??= new DriveClient({
        baseUrl: config.GDRIVE_API_URL.replace(/\/+$/, ''), accessToken: config.GDRIVE_ACCESS_TOKEN,
        rateLimiter: services.rateLimiter, perSecond: config.GDRIVE_RATE_LIMIT_PER_SECOND,
      });
      return client;
    },
    async download(dealId, fileId, signal) {
      const source = await sources.activeSource(services.sql, dealId, 'gdrive');
      return drive.client().download(source?.id ?? dealId, fileId, signal);
    },
  };
  let graphClient: GraphClient | undefined;
  const graph: GraphAccess = {
    client() {
      if (!config.GRAPH_API_URL) throw new GraphNotConfigured('no Microsoft Graph is configured (set GRAPH_API_URL and GRAPH_ACCESS_TOKEN)');
      graphClient ??= new GraphClient({
        baseUrl: config.GRAPH_API_URL.replace(/\/+$/, ''), accessToken: config.GRAPH_ACCESS_TOKEN, rateLimiter: services.rateLimiter,
        perSecond: config.GRAPH_RATE_LIMIT_PER_SECOND, pageSize: config.GRAPH_DELTA_PAGE_SIZE,
      });
      return graphClient;
    },
    async download(dealId, itemId, signal) {
      const source = await sources.activeSource(services.sql, dealId, 'sharepoint');
      if (!source?.folder_id) throw new GraphNotConfigured(`deal ${dealId} has no active SharePoint source to download from`);
      return graph.client().download(source.id, source.folder_id, itemId, signal);
    },
  };
  let nylasClient: NylasClient | undefined;
  const nylas = {
    client() {
      const c = config as DealsConfig & EmailConfig;
      if (!c.NYLAS_API_KEY) throw new NylasNotConfigured('no Nylas is configured (set NYLAS_API_KEY; Gmail and Outlook sources use the deal inbox\'s grant)');
      // The same per-grant bucket (nylas:<grant>) as the email domain's client: one budget per grant.
      nylasClient ??= new NylasClient({
        apiKey: c.NYLAS_API_KEY, apiUri: c.NYLAS_API_URI, rateLimiter: services.rateLimiter,
        rateLimit: { capacity: c.NYLAS_RATE_LIMIT_BURST, perSecond: c.NYLAS_RATE_LIMIT_PER_SECOND }, timeoutMs: c.NYLAS_TIMEOUT_MS, maxRetries: c.NYLAS_MAX_RETRIES,
      });
      return nylasClient;
    },
  };
  const ocr = !config.DEALS_OCR ? undefined : options.ocr
    ?? new OcrEngine({ languages: config.DEALS_OCR_LANGUAGES, langPath: config.DEALS_OCR_LANG_PATH, maxPixels: config.DEALS_OCR_MAX_PIXELS });
  const analyzer = options.analyzer ?? (await createAnalyzer(config as DealsConfig & ExtractionConfig, services));
  return { services, config, analyzer, drive, graph, nylas, ocr };
}
