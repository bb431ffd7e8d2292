import { lookup as dnsLookup } from 'node:dns/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ProviderError } from './outbound.ts';

/**
 * The SSRF guard of outbound calls whose URL comes from someone else's data (a subscriber's chat
 * webhook or push endpoint): the host is resolved and every address it resolves to must be a
 * public unicast one. Loopback, private, carrier-grade NAT, link-local (cloud metadata at
 * 169.254.169.254 and fd00:ec2::254), multicast, documentation and reserved ranges are refused,
 * in IPv4 and IPv6, including IPv4 hidden inside IPv6 (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96,
 * 6to4 2002::/16, the old compatible ::a.b.c.d).
 *
 * Names are checked at connect time on the addresses connected to (see addressGuard), so DNS
 * rebinding cannot pass; redirects are not followed, so a public URL cannot bounce the call inward.
 */

/** [first address, prefix length, what it is] of each refused IPv4 range. */
const V4_REFUSED: [string, number, string][] = [
  ['0.0.0.0', 8, 'a "this network" address'], ['10.0.0.0', 8, 'a private address'], ['100.64.0.0', 10, 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'a loopback address'], ['169.254.0.0', 16, 'a link-local address'], ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'a reserved address'], ['192.0.2.0', 24, 'a documentation address'], ['192.88.99.0', 24, 'a reserved address'],
  ['192.168.0.0', 16, 'a private address'], ['198.18.0.0', 15, 'a benchmarking address'], ['198.51.100.0', 24, 'a documentation address'],
  ['203.0.113.0', 24, 'a documentation address'], ['224.0.0.0', 4, 'a multicast address'], ['240.0.0.0', 4, 'a reserved address'],
];

const V4_RANGES = V4_REFUSED.map(([a, bits, what]) => ({ base: v4ToInt(a), mask: bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0, what }));

function v4ToInt(a: string): number {
  return a.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

/** The 16 bytes of an IPv6 address (with or without an embedded dotted IPv4 tail). */
function v6Bytes(address: string): number[] {
  let text = address.split('%')[0]!.toLowerCase();
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const n = v4ToInt(dotted[1]!);
    tail.push(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
    text = `${text.slice(0, -dotted[1]!.length)}0:0`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = groups.flatMap((g) => {
    const v = parseInt(g || '0', 16);
    return [v >> 8, v & 255];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function v4Refused(n: number): string | null {
  if (n === 0xffffffff) return 'broadcast';
  return V4_RANGES.find((r) => ((n & r.mask) >>> 0) === r.base)?.what ?? null;
}

/** Why an IP address may not be called, or null when it is public. */
export function refusedAddress(address: string): string | null {
  const family = isIP(address);
  if (family === 4) return v4Refused(v4ToInt(address));
  if (family !== 6) return 'not an IP address';
  const b = v6Bytes(address);
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4At = (i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  const why = (inner: number) => (v4Refused(inner) ? `an IPv6 address carrying ${v4Refused(inner)}` : null);
  if (zeros(0, 15) && b[15] === 1) return 'a loopback address';
  if (zeros(0, 16)) return 'the unspecified address';
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible): the IPv4 address is what is reached.
  if (zeros(0, 10) && ((b[10] === 0xff && b[11] === 0xff) || (b[10] === 0 && b[11] === 0))) return why(v4At(12));
  // 64:ff9b::/96 (NAT64) and 64:ff9b:1::/48 (local NAT64).
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) return (b[4] === 0 && b[5] === 1) ? 'a local-use NAT64 address' : why(v4At(12));
  if (b[0] === 0x20 && b[1] === 0x02) return why(v4At(2));
  if ((b[0]! & 0xfe) === 0xfc) return 'a unique-local IPv6 address (fc00::/7)';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'a link-local address';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0xc0) return 'a site-local IPv6 address (fec0::/10)';
  if (b[0] === 0xff) return 'a multicast IPv6 address';
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'a documentation IPv6 address (2001:db8::/32)';
  if (b[0] === 0x01 && zeros(1, 8)) return 'a discard-only IPv6 address (100::/64)';
  return null;
}

export type Resolve = (host: string) => Promise<string[]>;

const systemResolve: Resolve = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface AddressGuardOptions {
  /** Let private and loopback addresses through (local emulators, tests). */
  allowPrivate: boolean;
  /** Origins always let through (an emulator this process started itself). */
  allowOrigins?: () => string[];
  /** How an operator allows private addresses, named in refusals (the domain's variable). */
  hint?: string;
  resolve?: Resolve;
  /** Why an address is refused (default refusedAddress); tests swap it to reach a local server. */
  refused?: (address: string) => string | null;
}

export interface AddressGuard {
  /**
   * A fetch for one provider's calls: it refuses, with a non-retryable ProviderError, a URL that
   * is not http(s) or whose host is or resolves to a refused address, and follows no redirect.
   */
  fetch(provider: string): typeof fetch;
}

const MAX_ANSWER = 1024 * 1024;

/**
 * The guard of outbound calls to URLs from someone else's data. A host name is resolved once, at
 * connect time, by the socket's own `lookup`, and every address it has is checked there: the
 * address checked is the address connected to, so a DNS answer that changes between a check and
 * the connect (rebinding) cannot slip through. Literal addresses are checked before the request.
 * Guarded calls go over node:http(s) with agents of their own (a socket is never shared with
 * unguarded code); allowed ones (allowPrivate, allowOrigins) over the global fetch.
 */
export function addressGuard(options: AddressGuardOptions): AddressGuard {
  const resolve = options.resolve ?? systemResolve;
  const refused = options.refused ?? refusedAddress;
  const agents = { 'http:': new HttpAgent({ keepAlive: true }), 'https:': new HttpsAgent({ keepAlive: true }) };
  const refuse = (provider: string, url: URL, reason: string) => refusal(provider, url, reason, options.hint);
  return {
    fetch: (provider) => async (input, init = {}) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse(provider, url, `scheme ${url.protocol} is not http or https`);
      if (options.allowPrivate || options.allowOrigins?.().includes(url.origin)) return fetch(input, { ...init, redirect: 'manual' });
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      if (isIP(host)) {
        const reason = refused(host);
        if (reason) throw refuse(provider, url, `${host}, ${reason}`);
      }
      const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
        resolve(hostname).then((addresses) => {
          if (addresses.length === 0) return callback(refuse(provider, url, `${hostname} has no address`), '', 0);
          for (const a of addresses) {
            const reason = refused(a);
            if (reason) return callback(refuse(provider, url, `${hostname} resolves to ${a}, ${reason}`), '', 0);
          }
          if (lookupOptions.all) return callback(null, addresses.map((address) => ({ address, family: isIP(address) })));
          callback(null, addresses[0]!, isIP(addresses[0]!));
        }, (err: NodeJS.ErrnoException) => callback(err, '', 0));
      };
      return send(url, init, agents[url.protocol], lookup);
    },
  };
}

/** A URL whose call the guard refused: permanent, no retry helps. */
export function refusal(provider: string, url: URL, reason: string, hint?: string): ProviderError {
  return new ProviderError(`${provider}: refused to call ${url.protocol}//${url.host}: ${reason}${hint ? ` (${hint} allows it)` : ''}`, {
    provider, status: 0, code: 'address_refused', retryable: false,
  });
}

/** One request over node:http(s) with the checking lookup, answered as a fetch Response (no redirect followed). */
function send(url: URL, init: RequestInit, agent: HttpAgent, lookup: LookupFunction): Promise<Response> {
  const body = init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : Buffer.from(init.body as Uint8Array);
  const headers = Object.fromEntries(new Headers(init.headers).entries());
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers, agent, lookup, ...(init.signal && { signal: init.signal }) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER) res.destroy(new Error(`answer larger than ${MAX_ANSWER} bytes`));
        else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const answer = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const x of [v ?? []].flat()) answer.append(k, x);
        try {
          resolve(new Response([101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers: answer }));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
