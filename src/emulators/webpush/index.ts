import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, randomUUID, verify } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpEmulator, readBody, sendJson as send } from '../http.ts';

/**
 * A local push service (the part of FCM / Mozilla autopush a Web Push sender talks to), and the
 * browser side of its subscriptions. `subscribe()` makes what a browser's
 * `pushManager.subscribe()` hands the application: an endpoint on this server and the browser's
 * keys (P-256 `p256dh`, 16-byte `auth`), whose private half stays here so that deliveries can be
 * decrypted. A delivery is the real wire format:
 *
 * - `POST <endpoint>` with `TTL` (required), `Content-Encoding: aes128gcm` (RFC 8188 / 8291),
 *   optional `Urgency` and `Topic`;
 * - `Authorization: vapid t=<JWT>, k=<application server public key>` (RFC 8292): the ES256 JWT is
 *   verified with `k`, its `aud` must be this server's origin, `exp` at most 24 h ahead, `sub` a
 *   mailto: or https: contact; a subscription made with an applicationServerKey accepts only it;
 * - answered 201 with a Location, 404 for an unknown subscription, 410 for one expired with
 *   `expire()`, 400/401/403/413/415 for bad requests (as the real services do), 503 when told to fail.
 *
 * Each accepted message is decrypted and kept in `deliveries`.
 */
export interface PushDelivery {
  id: string;
  subscriptionId: string;
  endpoint: string;
  ttl: number;
  urgency: string | null;
  topic: string | null;
  vapidSubject: string;
  vapidKey: string;
  /** The decrypted message. */
  payload: string;
  receivedAt: number;
}

export interface EmulatedSubscription {
  endpoint: string;
  expirationTime: null;
  keys: { p256dh: string; auth: string };
}

interface Held {
  ecdh: ReturnType<typeof createECDH>;
  auth: Buffer;
  applicationServerKey: string | undefined;
  gone: boolean;
}

const MAX_BODY = 4096;
const b64u = (b: Buffer) => b.toString('base64url');

export class PushServiceEmulator extends HttpEmulator {
  private readonly subscriptions = new Map<string, Held>();
  readonly deliveries: PushDelivery[] = [];
  private failures = 0;

  /** Answer 503 to this many deliveries (transient-failure tests). */
  failNext(n: number): void {
    this.failures = n;
  }

  /** A browser subscribing: optionally bound to one application server (VAPID public) key. */
  subscribe(applicationServerKey?: string): EmulatedSubscription {
    const id = randomUUID();
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.subscriptions.set(id, { ecdh, auth, applicationServerKey, gone: false });
    return { endpoint: `${this.url}/wpush/${id}`, expirationTime: null, keys: { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(auth) } };
  }

  /** The browser unsubscribed (or the push service dropped it): deliveries get 410 Gone. */
  expire(endpoint: string): void {
    const held = this.subscriptions.get(endpoint.split('/').pop() ?? '');
    if (held) held.gone = true;
  }

  deliveriesTo(endpoint: string): PushDelivery[] {
    return this.deliveries.filter((d) => d.endpoint === endpoint);
  }

  protected internalError(err: Error): unknown {
    return { code: 500, errno: 999, error: 'Internal Server Error', message: err.message };
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const match = /^\/wpush\/([0-9a-f-]{36})$/.exec(url.pathname);
    if (!match) return send(res, 404, { code: 404, errno: 102, error: 'Not Found', message: 'no such endpoint' });
    if (req.method !== 'POST') return send(res, 405, { code: 405, errno: 999, error: 'Method Not Allowed' });
    const body = await readBody(req, MAX_BODY);
    if (body === undefined) return send(res, 413, { code: 413, errno: 104, error: 'Payload Too Large', message: `at most ${MAX_BODY} bytes` });
    const held = this.subscriptions.get(match[1]!);
    if (!held) return send(res, 404, { code: 404, errno: 102, error: 'Not Found', message: 'unknown subscription' });
    if (held.gone) return send(res, 410, { code: 410, errno: 106, error: 'Gone', message: 'subscription expired' });
    const ttl = Number(req.headers.ttl);
    if (req.headers.ttl === undefined || !Number.isInteger(ttl) || ttl < 0) return send(res, 400, { code: 400, errno: 111, error: 'Bad Request', message: 'missing or bad TTL header' });
    if (body.length > 0 && req.headers['content-encoding'] !== 'aes128gcm') {
      return send(res, 415, { code: 415, errno: 110, error: 'Unsupported Media Type', message: 'Content-Encoding must be aes128gcm' });
    }
    const auth = checkVapid(req.headers.authorization, new URL(this.url).origin);
    if ('error' in auth) return send(res, 401, { code: 401, errno: 109, error: 'Unauthorized', message: auth.error });
    if (held.applicationServerKey && held.applicationServerKey !== auth.key) {
      return send(res, 403, { code: 403, errno: 109, error: 'Forbidden', message: 'VAPID key does not match the subscription' });
    }
    let payload: string;
    try {
      payload = body.length ? decrypt(body, held).toString('utf8') : '';
    } catch (err) {
      return send(res, 400, { code: 400, errno: 110, error: 'Bad Request', message: `cannot decrypt: ${(err as Error).message}` });
    }
    if (this.failures > 0) {
      this.failures--;
      return send(res, 503, { code: 503, errno: 201, error: 'Service Unavailable', message: 'emulated outage' });
    }
    const delivery: PushDelivery = {
      id: randomUUID(), subscriptionId: match[1]!, endpoint: `${this.url}${url.pathname}`, ttl,
      urgency: header(req, 'urgency'), topic: header(req, 'topic'), vapidSubject: auth.subject, vapidKey: auth.key, payload, receivedAt: Date.now(),
    };
    this.deliveries.push(delivery);
    res.writeHead(201, { location: `${this.url}/m/${delivery.id}`, ttl: String(ttl) });
    res.end();
  }
}

/** Verifies `vapid t=<jwt>, k=<key>`: the ES256 signature with k, aud, exp and sub. */
function checkVapid(authorization: string | undefined, origin: string): { key: string; subject: string } | { error: string } {
  const m = /^vapid\s+(.+)$/i.exec(authorization ?? '');
  if (!m) return { error: 'Authorization must be "vapid t=..., k=..."' };
  const params = Object.fromEntries(m[1]!.split(',').map((p) => p.trim().split('=') as [string, string]).map(([k, ...v]) => [k.toLowerCase(), v.join('=')]));
  const t = params.t;
  const k = params.k;
  if (!t || !k) return { error: 'vapid needs t and k' };
  const [h, c, s] = t.split('.');
  if (!h || !c || !s) return { error: 'the JWT is malformed' };
  let header: { alg?: string };
  let claims: { aud?: string; exp?: number; sub?: string };
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
  } catch {
    return { error: 'the JWT is not JSON' };
  }
  if (header.alg !== 'ES256') return { error: `JWT alg ${header.alg} (ES256 expected)` };
  const raw = Buffer.from(k, 'base64url');
  if (raw.length !== 65 || raw[0] !== 4) return { error: 'k is not an uncompressed P-256 public key' };
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33)) }, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  if (!ok) return { error: 'the JWT signature does not verify with k' };
  if (claims.aud !== origin) return { error: `JWT aud ${claims.aud} is not ${origin}` };
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp > now + 24 * 3600) return { error: 'JWT exp must be in the next 24 hours' };
  if (!claims.sub || !/^(mailto:|https:)/.test(claims.sub)) return { error: 'JWT sub must be a mailto: or https: contact' };
  return { key: k, subject: claims.sub };
}

/** RFC 8291 with RFC 8188 (one record): the browser's side of aes128gcm. */
function decrypt(body: Buffer, held: Held): Buffer {
  if (body.length < 21 + 65 + 17) throw new Error('body shorter than an aes128gcm header and tag');
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes (65 expected: the sender's P-256 key)`);
  const senderKey = body.subarray(21, 86);
  const ciphertext = body.subarray(86);
  const shared = held.ecdh.computeSecret(senderKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), held.ecdh.getPublicKey(), senderKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, held.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const plain = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (plain[end] !== 2) throw new Error('no last-record delimiter');
  return plain.subarray(0, end);
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : null;
}


