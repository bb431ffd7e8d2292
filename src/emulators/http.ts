import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * The plumbing the small JSON emulators (Twilio, Novu, the push service, Drive, Graph) share: a
 * loopback HTTP server whose handler's crash is answered with the provider's own 500 body, and a
 * stop that does not wait for idle keep-alive sockets. What each route answers stays in each.
 */
export abstract class HttpEmulator {
  private server: Server | undefined;
  /** `http://host:port` once started. */
  url = '';

  /** Answers one request (its errors become a 500 with `internalError`'s body). */
  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  /** The body the provider sends with a 500 (the emulator's own bug, not an emulated fault). */
  protected abstract internalError(err: Error): unknown;

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) sendJson(res, 500, this.internalError(err));
        else res.destroy(err);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    this.url = `http://${host}:${(server.address() as { port: number }).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    }
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The request body, or undefined once it passes `maxBytes` (the caller answers 413). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > maxBytes) return undefined;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
