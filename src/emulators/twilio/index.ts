import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpEmulator, readBody, sendJson } from '../http.ts';

/**
 * A local stand-in for Twilio's Messages API (2010-04-01), the part Nova's SMS channel calls:
 * `POST /2010-04-01/Accounts/<sid>/Messages.json` with a form body (To, From, Body), HTTP basic
 * auth `<sid>:<token>`, answered 201 with a message resource (`sid` SM…, `status` queued). Errors
 * use Twilio's JSON error shape (`{code, message, more_info, status}`); 21211 for a bad number.
 * Messages are kept in memory; GET …/Messages.json lists them as Twilio's list resource does.
 */
export interface SmsMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  createdAt: number;
}

export interface TwilioEmulatorOptions {
  accountSid: string;
  authToken: string;
  /** Answer 503 to this many sends first (transient-failure tests). */
  failFirst?: number;
}

const E164 = /^\+[1-9]\d{6,14}$/;
const MAX_BODY = 64 * 1024;

export class TwilioEmulator extends HttpEmulator {
  readonly messages: SmsMessage[] = [];
  private failures: number;

  constructor(private readonly options: TwilioEmulatorOptions) {
    super();
    this.failures = options.failFirst ?? 0;
  }

  failNext(n: number): void {
    this.failures = n;
  }

  protected internalError(): unknown {
    return { more_info: 'https://www.twilio.com/docs/errors', code: 20500, message: 'internal error', status: 500 };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = `/2010-04-01/Accounts/${this.options.accountSid}/Messages.json`;
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== path) return send(res, 404, { code: 20404, message: 'The requested resource was not found', status: 404 });
    const expected = `Basic ${Buffer.from(`${this.options.accountSid}:${this.options.authToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return send(res, 401, { code: 20003, message: 'Authenticate', status: 401 });
    if (req.method === 'GET') {
      return send(res, 200, { messages: this.messages.map(resource(this.options.accountSid)), page: 0, page_size: this.messages.length });
    }
    if (req.method !== 'POST') return send(res, 405, { code: 20004, message: 'Method not allowed', status: 405 });
    const text = (await readBody(req, MAX_BODY))?.toString('utf8');
    if (text === undefined) return send(res, 413, { code: 20413, message: 'Request too large', status: 413 });
    const form = new URLSearchParams(text);
    const to = form.get('To') ?? '';
    const from = form.get('From') ?? '';
    const body = form.get('Body') ?? '';
    if (!E164.test(to)) return send(res, 400, { code: 21211, message: `The 'To' number ${to} is not a valid phone number.`, status: 400 });
    if (!from) return send(res, 400, { code: 21603, message: "A 'From' phone number is required.", status: 400 });
    if (!body || body.length > 1600) return send(res, 400, { code: 21617, message: 'The concatenated message body exceeds the 1600 character limit or is empty.', status: 400 });
    if (this.failures > 0) {
      this.failures--;
      return send(res, 503, { code: 20503, message: 'Service unavailable (emulated)', status: 503 });
    }
    const msg: SmsMessage = { sid: `SM${randomHex(32)}`, to, from, body, createdAt: Date.now() };
    this.messages.push(msg);
    send(res, 201, resource(this.options.accountSid)(msg));
  }
}

const resource = (accountSid: string) => (m: SmsMessage) => ({
  sid: m.sid, account_sid: accountSid, to: m.to, from: m.from, body: m.body, status: 'queued',
  num_segments: String(m.body.length <= 160 ? 1 : Math.ceil(m.body.length / 153)),
  date_created: new Date(m.createdAt).toUTCString(), api_version: '2010-04-01',
  uri: `/2010-04-01/Accounts/${accountSid}/Messages/${m.sid}.json`,
});

function send(res: ServerResponse, status: number, body: unknown): void {
  sendJson(res, status, status >= 400 ? { more_info: 'https://www.twilio.com/docs/errors', ...(body as object) } : body);
}

function randomHex(n: number): string {
  let s = '';
  while (s.length < n) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}
