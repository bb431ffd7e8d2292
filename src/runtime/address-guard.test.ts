import { describe, expect, it } from 'vitest';
import { addressGuard, refusedAddress } from './address-guard.ts';
import { ProviderError } from './outbound.ts';

describe('refusedAddress', () => {
  it.each([
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.100.100.200', '0.0.0.0',
    '224.0.0.1', '255.255.255.255', '198.18.0.1', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', 'ff02::1', '::ffff:127.0.0.1',
    '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '64:ff9b::a9fe:a9fe', '2002:c0a8:0101::1', '::127.0.0.1', '2001:db8::1', 'fec0::1',
  ])('refuses %s', (a) => {
    expect(refusedAddress(a)).not.toBeNull();
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700::6810:85e5', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:0808:0808::1'])('lets public %s through', (a) => {
    expect(refusedAddress(a)).toBeNull();
  });
});

describe('addressGuard', () => {
  const resolving = (map: Record<string, string[]>) => async (host: string) => map[host] ?? [];
  const guard = addressGuard({ allowPrivate: false, resolve: resolving({ 'ok.example': ['93.184.216.34'], 'mixed.example': ['93.184.216.34', '10.0.0.5'], 'v6.example': ['2606:4700::1', '::ffff:10.0.0.1'] }) });

  it('refuses a name when any of its addresses is private, with a permanent error', async () => {
    const err = await guard('chat', new URL('https://mixed.example/hook')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ retryable: false, code: 'address_refused' });
    expect((err as Error).message).toMatch(/mixed\.example resolves to 10\.0\.0\.5/);
    await expect(guard('chat', new URL('https://v6.example/'))).rejects.toThrow(/::ffff:10\.0\.0\.1/);
  });

  it('checks literal addresses, decimal and bracketed forms included, and refuses other schemes', async () => {
    await expect(guard('chat', new URL('http://2130706433/'))).rejects.toThrow(/127\.0\.0\.1/);
    await expect(guard('chat', new URL('http://[::1]:8080/'))).rejects.toThrow(/loopback/);
    await expect(guard('chat', new URL('ftp://ok.example/'))).rejects.toThrow(/scheme/);
    await expect(guard('chat', new URL('https://ok.example/hook'))).resolves.toBeUndefined();
  });

  it('lets private addresses through when allowed, or an origin on its allow list', async () => {
    await expect(addressGuard({ allowPrivate: true })('chat', new URL('http://127.0.0.1:1/'))).resolves.toBeUndefined();
    const listed = addressGuard({ allowPrivate: false, allowOrigins: () => ['http://127.0.0.1:4567'] });
    await expect(listed('push', new URL('http://127.0.0.1:4567/wpush/x'))).resolves.toBeUndefined();
    await expect(listed('push', new URL('http://127.0.0.1:4568/wpush/x'))).rejects.toThrow(/refused/);
  });
});
