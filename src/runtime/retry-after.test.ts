import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const parse = (headers: Record<string, string>, capMs?: number) =>
  parseRetryAfter(new Headers(headers), { now: NOW, ...(capMs !== undefined && { capMs }) });

describe('parseRetryAfter', () => {
  it('reads delta-seconds, decimals included', () => {
    expect(parse({ 'retry-after': '120' })).toBe(120_000);
    expect(parse({ 'retry-after': '0' })).toBe(0);
    expect(parse({ 'retry-after': ' 1.5 ' })).toBe(1500);
  });

  it('reads an HTTP-date in the future as the time until it, and one in the past as now', () => {
    expect(parse({ 'retry-after': 'Sun, 01 Mar 2026 12:00:30 GMT' })).toBe(30_000);
    expect(parse({ 'retry-after': 'Sun, 01 Mar 2026 11:59:00 GMT' })).toBe(0);
    // The two obsolete forms RFC 9110 still asks recipients to accept.
    expect(parse({ 'retry-after': 'Sunday, 01-Mar-26 12:01:00 GMT' })).toBe(60_000);
    expect(parse({ 'retry-after': 'Sun Mar  1 12:00:10 2026' })).toBe(10_000);
  });

  it('prefers retry-after-ms (OpenAI, Anthropic) over Retry-After', () => {
    expect(parse({ 'retry-after-ms': '250', 'retry-after': '1' })).toBe(250);
    expect(parse({ 'retry-after-ms': '12.7' })).toBe(13);
    // A broken retry-after-ms does not hide a good Retry-After.
    expect(parse({ 'retry-after-ms': 'soon', 'retry-after': '2' })).toBe(2000);
  });

  it('ignores garbage, negative numbers and dates that are not HTTP-dates', () => {
    for (const value of ['', 'soon', '-5', '0x10', '1e3', 'NaN', 'Infinity', 'Mar 2026', '2026-03-01T12:00:30Z', 'Sun, 99 Foo 2026 99:99:99 GMT']) {
      expect(parse({ 'retry-after': value }), value).toBeUndefined();
    }
    expect(parse({})).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('caps what a provider may ask', () => {
    expect(parse({ 'retry-after': '86400' })).toBe(MAX_RETRY_AFTER_MS);
    expect(parse({ 'retry-after': 'Tue, 01 Mar 2027 12:00:00 GMT' })).toBe(MAX_RETRY_AFTER_MS);
    expect(parse({ 'retry-after-ms': '90000' }, 60_000)).toBe(60_000);
  });

  it('reads the plain header records some SDKs hand over, in any case', () => {
    expect(parseRetryAfter({ 'Retry-After': '3' })).toBe(3000);
    expect(parseRetryAfter({ 'retry-after': ['4', '9'] })).toBe(4000);
    expect(parseRetryAfter({ 'retry-after': undefined })).toBeUndefined();
  });
});
