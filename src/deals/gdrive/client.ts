import { z } from 'zod';
import { fetchAnswer, Outbound, parseAnswer, ProviderError, type Budget } from '../../runtime/outbound.ts';
import type { RateLimiter } from '../../runtime/rate-limit.ts';

/** A file as Drive describes it (the fields the sync asks for). */
export const driveFile = z.object({
  id: z.string(),
  name: z.string(),
  mimeType: z.string(),
  modifiedTime: z.string(),
  parents: z.array(z.string()).optional(),
  trashed: z.boolean().optional(),
  webViewLink: z.string().optional(),
});
export type DriveFile = z.infer<typeof driveFile>;

const changeList = z.object({
  changes: z.array(z.object({ fileId: z.string(), removed: z.boolean().optional(), file: driveFile.optional() })),
  nextPageToken: z.string().optional(),
  newStartPageToken: z.string().optional(),
});
export type ChangePage = z.infer<typeof changeList>;
const fileList = z.object({ files: z.array(driveFile), nextPageToken: z.string().optional() });
const startToken = z.object({ startPageToken: z.string() });

export interface DriveClientOptions {
  baseUrl: string;
  accessToken: string | undefined;
  rateLimiter?: RateLimiter | undefined;
  perSecond: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const FILE_FIELDS = 'id,name,mimeType,modifiedTime,parents,trashed,webViewLink';

/**
 * Google Drive v3 through the shared outbound layer: one rate-limit bucket per source connection
 * (`gdrive:<connection>`), shared by every process, timeouts and transient retries per call.
 */
export class DriveClient {
  private readonly outbound: Outbound;

  constructor(private readonly options: DriveClientOptions) {
    this.outbound = new Outbound({ provider: 'gdrive', rateLimiter: options.rateLimiter, timeoutMs: options.timeoutMs ?? 30_000, maxRetries: 3 });
  }

  private budget(key: string): Budget[] {
    return [{ key: `gdrive:${key}`, limit: { capacity: this.options.perSecond, perSecond: this.options.perSecond } }];
  }

  private async get(path: string, budgetKey: string, signal: AbortSignal | undefined): Promise<{ text: string }> {
    return this.outbound.call(async (trySignal) => {
      const headers: Record<string, string> = this.options.accessToken ? { authorization: `Bearer ${this.options.accessToken}` } : {};
      const answer = await fetchAnswer({ provider: 'gdrive', fetch: this.options.fetch, describeError }, `${this.options.baseUrl}${path}`, { headers, signal: trySignal });
      return { text: answer.text };
    }, { signal, budgets: this.budget(budgetKey) });
  }

  async startPageToken(key: string, signal?: AbortSignal): Promise<string> {
    const answer = await this.get('/drive/v3/changes/startPageToken', key, signal);
    return parseAnswer('gdrive', startToken, { status: 200, text: answer.text, requestId: undefined }, 'startPageToken').startPageToken;
  }

  /** One page of changes from `pageToken`. */
  async changes(key: string, pageToken: string, pageSize: number, signal?: AbortSignal): Promise<ChangePage> {
    const q = new URLSearchParams({ pageToken, pageSize: String(pageSize), fields: `nextPageToken,newStartPageToken,changes(fileId,removed,file(${FILE_FIELDS}))` });
    const answer = await this.get(`/drive/v3/changes?${q}`, key, signal);
    return parseAnswer('gdrive', changeList, { status: 200, text: answer.text, requestId: undefined }, 'changes');
  }

  /** One page of a folder's files (not trashed). */
  async listFolder(key: string, folderId: string, pageToken: string | undefined, pageSize: number, signal?: AbortSignal): Promise<z.infer<typeof fileList>> {
    const q = new URLSearchParams({ q: `'${folderId.replace(/'/g, "\\'")}' in parents and trashed=false`, pageSize: String(pageSize), fields: `nextPageToken,files(${FILE_FIELDS})` });
    if (pageToken) q.set('pageToken', pageToken);
    const answer = await this.get(`/drive/v3/files?${q}`, key, signal);
    return parseAnswer('gdrive', fileList, { status: 200, text: answer.text, requestId: undefined }, 'files.list');
  }

  /** A file's bytes. */
  async download(key: string, fileId: string, signal?: AbortSignal): Promise<Uint8Array> {
    return this.outbound.call(async (trySignal) => {
      const headers: Record<string, string> = this.options.accessToken ? { authorization: `Bearer ${this.options.accessToken}` } : {};
      const res = await (this.options.fetch ?? fetch)(`${this.options.baseUrl}/drive/v3/files/${encodeURIComponent(fileId)}?alt=media`, { headers, signal: trySignal });
      if (res.ok) return new Uint8Array(await res.arrayBuffer());
      const text = await res.text();
      throw new ProviderError(`gdrive answered ${res.status} downloading ${fileId}: ${describeError(text).message ?? ''}`, { provider: 'gdrive', status: res.status });
    }, { signal, budgets: this.budget(key) });
  }
}

/** Drive's error envelope `{error: {message, status}}`; anything else (a proxy's page) says nothing. */
function describeError(text: string): { message?: string; code?: string } {
  try {
    const body = JSON.parse(text) as { error?: { message?: string; status?: string } };
    return { message: body.error?.message, code: body.error?.status };
  } catch {
    return {};
  }
}
