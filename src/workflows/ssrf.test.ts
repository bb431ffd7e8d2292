import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './http-worker.ts';
import { blockedReason, checkUrl, guardedLookup } from './ssrf.ts';

describe('the SSRF guard of HTTP steps', () => {
  it('classifies loopback, private, link-local, CGNAT and mapped addresses, and lets public ones through', () => {
    expect(blockedReason('127.0.0.1')).toBe('a loopback address');
    expect(blockedReason('::1')).toBe('a loopback address');
    expect(blockedReason('::ffff:127.0.0.1')).toBe('an IPv6 address carrying a loopback address');
    expect(blockedReason('::ffff:7f00:1')).toBe('an IPv6 address carrying a loopback address');
    expect(blockedReason('169.254.169.254')).toBe('a link-local address');
    expect(blockedReason('fe80::1')).toBe('a link-local address');
    for (const ip of ['10.0.0.1', '172.16.5.4', '192.168.1.1']) expect(blockedReason(ip), ip).toBe('a private address');
    expect(blockedReason('100.64.0.1')).toBe('a carrier-grade NAT address');
    expect(blockedReason('fd00::1')).toMatch(/unique-local/);
    expect(blockedReason('0.0.0.0')).toBe('a "this network" address');
    expect(blockedReason('224.0.0.1')).toBe('a multicast address');
    // Ranges the HTTP steps' own list missed before it became the outbound layer's.
    expect(blockedReason('64:ff9b::a00:1')).toMatch(/carrying a private address/);
    expect(blockedReason('2002:7f00:1::')).toMatch(/carrying a loopback address/);
    for (const ip of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '172.32.0.1']) expect(blockedReason(ip), ip).toBeNull();
  });

  it('refuses other schemes, blocked literal hosts and path traversal unless the host is allowed', () => {
    expect(() => checkUrl('ftp://example.com/x', [])).toThrow(/scheme ftp: is not allowed/);
    expect(() => checkUrl('http://127.0.0.1:8080/', [])).toThrow(/127\.0\.0\.1 is a loopback address; add it to HTTP_STEP_ALLOWED_HOSTS/);
    expect(checkUrl('http://127.0.0.1:8080/', ['127.0.0.1']).port).toBe('8080');
    expect(() => checkUrl('http://localhost/', [])).toThrow(/localhost is a loopback address/);
    expect(() => checkUrl('https://example.com/a/%2e%2e%2fetc/passwd', [])).toThrow(/path traversal/);
    expect(checkUrl('https://example.com/a?b=c', []).hostname).toBe('example.com');
  });

  it('refuses at connect time a name that resolves to a blocked address', async () => {
    const lookup = guardedLookup([]);
    const err = await new Promise<Error | null>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)));
    expect(err?.message).toMatch(/localhost resolves to .*(loopback)/);
    const allowed = await new Promise<Error | null>((resolve) => guardedLookup(['localhost'])('localhost', { all: true }, (e) => resolve(e)));
    expect(allowed).toBeNull();
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});
