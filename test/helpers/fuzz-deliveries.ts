import { randomUUID } from 'node:crypto';

/**
 * Random webhook bodies for the intake's fuzz test and bench/webhook-fuzz.ts: envelopes with one
 * or more fields replaced by boundary numbers, control characters, unpaired surrogates, long or
 * deep values, random JSON of any shape, and bytes that are not JSON (or not UTF-8) at all.
 * Deterministic for a seed, so a failure can be replayed.
 */

/** mulberry32: small, fast, and good enough to pick shapes. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A number written as JSON text, so literals JavaScript cannot produce (1e400, -0, huge integers) occur too. */
class Literal {
  constructor(readonly text: string) {}
}

const NUMBERS = [
  '0', '-0', '1', '-1', '0.5', '1.5', '1e20', '-1e20', '1e308', '-1e308', '1e400', '-1e400', '5e-324', '2147483647', '2147483648',
  '-2147483649', '9007199254740993', '123456789012345678901234567890', '253402300799', '253402300800', '1000000', '1000001', '1e10', '4294967296',
];
const CHARS = ['a', 'Z', '0', ' ', '\u0000', '\u0001', '\u001f', '\u007f', '\t', '\n', '"', '\\', '/', '\ud800', '\udc00', '\ud83d\ude00', 'é', '\u2028', '\ufeff', '\uffff', '<', '%00'];

export function fuzzBodies(count: number, seed = 1): { body: Buffer; id: string | undefined }[] {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (n: number) => Math.floor(rnd() * n);
  const str = (max = 24): string => {
    const n = rnd() < 0.02 ? 40_000 : rnd() < 0.05 ? 257 + int(50) : int(max);
    if (n > 1000) return pick(CHARS).repeat(n);
    let s = '';
    for (let i = 0; i < n; i++) s += rnd() < 0.3 ? pick(CHARS) : String.fromCharCode(97 + int(26));
    return s;
  };
  const num = () => new Literal(pick(NUMBERS));
  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth <= 0 || r < 0.3) return pick([null, true, false, num(), str(), num(), str()]);
    if (r < 0.55) return Array.from({ length: int(4) }, () => value(depth - 1));
    return Object.fromEntries(Array.from({ length: int(4) }, () => [str(8), value(depth - 1)]));
  };
  const nested = (depth: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = rnd() < 0.5 ? [v] : { k: v };
    return v;
  };
  const envelope = (): Record<string, unknown> => ({
    specversion: '1.0', type: pick(['message.created', 'message.updated', 'message.deleted', 'thread.replied', 'grant.expired', 'x.y']),
    source: '/google/emails/realtime', id: randomUUID(), time: new Literal(String(1_700_000_000 + int(1e8))), webhook_delivery_attempt: new Literal('1'),
    data: { application_id: 'app-fuzz', object: { id: `m-${int(1e9)}`, grant_id: 'grant-fuzz', thread_id: 't', date: new Literal('1700000000'), subject: str(), body: str(200) } },
  });
  const mutate = (e: Record<string, unknown>) => {
    // An earlier mutation may have replaced data or its object with anything.
    if (e.data === null || typeof e.data !== 'object') e.data = {};
    const data = e.data as Record<string, unknown>;
    if (data.object === null || typeof data.object !== 'object') data.object = {};
    const object = data.object as Record<string, unknown>;
    const field = int(12);
    if (field === 0) e.id = rnd() < 0.5 ? str(300) : value(2);
    else if (field === 1) e.type = rnd() < 0.5 ? str(300) : value(1);
    else if (field === 2) e.time = rnd() < 0.8 ? num() : value(1);
    else if (field === 3) e.webhook_delivery_attempt = rnd() < 0.8 ? num() : value(1);
    else if (field === 4) data.object = value(5);
    else if (field === 5) data.object = nested(rnd() < 0.5 ? 60 + int(10) : 200 + int(5000));
    else if (field === 6) object.grant_id = rnd() < 0.5 ? str(300) : value(1);
    else if (field === 7) object[str(10)] = value(3);
    else if (field === 8) e.data = value(2);
    else if (field === 9) delete e[pick(['id', 'type', 'data', 'time'])];
    else if (field === 10) object.subject = str(5000);
    else e[str(6)] = value(3);
  };

  const out: { body: Buffer; id: string | undefined }[] = [];
  for (let i = 0; i < count; i++) {
    const kind = rnd();
    if (kind < 0.08) {
      // Not JSON, or not UTF-8: truncated text, raw bytes, a NUL in the middle.
      const text = serialize(envelope());
      const bytes = Buffer.from(text.slice(0, int(text.length)));
      if (rnd() < 0.5) bytes[int(bytes.length || 1)] = int(256);
      out.push({ body: bytes, id: undefined });
    } else if (kind < 0.16) {
      out.push({ body: Buffer.from(serialize(value(6))), id: undefined });
    } else {
      const e = envelope();
      const mutations = kind < 0.3 ? 0 : 1 + int(3);
      for (let m = 0; m < mutations; m++) mutate(e);
      out.push({ body: Buffer.from(serialize(e)), id: typeof e.id === 'string' ? e.id : undefined });
    }
  }
  return out;
}

/** JSON text of a value whose numbers may be Literals. Iterative: some values are thousands deep. */
function serialize(root: unknown): string {
  const parts: string[] = [];
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'symbol') parts.push(v.description!);
    else if (v instanceof Literal) parts.push(v.text);
    else if (Array.isArray(v)) {
      parts.push('[');
      stack.push(Symbol(']'));
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push(v[i]);
        if (i > 0) stack.push(Symbol(','));
      }
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      parts.push('{');
      stack.push(Symbol('}'));
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push(entries[i]![1]);
        stack.push(Symbol(`${JSON.stringify(entries[i]![0])}:`));
        if (i > 0) stack.push(Symbol(','));
      }
    } else parts.push(JSON.stringify(v) ?? 'null');
  }
  return parts.join('');
}
