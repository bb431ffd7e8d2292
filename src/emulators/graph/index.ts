import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpEmulator } from '../http.ts';

/**
 * A local stand-in for Microsoft Graph's drive API (SharePoint document libraries and OneDrive),
 * enough for Nova's source sync, in Graph's wire format:
 *
 * - `GET /v1.0/drives/{drive-id}/root/delta[?token=…][&$top=n]`: with no token, every item of the
 *   drive (the initial enumeration); with a token, what changed since. Each page is
 *   `{"@odata.context", value: [driveItem], "@odata.nextLink"}`, the last one carries
 *   `"@odata.deltaLink"` instead. A deleted item comes back as `{id, deleted: {state: "deleted"},
 *   parentReference}`; an item may appear more than once, as Graph allows. Links are absolute
 *   URLs the client follows as they are.
 * - `GET /v1.0/drives/{drive-id}/items/{item-id}/content`: 302 to a pre-authenticated download URL
 *   (served by the emulator), as Graph answers.
 * - Errors in Graph's envelope `{error: {code, message}}`: 401 without the bearer token, 404 for an
 *   unknown drive or item, 410 `resyncRequired` for a token the emulator expired, and outages
 *   (503, or 429 with Retry-After) injected for tests.
 */

export interface GraphItem {
  id: string;
  name: string;
  eTag: string;
  cTag: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  size: number;
  webUrl: string;
  parentReference: { driveId: string; driveType: string; id: string; path: string };
  file?: { mimeType: string };
  folder?: { childCount: number };
  root?: Record<string, never>;
}

interface Change {
  id: string;
  deleted: boolean;
}

export interface GraphEmulatorOptions {
  /** Required bearer token; default none. */
  token?: string;
  /** Largest page served (Graph picks its own page size; `$top` asks for less). */
  maxPageSize?: number;
}

export class GraphEmulator extends HttpEmulator {
  private readonly drives = new Map<string, { items: Map<string, GraphItem & { content?: Uint8Array }>; changes: Change[]; expiredBefore: number }>();
  private seq = 0;
  private clock = Date.now();
  private fault: { passes: number; failures: number; status: number; retryAfter?: number } = { passes: 0, failures: 0, status: 503 };
  /** Requests served, by route: benches and tests read it. */
  readonly requests = { delta: 0, content: 0, download: 0 };

  constructor(private readonly options: GraphEmulatorOptions = {}) {
    super();
  }

  /** After `passes` more good delta answers, `failures` answers with `status` (503, or 429 with Retry-After). */
  outageAfter(passes: number, failures: number, status = 503, retryAfterSeconds?: number): void {
    this.fault = { passes, failures, status, ...(retryAfterSeconds !== undefined && { retryAfter: retryAfterSeconds }) };
  }

  /** Tokens issued so far answer 410 resyncRequired from now on (Graph's expired delta token). */
  expireTokens(driveId: string): void {
    const drive = this.drive(driveId);
    drive.expiredBefore = drive.changes.length;
  }

  private drive(id: string) {
    let drive = this.drives.get(id);
    if (!drive) {
      drive = { items: new Map(), changes: [], expiredBefore: 0 };
      this.drives.set(id, drive);
    }
    return drive;
  }

  private tick(): string {
    this.clock = Math.max(this.clock + 1, Date.now());
    return new Date(this.clock).toISOString();
  }

  /** Adds or replaces a file under `folder` (a path below the drive root, '' for the root). */
  put(driveId: string, file: { id?: string; name: string; folder?: string; mimeType?: string; content: string | Uint8Array }): GraphItem {
    const drive = this.drive(driveId);
    const id = file.id ?? `01ITEM${String(++this.seq).padStart(8, '0')}`;
    const content = typeof file.content === 'string' ? new TextEncoder().encode(file.content) : file.content;
    const now = this.tick();
    const previous = drive.items.get(id);
    const version = (Number(previous?.eTag.split(',')[1]?.replace('"', '')) || 0) + 1;
    const path = `/drives/${driveId}/root:${file.folder ? `/${file.folder}` : ''}`;
    const item = {
      id, name: file.name, eTag: `"{${id}},${version}"`, cTag: `"c:{${id}},${version}"`, createdDateTime: previous?.createdDateTime ?? now,
      lastModifiedDateTime: now, size: content.length, webUrl: `https://contoso.sharepoint.com/sites/deal/Shared%20Documents/${encodeURIComponent(file.name)}`,
      parentReference: { driveId, driveType: 'documentLibrary', id: `folder-${file.folder ?? 'root'}`, path },
      file: { mimeType: file.mimeType ?? 'text/plain' }, content,
    };
    drive.items.set(id, item);
    drive.changes.push({ id, deleted: false });
    return view(item);
  }

  /** Deletes an item: the next delta reports it with the `deleted` facet. */
  remove(driveId: string, id: string): void {
    const drive = this.drive(driveId);
    drive.changes.push({ id, deleted: true });
    // The item is kept for its parentReference in the deleted entry; it is no longer listed.
    const item = drive.items.get(id);
    if (item) drive.items.set(id, { ...item, content: undefined, deleted: true } as GraphItem & { content?: Uint8Array; deleted: boolean });
  }

  /** The delta link a client holds once it has seen every change so far, its pages `top` long. */
  latestDeltaLink(driveId: string, top = 0): string {
    const at = this.drive(driveId).changes.length;
    return `${this.url}/v1.0/drives/${encodeURIComponent(driveId)}/root/delta?token=${encodeToken({ kind: 'd', at, since: at, top })}`;
  }

  protected internalError(err: Error): unknown {
    return { error: { code: 'generalException', message: err.message } };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url || 'http://graph');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req-${++this.seq}`, ...headers });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string, headers?: Record<string, string>) =>
      send(status, { error: { code, message, innerError: { date: new Date().toISOString() } } }, headers);

    // The download URL is pre-authenticated (no bearer), as Graph's @microsoft.graph.downloadUrl.
    const download = /^\/download\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && download) {
      this.requests.download++;
      const item = this.drives.get(decodeURIComponent(download[1]!))?.items.get(decodeURIComponent(download[2]!));
      if (!item?.content) return error(404, 'itemNotFound', 'The resource could not be found.');
      res.writeHead(200, { 'content-type': item.file?.mimeType ?? 'application/octet-stream' });
      res.end(item.content);
      return;
    }
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return error(401, 'InvalidAuthenticationToken', 'Access token is empty or invalid.');
    }
    const delta = /^\/v1\.0\/drives\/([^/]+)\/root\/delta$/.exec(url.pathname);
    if (req.method === 'GET' && delta) {
      this.requests.delta++;
      if (this.fault.passes > 0) this.fault.passes--;
      else if (this.fault.failures > 0) {
        this.fault.failures--;
        if (this.fault.status === 429) return error(429, 'activityLimitReached', 'The app or user has been throttled.', { 'retry-after': String(this.fault.retryAfter ?? 1) });
        return error(this.fault.status, 'serviceNotAvailable', 'The service is temporarily unavailable.');
      }
      const driveId = decodeURIComponent(delta[1]!);
      const drive = this.drives.get(driveId);
      if (!drive) return error(404, 'itemNotFound', `The drive ${driveId} could not be found.`);
      const raw = url.searchParams.get('token');
      // No token: an enumeration that began now, at the current end of the change log.
      const token = raw === null ? { kind: 'e' as const, at: 0, since: drive.changes.length, top: 0 } : decodeToken(raw);
      if (!token) return error(400, 'invalidRequest', 'Invalid delta token.');
      // The page size asked for first is kept in the links, as Graph keeps it in its tokens.
      token.top = Math.min(this.options.maxPageSize ?? 200, Math.max(1, Number(url.searchParams.get('$top') ?? (token.top || 200)) || 200));
      const top = token.top;
      if (token.since < drive.expiredBefore) return error(410, 'resyncRequired', 'Resync required. Replace any local items with the server\'s version.');
      const link = (t: Token) => `${this.url}/v1.0/drives/${encodeURIComponent(driveId)}/root/delta?token=${encodeToken(t)}`;
      const page = (value: unknown[], next: Token | undefined, delta: number) => send(200, {
        '@odata.context': context(driveId), value, ...(next ? { '@odata.nextLink': link(next) } : { '@odata.deltaLink': link({ kind: 'd', at: delta, since: delta, top }) }),
      });
      if (token.kind === 'e') {
        // The enumeration: current items in a stable order. Its delta link starts where the
        // enumeration began, so changes made while it was paged through are sent again, not lost.
        const live = [...drive.items.values()].filter((i) => !(i as { deleted?: boolean }).deleted).sort((a, b) => a.id.localeCompare(b.id));
        const value = live.slice(token.at, token.at + top).map(view);
        const next = token.at + value.length;
        return page(value, next < live.length ? { kind: 'e', at: next, since: token.since, top } : undefined, token.since);
      }
      const slice = drive.changes.slice(token.at, token.at + top);
      const value = slice.map((c) => {
        const item = drive.items.get(c.id)!;
        return c.deleted ? { id: c.id, deleted: { state: 'deleted' }, parentReference: item.parentReference } : view(item);
      });
      const next = token.at + slice.length;
      return page(value, next < drive.changes.length ? { kind: 'd', at: next, since: token.since, top } : undefined, next);
    }
    const content = /^\/v1\.0\/drives\/([^/]+)\/items\/([^/]+)\/content$/.exec(url.pathname);
    if (req.method === 'GET' && content) {
      this.requests.content++;
      const item = this.drives.get(decodeURIComponent(content[1]!))?.items.get(decodeURIComponent(content[2]!));
      if (!item?.content) return error(404, 'itemNotFound', 'The resource could not be found.');
      res.writeHead(302, { location: `${this.url}/download/${content[1]}/${content[2]}` });
      res.end();
      return;
    }
    error(404, 'invalidRequest', `Invalid request: ${req.method} ${url.pathname}`);
  }
}

const context = (driveId: string) => `https://graph.microsoft.com/v1.0/$metadata#drives('${driveId}')/items`;

function view(item: GraphItem & { content?: Uint8Array; deleted?: boolean }): GraphItem {
  const { content: _c, deleted: _d, ...rest } = item;
  return rest;
}

/**
 * Tokens are opaque to clients: what they continue (an enumeration `e` or the change log `d`),
 * the position in it, and the change the sequence started from (for expiry).
 */
interface Token {
  kind: 'e' | 'd';
  at: number;
  since: number;
  /** Page size; 0: not set yet (the next request's $top, else 200). */
  top: number;
}

function encodeToken(t: Token): string {
  return Buffer.from(`${t.kind}:${t.at}:${t.since}:${t.top}`).toString('base64url');
}

function decodeToken(token: string): Token | undefined {
  const m = /^([ed]):(\d+):(\d+):(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
  if (!m) return undefined;
  return { kind: m[1] as 'e' | 'd', at: Number(m[2]), since: Number(m[3]), top: Number(m[4]) };
}
