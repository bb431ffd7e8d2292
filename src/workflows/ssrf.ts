/**
 * The SSRF guard of HTTP steps. A URL must be http(s); its host, and every address it resolves
 * to, must not be loopback, private (RFC 1918, ULA), link-local (cloud metadata at
 * 169.254.169.254), CGNAT, multicast or unspecified, unless HTTP_STEP_ALLOWED_HOSTS names it.
 * Unlike the original, the check runs at connect time on the address actually used (no DNS
 * rebinding window), again on every redirect, and a DNS failure fails the request.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { refusedAddress } from '../runtime/address-guard.ts';

/** A request the guard refused; never retried. The message says why. */
export class BlockedRequest extends Error {
  override name = 'BlockedRequest';
}

/**
 * Why `ip` may not be reached, or null when it may (or when it is not an IP address). The ranges
 * are the outbound layer's (src/runtime/address-guard.ts), so HTTP steps and channel calls refuse
 * the same addresses.
 */
export function blockedReason(ip: string): string | null {
  return isIP(ip) === 0 ? null : refusedAddress(ip);
}

const TRAVERSAL = [/\.\.[/\\]/, /%2e%2e(%2f|%5c|\/|\\)/i, /\.\.%(2f|5c)/i, /file:\/\//i, /\\\\\.\\pipe\\/i];

/** Parses and checks a URL before any connection: scheme, literal address, path traversal. */
export function checkUrl(raw: string, allowed: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BlockedRequest(`invalid URL ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BlockedRequest(`scheme ${url.protocol} is not allowed (http or https only)`);
  const host = hostOf(url);
  if (!isAllowed(host, allowed)) {
    if (host === 'localhost' || host.endsWith('.localhost')) throw new BlockedRequest(`${host} is a loopback address; add it to HTTP_STEP_ALLOWED_HOSTS to allow it`);
    const reason = blockedReason(host);
    if (reason) throw new BlockedRequest(`${host} is ${reason}; add it to HTTP_STEP_ALLOWED_HOSTS to allow it`);
  }
  const target = decodeSafe(url.pathname + url.search);
  if (TRAVERSAL.some((re) => re.test(url.pathname + url.search) || re.test(target))) throw new BlockedRequest(`path traversal in ${url.pathname}`);
  return url;
}

/** The host of a URL without IPv6 brackets, lower case. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

function isAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.includes('*') || allowed.includes(host);
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request that refuses blocked addresses at connect time, so the address
 * checked is the address connected to. Hosts in `allowed` resolve unchecked.
 */
export function guardedLookup(allowed: readonly string[]) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const host = hostname.toLowerCase();
      if (!isAllowed(host, allowed)) {
        for (const a of addresses) {
          const reason = isAllowed(a.address, allowed) ? null : blockedReason(a.address);
          if (reason) return callback(new BlockedRequest(`${hostname} resolves to ${a.address}, ${reason}; add it to HTTP_STEP_ALLOWED_HOSTS to allow it`), '');
        }
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new BlockedRequest(`${hostname} did not resolve`), '');
      callback(null, first.address, first.family);
    });
  };
}
