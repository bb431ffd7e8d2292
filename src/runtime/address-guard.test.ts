import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  let server: Server;
  let port: number;
  const hits: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      if (req.url === '/redirect') return void res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
      res.writeHead(200, { 'content-type': 'text/plain', 'x-request-id': 'r1' }).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const resolving = (map: Record<string, string[]>) => async (host: string) => map[host] ?? [];
  const names = { 'mixed.example': ['93.184.216.34', '10.0.0.5'], 'v6.example': ['2606:4700::1', '::ffff:10.0.0.1'], 'inside.example': ['127.0.0.1'] };
  const guard = addressGuard({ allowPrivate: false, hint: 'ALLOW=true', resolve: resolving(names) }).fetch('chat');
  const refusedWith = async (url: string) => {
    const err = await guard(url, { method: 'POST', body: 'x' }).then(() => undefined, (e: unknown) => e);
    expect(err, url).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ retryable: false, code: 'address_refused' });
    return (err as Error).message;
  };

  it('refuses a name when any of its addresses is private, checked on the connection itself', async () => {
    expect(await refusedWith('https://mixed.example/hook')).toMatch(/mixed\.example resolves to 10\.0\.0\.5.*\(ALLOW=true allows it\)/);
    expect(await refusedWith('https://v6.example/')).toMatch(/::ffff:10\.0\.0\.1/);
    // A name pointing inward never reaches the server listening there.
    expect(await refusedWith(`http://inside.example:${port}/hook`)).toMatch(/127\.0\.0\.1/);
    expect(hits).toEqual([]);
  });

  it('checks literal addresses, decimal and bracketed forms included, and refuses other schemes', async () => {
    expect(await refusedWith(`http://2130706433:${port}/`)).toMatch(/127\.0\.0\.1/);
    expect(await refusedWith('http://[::1]:8080/')).toMatch(/loopback/);
    expect(await refusedWith('ftp://ok.example/')).toMatch(/scheme/);
    expect(hits).toEqual([]);
  });

  it('calls a name whose addresses pass over its own connection, answering as fetch does, following no redirect', async () => {
    // Loopback counts as public for this guard, so its own request path can reach the local server.
    const lenient = addressGuard({ allowPrivate: false, resolve: resolving({ 'svc.example': ['127.0.0.1'] }), refused: (a) => (a === '10.0.0.5' ? 'private' : null) }).fetch('chat');
    const res = await lenient(`http://svc.example:${port}/hook?a=1`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: new TextEncoder().encode('x') });
    expect([res.status, await res.text(), res.headers.get('x-request-id')]).toEqual([200, 'ok', 'r1']);
    expect(hits).toEqual(['POST /hook?a=1']);
    const redirected = await lenient(`http://svc.example:${port}/redirect`);
    expect(redirected.status).toBe(302);
    expect(hits).toEqual(['POST /hook?a=1', 'GET /redirect']);
    // An unknown name has no address: refused, not retried.
    await expect(lenient(`http://nowhere.example:${port}/`)).rejects.toMatchObject({ code: 'address_refused' });
  });

  it('lets an origin on its allow list through', async () => {
    const listed = addressGuard({ allowPrivate: false, allowOrigins: () => [`http://127.0.0.1:${port}`] }).fetch('push');
    expect((await listed(`http://127.0.0.1:${port}/wpush/x`, { method: 'POST' })).status).toBe(200);
    await expect(listed(`http://127.0.0.1:${port + 1}/wpush/x`)).rejects.toThrow(/refused/);
  });
});
