import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../runtime/http-error.ts';
import type { Domain } from '../runtime/domain.ts';

/**
 * The dashboard at `/`: the static React app that `npm run build` puts in dist/web/ (source in
 * web/). Served by processes running the `api` role; index.html answers every path that is not
 * an API, WebSocket or webhook path, so the app's own routes (/queues/emails, /backfills) load
 * from a link or a reload.
 *
 * node:fs rather than @fastify/static: the build is a dozen files that never change while the
 * process runs, so they are read once, gzipped once, and answered from memory; only names found
 * at load time are ever served (no path from a request reaches the file system), and the server
 * gains no dependency. Hashed files under /assets/ are cached for a year; index.html is
 * revalidated on every load, so a new build shows at the next reload.
 */

/** Where `vite build web` writes; the same from src/http (tsx) and dist/http (built). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.json', '.svg', '.txt', '.map']);
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The page may talk only to its own origin (API and /ws), load only its own files, and not be
 * framed: retry, delete and redrive buttons must not be clickable through someone else's page.
 */
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Paths that belong to the server, never to the app: they keep the API's JSON 404. */
const SERVER_PATHS = /^\/(api|ws|webhooks)(\/|$)/;

interface StaticFile {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  cache: string;
}

/** Reads every file of a built dashboard; undefined when there is no build (no index.html). */
export async function loadDashboard(dir: string): Promise<Map<string, StaticFile> | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const files = new Map<string, StaticFile>();
  for (const file of names) {
    const url = '/' + relative(dir, file).split(sep).join('/');
    const ext = extname(file);
    const body = await readFile(file);
    const gzip = COMPRESSIBLE.has(ext) && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined;
    files.set(url, {
      body,
      gzip,
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
      cache: url.startsWith('/assets/') ? IMMUTABLE : url === '/index.html' ? 'no-cache' : 'public, max-age=3600',
    });
  }
  return files.has('/index.html') ? files : undefined;
}

/** Routes serving the dashboard built in `dir` (read at the first request, again until found). */
export function dashboardRoutes(app: FastifyInstance, dir: string = DASHBOARD_DIR): void {
  let files: Promise<Map<string, StaticFile> | undefined> | undefined;
  const current = async () => {
    files ??= loadDashboard(dir);
    const found = await files;
    // Not built yet: look again next time rather than until a restart.
    if (!found) files = undefined;
    return found;
  };

  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0]!;
    if (SERVER_PATHS.test(path)) return reply.status(404).send(errorBody('not_found', `no route for ${req.method} ${path}`));
    const built = await current();
    if (!built) {
      return reply.status(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npm run build` (or `npx vite build web`).\n');
    }
    // Built assets (and files at the root, such as /favicon.ico) are files; any other path is
    // one of the app's own routes, dots and all (queue names such as `ops.flaky` have them).
    const asFile = path.startsWith('/assets/') || (extname(path) !== '' && path.lastIndexOf('/') === 0);
    const file = built.get(decodeSafe(path)) ?? (asFile ? undefined : built.get('/index.html'));
    if (!file) return reply.status(404).send(errorBody('not_found', `no file ${path}`));
    reply.header('cache-control', file.cache).header('etag', file.etag).header('x-content-type-options', 'nosniff');
    if (file.type.startsWith('text/html')) reply.header('content-security-policy', CSP).header('referrer-policy', 'same-origin');
    if (req.headers['if-none-match'] === file.etag) return reply.status(304).send();
    reply.type(file.type);
    if (file.gzip) {
      reply.header('vary', 'accept-encoding');
      if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(file.gzip);
    }
    return reply.send(file.body);
  };

  app.get('/', serve);
  app.get('/*', serve);
}

function decodeSafe(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** The dashboard, served by every process that runs the `api` role; `dir` for tests. */
export function dashboardDomain(dir: string = DASHBOARD_DIR): Domain {
  return { name: 'dashboard', roles: [], routes: (app) => dashboardRoutes(app, dir) };
}
