import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { assertPublicUrl, guardedLookup, isPrivateAddress, type Lookup, PrivateAddressError } from '../src/index.js';

const strict = { allowPrivate: false };

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
