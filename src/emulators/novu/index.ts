import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpEmulator, sendJson as send } from '../http.ts';

/**
 * A local stand-in for Novu's events API, the call XNovu made: `POST /v1/events/trigger` with
 * `Authorization: ApiKey <key>`, body `{name, to, payload?, overrides?, transactionId?}`,
 * answered 201 `{data: {acknowledged: true, status: "processed", transactionId}}`. A repeated
 * transactionId is acknowledged with status `duplicate` and not recorded again, as Novu dedups.
 */
export interface NovuTrigger {
  name: string;
  to: unknown;
  payload: unknown;
  overrides: unknown;
  transactionId: string;
}

export class NovuEmulator extends HttpEmulator {
  readonly triggers: NovuTrigger[] = [];
  private failures = 0;

  constructor(private readonly secretKey: string) {
    super();
  }

  failNext(n: number): void {
    this.failures = n;
  }

  protected internalError(): unknown {
    return { statusCode: 500, message: 'internal error' };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url !== '/v1/events/trigger' || req.method !== 'POST') return send(res, 404, { statusCode: 404, message: 'Cannot find route' });
    if (req.headers.authorization !== `ApiKey ${this.secretKey}`) return send(res, 401, { statusCode: 401, message: 'API Key not found' });
    let text = '';
    for await (const c of req) {
      text += String(c);
      if (text.length > 256 * 1024) return send(res, 413, { statusCode: 413, message: 'Payload too large' });
    }
    let body: Partial<NovuTrigger>;
    try {
      body = JSON.parse(text) as Partial<NovuTrigger>;
    } catch {
      return send(res, 400, { statusCode: 400, message: 'Invalid JSON' });
    }
    if (typeof body.name !== 'string' || !body.name || body.to === undefined) {
      return send(res, 422, { statusCode: 422, message: 'Validation failed', errors: { name: 'required', to: 'required' } });
    }
    if (this.failures > 0) {
      this.failures--;
      return send(res, 503, { statusCode: 503, message: 'Service unavailable (emulated)' });
    }
    const transactionId = typeof body.transactionId === 'string' && body.transactionId ? body.transactionId : `txn_${Date.now()}_${this.triggers.length}`;
    if (this.triggers.some((t) => t.transactionId === transactionId)) {
      return send(res, 201, { data: { acknowledged: true, status: 'duplicate', transactionId } });
    }
    this.triggers.push({ name: body.name, to: body.to, payload: body.payload ?? {}, overrides: body.overrides ?? {}, transactionId });
    send(res, 201, { data: { acknowledged: true, status: 'processed', transactionId } });
  }
}

