import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { addressRefusal, assertPublicUrl, guardedLookup, type Lookup, PrivateAddressError } from '../src/index.js';
import { isPrivateAddress, type ResolveAll } from '../src/net/address-guard.js';

const strict = { allowPrivate: false };

/**
 * Every entry of the IANA IPv4 and IPv6 Special-Purpose Address Registries, and the
 * other ranges refused (multicast, site-local, IPv4-compatible, outside 2000::/3):
 * an address inside, and where the range borders public space, a public address just
 * outside it.
 */
const RANGES: readonly [range: string, inside: readonly string[], outside: string | null][] = [
  ['0.0.0.0/8 this network', ['0.0.0.0', '0.1.2.3', '0.255.255.255'], '1.0.0.1'],
  ['10.0.0.0/8 private-use', ['10.0.0.1', '10.255.255.255'], '11.0.0.1'],
  ['100.64.0.0/10 shared address space', ['100.64.0.1', '100.127.255.254'], '100.128.0.1'],
  ['127.0.0.0/8 loopback', ['127.0.0.1', '127.255.255.254'], '128.0.0.1'],
  ['169.254.0.0/16 link local', ['169.254.169.254', '169.254.0.1'], '169.255.0.1'],
  ['172.16.0.0/12 private-use', ['172.16.0.1', '172.31.255.254'], '172.32.0.1'],
  ['192.0.0.0/24 IETF protocol assignments', ['192.0.0.1', '192.0.0.255'], '192.0.1.1'],
  ['192.0.0.0/29 IPv4 service continuity', ['192.0.0.5'], null],
  ['192.0.0.8/32 IPv4 dummy address', ['192.0.0.8'], null],
  ['192.0.0.9/32 PCP anycast', ['192.0.0.9'], null],
  ['192.0.0.10/32 TURN anycast', ['192.0.0.10'], null],
  ['192.0.0.170/32, 192.0.0.171/32 NAT64/DNS64 discovery', ['192.0.0.170', '192.0.0.171'], null],
  ['192.0.2.0/24 TEST-NET-1', ['192.0.2.1'], '192.0.3.1'],
  ['192.31.196.0/24 AS112-v4', ['192.31.196.1'], '192.31.197.1'],
  ['192.52.193.0/24 AMT', ['192.52.193.1'], '192.52.194.1'],
  ['192.88.99.0/24 deprecated 6to4 relay anycast', ['192.88.99.1', '192.88.99.2'], '192.88.100.1'],
  ['192.168.0.0/16 private-use', ['192.168.0.1', '192.168.255.254'], '192.169.0.1'],
  ['192.175.48.0/24 AS112 direct delegation', ['192.175.48.1'], '192.175.49.1'],
  ['198.18.0.0/15 benchmarking', ['198.18.0.1', '198.19.255.254'], '198.20.0.1'],
  ['198.51.100.0/24 TEST-NET-2', ['198.51.100.1'], '198.51.101.1'],
  ['203.0.113.0/24 TEST-NET-3', ['203.0.113.1'], '203.0.114.1'],
  ['224.0.0.0/4 multicast', ['224.0.0.1', '239.255.255.255'], '223.255.255.1'],
  ['240.0.0.0/4 reserved', ['240.0.0.1', '254.255.255.255'], null],
  ['255.255.255.255/32 limited broadcast', ['255.255.255.255'], null],
  ['::1/128 loopback', ['::1'], null],
  ['::/128 unspecified', ['::'], null],
  ['::ffff:0:0/96 IPv4-mapped (even of a public IPv4)', ['::ffff:7f00:1', '::ffff:8.8.8.8'], null],
  ['::/96 IPv4-compatible (even of a public IPv4)', ['::7f00:1', '::127.0.0.1', '::8.8.8.8'], null],
  ['::ffff:0:0:0/96 IPv4-translated', ['::ffff:0:7f00:1'], null],
  ['64:ff9b::/96 NAT64 (even of a public IPv4)', ['64:ff9b::7f00:1', '64:ff9b::808:808'], null],
  ['64:ff9b:1::/48 local-use NAT64', ['64:ff9b:1::a00:1', '64:ff9b:1:ffff::1'], null],
  ['100::/64 discard-only', ['100::1'], null],
  ['100:0:0:1::/64 dummy prefix', ['100:0:0:1::1'], null],
  ['2001::/23 IETF protocol assignments', ['2001:1ff::1', '2001:100::1'], '2001:200::1'],
  ['2001::/32 Teredo', ['2001:0:4136:e378:8000:63bf:80ff:fffe', '2001::1'], null],
  ['2001:1::1/128 PCP anycast', ['2001:1::1'], null],
  ['2001:1::2/128 TURN anycast', ['2001:1::2'], null],
  ['2001:1::3/128 DNS-SD SRP anycast', ['2001:1::3'], null],
  ['2001:2::/48 benchmarking', ['2001:2::1'], null],
  ['2001:3::/32 AMT', ['2001:3::1'], null],
  ['2001:4:112::/48 AS112-v6', ['2001:4:112::1'], null],
  ['2001:10::/28 deprecated ORCHID', ['2001:10::1'], null],
  ['2001:20::/28 ORCHIDv2', ['2001:20::1', '2001:2f::1'], null],
  ['2001:30::/28 drone remote ID', ['2001:30::1'], null],
  ['2001:db8::/32 documentation', ['2001:db8::1', '2001:db8:ffff::1'], '2001:db9::1'],
  ['2002::/16 6to4 (even of a public IPv4)', ['2002:7f00:1::1', '2002:808:808::1', '2002:ffff::1'], '2003::1'],
  ['2620:4f:8000::/48 AS112 direct delegation', ['2620:4f:8000::1'], '2620:4f:8001::1'],
  ['3fff::/20 documentation', ['3fff::1', '3fff:fff::1'], '3fff:1000::1'],
  ['5f00::/16 SRv6 SIDs', ['5f00::1'], null],
  ['fc00::/7 unique local', ['fc00::1', 'fd12:3456::1'], null],
  ['fe80::/10 link-local (with a zone id, in upper case)', ['fe80::1', 'fe80::1%eth0', 'FE80::ABCD'], null],
  ['fec0::/10 deprecated site-local', ['fec0::1'], null],
  ['ff00::/8 multicast', ['ff02::1', 'ff0e::1'], null],
  ['outside 2000::/3 (reserved by IETF)', ['1::1', '4000::1', 'e000::1'], null],
];

describe('the address table', () => {
  it.each(RANGES)('refuses %s', (_range, inside, outside) => {
    for (const address of inside)
      expect({ address, refusal: addressRefusal(address) }).not.toEqual({ address, refusal: null });
    if (outside) expect(addressRefusal(outside)).toBeNull();
  });

  it('allows public unicast, in any spelling', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '2606:4700:4700::1111',
      '2001:4860:4860::8888',
      '2A00:1450::1',
    ]) {
      expect(addressRefusal(address)).toBeNull();
    }
  });

  it('names the range it refuses', () => {
    expect(addressRefusal('127.0.0.1')).toBe('loopback');
    expect(addressRefusal('100.64.0.1')).toBe('carrier-grade NAT');
    expect(addressRefusal('::7f00:1')).toBe('IPv4-compatible');
    expect(addressRefusal('2002:7f00:1::1')).toBe('6to4');
    expect(addressRefusal('2001::1')).toBe('teredo');
    expect(addressRefusal('64:ff9b:1::1')).toBe('NAT64');
    expect(addressRefusal('::ffff:7f00:1')).toBe('IPv4-mapped');
    expect(addressRefusal('4000::1')).toBe('not global unicast');
    expect(addressRefusal('0x7f.1')).toBe('not an IP address');
  });
});

describe('the named bypasses', () => {
  it.each([
    ['IPv4-compatible IPv6', 'http://[::127.0.0.1]/'],
    ['IPv4-compatible IPv6 in hex', 'http://[::7f00:1]/'],
    ['IPv4-mapped IPv6, upper-case hex', 'http://[::FFFF:7F00:1]/'],
    ['6to4 of loopback', 'http://[2002:7f00:1::1]/'],
    ['6to4 of a public IPv4', 'http://[2002:808:808::1]/'],
    ['NAT64 well-known prefix', 'http://[64:ff9b::7f00:1]/'],
    ['NAT64 local-use prefix', 'http://[64:ff9b:1::7f00:1]/'],
    ['Teredo (obfuscated 127.0.0.1)', 'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/'],
    ['decimal IPv4', 'http://2130706433/'],
    ['hex IPv4', 'http://0x7f.1/'],
    ['short IPv4', 'http://127.1/'],
    ['octal IPv4', 'http://0177.0.0.1/'],
    ['IPv4 with a trailing dot', 'http://127.0.0.1./'],
    ['percent-encoded IPv4', 'http://%31%32%37.0.0.1/'],
    ['zero', 'http://0/'],
    ['link-local IPv6 in upper case', 'http://[FE80::1]/'],
  ])('refuses %s: %s', async (_what, url) => {
    await expect(assertPublicUrl(url, strict)).rejects.toThrow(/a private address \(/);
    // ... and lets it through when private addresses are allowed (the refusal is the guard's, not the parser's).
    await expect(assertPublicUrl(url, { allowPrivate: true })).resolves.toEqual([]);
  });

  it('refuses a zone id in a bracketed IPv6 host (the URL does not parse)', async () => {
    await expect(assertPublicUrl('http://[fe80::1%25eth0]/', strict)).rejects.toThrow(/not a URL/);
  });

  it.each(['http://localhost./', 'http://LOCALHOST/', 'http://foo.localhost/', 'http://a.b.localhost../'])(
    'refuses the local host by name, resolvable or not: %s',
    async (url) => {
      const unresolvable: Lookup = async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      };
      const publicAnswer: Lookup = async () => [{ address: '93.184.216.34', family: 4 }];
      for (const lookup of [unresolvable, publicAnswer]) {
        await expect(assertPublicUrl(url, { ...strict, lookup, acceptUnresolved: true })).rejects.toThrow(
          /a private address \(a name for the local host/,
        );
      }
    },
  );

  it('refuses a name whose DNS answer is a tunnel or translator address', async () => {
    for (const address of ['::7f00:1', '2002:a00:1::1', '64:ff9b:1::a9fe:a9fe', '2001::1', 'fe80::1%eth0']) {
      const lookup: Lookup = async () => [{ address, family: 6 }];
      await expect(assertPublicUrl('https://hooks.example/x', { ...strict, lookup })).rejects.toThrow(
        `hooks.example resolves to ${address}, a private address`,
      );
    }
  });
});

describe('the private-address guard', () => {
  it.each([
    'http://127.0.0.1/hook',
    'http://10.0.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:8080/hook',
    'http://192.168.1.10/hook',
    'http://172.16.5.4/hook',
    'http://100.64.0.1/hook',
    'http://[fd00::1]/hook',
    'http://[fe80::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://0.0.0.0/hook',
  ])('refuses %s', async (url) => {
    await expect(assertPublicUrl(url, strict)).rejects.toBeInstanceOf(PrivateAddressError);
  });

  it('refuses a name that resolves to loopback (real DNS: localhost)', async () => {
    await expect(assertPublicUrl('http://localhost:9000/hook', strict)).rejects.toThrow(
      /resolves to (127\.0\.0\.1|::1)/,
    );
  });

  it('refuses a name when any of its addresses is private', async () => {
    const lookup: Lookup = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ];
    await expect(assertPublicUrl('https://mixed.example/hook', { ...strict, lookup })).rejects.toThrow(/10\.1\.2\.3/);
  });

  it('allows public addresses and names, and anything when private addresses are allowed', async () => {
    const lookup: Lookup = async () => [{ address: '93.184.216.34', family: 4 }];
    expect(await assertPublicUrl('https://hooks.example/x', { ...strict, lookup })).toEqual(['93.184.216.34']);
    expect(await assertPublicUrl('https://8.8.8.8/x', strict)).toEqual(['8.8.8.8']);
    expect(await assertPublicUrl('http://127.0.0.1/x', { allowPrivate: true })).toEqual([]);
  });

  it('refuses what is not http(s)', async () => {
    await expect(assertPublicUrl('file:///etc/passwd', { allowPrivate: true })).rejects.toThrow(/only http/);
    await expect(assertPublicUrl('not a url', strict)).rejects.toThrow(/not a URL/);
  });

  it('classifies addresses', () => {
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateAddress('2606:4700:4700::1111')).toBe(false);
    expect(isPrivateAddress('::ffff:10.0.0.1')).toBe(true);
    expect(isPrivateAddress('garbage')).toBe(true);
  });
});

describe('guardedLookup (the check made again as a socket connects)', () => {
  const answering =
    (...addresses: string[]): ResolveAll =>
    (_hostname, _options, callback) =>
      process.nextTick(() =>
        callback(
          null,
          addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
        ),
      );

  /** What the lookup answers for `hostname`: the error it refuses with, or the addresses. */
  const answerOf = (resolve: ResolveAll, hostname: string) =>
    new Promise<unknown>((resolved) =>
      guardedLookup(resolve)(hostname, { all: true }, (error, addresses) => resolved(error ?? addresses)),
    );

  it.each([
    '::7f00:1',
    '::ffff:7f00:1',
    '2002:7f00:1::1',
    '64:ff9b::7f00:1',
    '64:ff9b:1::7f00:1',
    '2001:0:4136:e378:8000:63bf:80ff:fffe',
    '169.254.169.254',
    'fe80::1%lo',
  ])('refuses a name that resolves to %s (among public addresses)', async (address) => {
    const error = await answerOf(answering('93.184.216.34', address), 'hooks.example');
    expect(error).toBeInstanceOf(PrivateAddressError);
    expect((error as Error).message).toContain(`hooks.example resolves to ${address}, a private address`);
  });

  it('refuses the local host by name even when DNS answers it with a public address', async () => {
    const error = await answerOf(answering('93.184.216.34'), 'localhost.');
    expect(error).toBeInstanceOf(PrivateAddressError);
    expect((error as Error).message).toMatch(/^localhost\., a private address \(a name for the local host/);
  });

  it('refuses as a socket connects, before anything is sent (the answer is loopback in disguise)', async () => {
    const socket = connect({ host: 'hooks.example', port: 9, lookup: guardedLookup(answering('::ffff:7f00:1')) });
    const error = await new Promise<Error>((resolve) => socket.on('error', resolve));
    expect(error).toBeInstanceOf(PrivateAddressError);
  });

  it('refuses a name that resolves to loopback, so a changed DNS answer cannot slip past the first check', async () => {
    const socket = connect({ host: 'localhost', port: 9, lookup: guardedLookup() });
    const error = await new Promise<Error>((resolve) => socket.on('error', resolve));
    expect(error).toBeInstanceOf(PrivateAddressError);
    expect(error.message).toMatch(/localhost resolves to .*private address/);
  });

  it('passes public answers through in the form asked for', async () => {
    const lookup = guardedLookup();
    const answer = await new Promise<unknown>((resolve, reject) =>
      lookup('93.184.216.34', { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
    );
    expect(answer).toEqual([{ address: '93.184.216.34', family: 4 }]);
  });
});
