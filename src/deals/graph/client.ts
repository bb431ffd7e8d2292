import { z } from 'zod';
import { fetchAnswer, Outbound, parseAnswer, ProviderError, type Budget } from '../../runtime/outbound.ts';
import type { RateLimiter } from '../../runtime/rate-limit.ts';

/** A driveItem of a delta page: a file, a folder, or a deleted item (the `deleted` facet). */
export const graphItem = z.object({
  id: z.string(),
  name: z.string().optional(),
  lastModifiedDateTime: z.string().optional(),
  webUrl: z.string().optional(),
  file: z.object({ mimeType: z.string().optional() }).optional(),
  folder: z.object({}).passthrough().optional(),
  deleted: z.object({ state: z.string().optional() }).passthrough().optional(),
  parentReference: z.object({ driveId: z.string().optional(), path: z.string().optional() }).passthrough().optional(),
});
export type GraphItem = z.infer<typeof graphItem>;

const deltaPage = z.object({
  value: z.array(graphItem),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
});
export type DeltaPage = z.infer<typeof deltaPage>;

export interface GraphClientOptions {
  /** `https://graph.microsoft.com` or the emulator's URL (no version path). */
  baseUrl: string;
  accessToken: string | undefined;
  rateLimiter?: RateLimiter | undefined;
  perSecond: number;
  /** Items per delta page asked for ($top). */
  pageSize: number;
  timeoutMs?: number;
}

/**
 * Microsoft Graph's drive delta (SharePoint libraries, OneDrive) through the shared outbound
 * layer: one rate-limit bucket per source connection (`graph:<connection>`), shared by every
 * process; timeouts and transient retries (429 with Retry-After, 5xx) per call.
 */
export class GraphClient {
  private readonly outbound: Outbound;
  private readonly origin: string;

  constructor(private readonly options: GraphClientOptions) {
    this.outbound = new Outbound({ provider: 'graph', rateLimiter: options.rateLimiter, timeoutMs: options.timeoutMs ?? 30_000, maxRetries: 3 });
    this.origin = new URL(options.baseUrl).origin;
  }

  private budgets(key: string): Budget[] {
    return [{ key: `graph:${key}`, limit: { capacity: this.options.perSecond, perSecond: this.options.perSecond } }];
  }

  private headers(): Record<string, string> {
    return this.options.accessToken ? { authorization: `Bearer ${this.options.accessToken}` } : {};
  }

  /** The delta URL of a drive with no token: the first page of its enumeration. */
  startLink(driveId: string): string {
    return `${this.options.baseUrl}/v1.0/drives/${encodeURIComponent(driveId)}/root/delta?$top=${this.options.pageSize}`;
  }

  /**
   * One delta page from `link` (a start link, or a saved @odata.nextLink / @odata.deltaLink).
   * Links come from Graph's answers and are followed as they are, but only to Graph's own origin:
   * a saved cursor must not send the bearer token anywhere else.
   */
  async delta(key: string, link: string, signal?: AbortSignal): Promise<DeltaPage> {
    if (new URL(link).origin !== this.origin) throw new ProviderError(`graph: refusing a delta link outside ${this.origin}`, { provider: 'graph', status: 400, retryable: false });
    return this.outbound.call(async (trySignal) => {
      const answer = await fetchAnswer({ provider: 'graph', describeError, requestIdHeader: 'request-id' }, link, { headers: this.headers(), signal: trySignal });
      return parseAnswer('graph', deltaPage, answer, 'delta');
    }, { signal, budgets: this.budgets(key) });
  }

  /** A file's bytes (Graph answers 302 to a pre-authenticated URL; fetch follows it). */
  async download(key: string, driveId: string, itemId: string, signal?: AbortSignal): Promise<Uint8Array> {
    return this.outbound.call(async (trySignal) => {
      const url = `${this.options.baseUrl}/v1.0/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(itemId)}/content`;
      const res = await fetch(url, { headers: this.headers(), signal: trySignal });
      if (res.ok) return new Uint8Array(await res.arrayBuffer());
      const text = await res.text();
      throw new ProviderError(`graph answered ${res.status} downloading ${itemId}: ${describeError(text).message ?? ''}`, { provider: 'graph', status: res.status });
    }, { signal, budgets: this.budgets(key) });
  }
}

/** Graph's error envelope `{error: {code, message}}`. */
function describeError(text: string): { message?: string; code?: string } {
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } };
    return { message: body.error?.message, code: body.error?.code };
  } catch {
    return {};
  }
}
