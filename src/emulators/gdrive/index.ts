import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpEmulator } from '../http.ts';

/**
 * A local stand-in for the Google Drive v3 API, enough for Nova's source sync: the changes feed
 * (start page token, paged changes), folder listing, file download and push-channel registration.
 * State is in memory. Every mutation appends a change, as Drive does; a page token is the index
 * of the next change, so a saved token resumes exactly where it stopped.
 *
 * Routes (as Drive's): GET /drive/v3/changes/startPageToken, GET /drive/v3/changes?pageToken&pageSize,
 * GET /drive/v3/files?q='<folder>' in parents&pageToken&pageSize, GET /drive/v3/files/<id>?alt=media,
 * POST /drive/v3/changes/watch. Requests need `Authorization: Bearer <token>` when a token is set.
 */

export interface DriveFile {
  id: string;
  name: string;
  mimeType: string;
  modifiedTime: string;
  parents: string[];
  trashed: boolean;
  webViewLink: string;
  size: string;
}

interface Change {
  fileId: string;
  removed: boolean;
  time: string;
}

export interface GdriveEmulatorOptions {
  /** Required bearer token; default none. */
  token?: string;
  /** Largest page served; Drive's is 1000. */
  maxPageSize?: number;
}

export class GdriveEmulator extends HttpEmulator {
  private files = new Map<string, DriveFile & { content: Uint8Array }>();
  private changes: Change[] = [];
  private seq = 0;
  /** Requests served, by route: benches and tests read it. */
  readonly requests = { changes: 0, list: 0, download: 0, watch: 0 };
  /** Channels registered by changes/watch: id → { token, address }. */
  readonly channels = new Map<string, { token: string | undefined; address: string }>();
  /** Requests of the changes feed still answered before the outage of `failChanges` begins. */
  private passChanges = 0;
  private failChanges = 0;

  /** After `passes` more good answers, the changes feed answers 503 `failures` times (an outage, for tests). */
  outageAfter(passes: number, failures: number): void {
    this.passChanges = passes;
    this.failChanges = failures;
  }

  constructor(private readonly options: GdriveEmulatorOptions = {}) {
    super();
  }

  /** Adds or replaces a file (a new modifiedTime each time) and records the change. */
  put(file: { id?: string; name: string; folderId: string; mimeType?: string; content: string | Uint8Array }): DriveFile {
    const id = file.id ?? `f${++this.seq}`;
    const content = typeof file.content === 'string' ? new TextEncoder().encode(file.content) : file.content;
    const modifiedTime = this.tick();
    const stored = {
      id, name: file.name, mimeType: file.mimeType ?? 'text/plain', modifiedTime, parents: [file.folderId], trashed: false,
      webViewLink: `https://drive.google.com/file/d/${id}/view`, size: String(content.length), content,
    };
    this.files.set(id, stored);
    this.changes.push({ fileId: id, removed: false, time: modifiedTime });
    return this.view(stored);
  }

  /** Removes a file for good (Drive reports `removed: true`). */
  remove(id: string): void {
    this.files.delete(id);
    this.changes.push({ fileId: id, removed: true, time: this.tick() });
  }

  /** Tells a registered channel that something changed, as Drive's push notifications do. */
  async notify(channelId: string, state = 'change'): Promise<number> {
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`no channel ${channelId}`);
    const res = await fetch(channel.address, {
      method: 'POST',
      headers: {
        'x-goog-channel-id': channelId, 'x-goog-resource-state': state, 'x-goog-message-number': String(this.changes.length),
        ...(channel.token ? { 'x-goog-channel-token': channel.token } : {}),
      },
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** Registers a push channel directly (what changes/watch does), for tests and the demo. */
  watch(channelId: string, address: string, token?: string): void {
    this.channels.set(channelId, { token, address });
  }

  get startPageToken(): string {
    return String(this.changes.length);
  }

  // Strictly increasing times, so that two edits within one millisecond still differ.
  private clock = Date.now();
  private tick(): string {
    this.clock = Math.max(this.clock + 1, Date.now());
    return new Date(this.clock).toISOString();
  }

  private view(f: DriveFile & { content?: Uint8Array }): DriveFile {
    const { content: _content, ...rest } = f;
    return rest;
  }

  protected internalError(err: Error): unknown {
    return { error: { code: 500, message: err.message, status: 'INTERNAL' } };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://drive');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return send(401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
    }
    const max = this.options.maxPageSize ?? 1000;
    const pageSize = Math.min(max, Math.max(1, Number(url.searchParams.get('pageSize') ?? 100)));
    const path = url.pathname;
    if (req.method === 'GET' && path === '/drive/v3/changes/startPageToken') return send(200, { startPageToken: this.startPageToken });
    if (req.method === 'GET' && path === '/drive/v3/changes') {
      this.requests.changes++;
      if (this.passChanges > 0) this.passChanges--;
      else if (this.failChanges > 0) {
        this.failChanges--;
        return send(503, { error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' } });
      }
      const from = Number(url.searchParams.get('pageToken'));
      if (!Number.isInteger(from) || from < 0 || from > this.changes.length) return send(400, { error: { code: 400, message: 'Invalid pageToken' } });
      const slice = this.changes.slice(from, from + pageSize);
      const next = from + slice.length;
      return send(200, {
        kind: 'drive#changeList',
        changes: slice.map((c) => {
          const file = this.files.get(c.fileId);
          return { kind: 'drive#change', changeType: 'file', fileId: c.fileId, time: c.time, removed: c.removed || !file, ...(file && !c.removed ? { file: this.view(file) } : {}) };
        }),
        ...(next < this.changes.length ? { nextPageToken: String(next) } : { newStartPageToken: String(next) }),
      });
    }
    if (req.method === 'GET' && path === '/drive/v3/files') {
      this.requests.list++;
      const folder = /'([^']+)' in parents/.exec(url.searchParams.get('q') ?? '')?.[1];
      const all = [...this.files.values()].filter((f) => !f.trashed && (!folder || f.parents.includes(folder))).sort((a, b) => a.id.localeCompare(b.id));
      const from = Number(url.searchParams.get('pageToken') ?? 0) || 0;
      const slice = all.slice(from, from + pageSize);
      return send(200, { kind: 'drive#fileList', files: slice.map((f) => this.view(f)), ...(from + slice.length < all.length ? { nextPageToken: String(from + slice.length) } : {}) });
    }
    const media = /^\/drive\/v3\/files\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && media && url.searchParams.get('alt') === 'media') {
      this.requests.download++;
      const file = this.files.get(decodeURIComponent(media[1]!));
      if (!file) return send(404, { error: { code: 404, message: `File not found: ${media[1]}.` } });
      res.writeHead(200, { 'content-type': file.mimeType });
      res.end(file.content);
      return;
    }
    if (req.method === 'POST' && path === '/drive/v3/changes/watch') {
      this.requests.watch++;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { id?: string; token?: string; address?: string };
      if (!body.id || !body.address) return send(400, { error: { code: 400, message: 'id and address are required' } });
      this.channels.set(body.id, { token: body.token, address: body.address });
      return send(200, { kind: 'api#channel', id: body.id, resourceId: `r-${body.id}`, expiration: String(Date.now() + 86_400_000) });
    }
    send(404, { error: { code: 404, message: 'Not found' } });
  }
}
