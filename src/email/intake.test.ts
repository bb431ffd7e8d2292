import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signatureMatches } from './intake.ts';

describe('signatureMatches', () => {
  const body = Buffer.from('{"id":"evt-1","type":"message.created"}');
  const sign = (secret: string, raw = body) => createHmac('sha256', secret).update(raw).digest('hex');

  it('accepts the lowercase hex HMAC-SHA256 of the raw body under the secret', () => {
    expect(signatureMatches(body, sign('s3cret'), 's3cret')).toBe(true);
    expect(signatureMatches(body, sign('s3cret').toUpperCase(), 's3cret')).toBe(true);
  });

  it('refuses another secret, another body, a missing, truncated or repeated header', () => {
    expect(signatureMatches(body, sign('other'), 's3cret')).toBe(false);
    expect(signatureMatches(Buffer.from(`${body} `), sign('s3cret'), 's3cret')).toBe(false);
    expect(signatureMatches(body, undefined, 's3cret')).toBe(false);
    expect(signatureMatches(body, sign('s3cret').slice(0, 32), 's3cret')).toBe(false);
    expect(signatureMatches(body, [sign('s3cret'), sign('s3cret')], 's3cret')).toBe(false);
  });
});
