/**
 * Refuses URLs that reach into our own network: loopback, private, link-local (cloud
 * metadata at 169.254.169.254), carrier-grade NAT, multicast and reserved ranges,
 * in IPv4 and IPv6 (IPv4-mapped addresses included). Names are resolved and every
 * address checked, at enqueue and again just before a request (DNS can change).
 * `WEBHOOK_ALLOW_PRIVATE=true` turns the guard off for development.
 */
import { type LookupAddress, lookup as lookupWithCallback } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export type Lookup = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** A URL renderq will not call; `reason` says which address was refused. */
export class PrivateAddressError extends Error {
  override readonly name = 'PrivateAddressError';
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  // An IPv4-mapped IPv6 address reaches the IPv4 host it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1] as string, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/**
 * Resolves `url`'s host and throws PrivateAddressError when any address it has is
 * private (or the URL is not http(s)). Returns the addresses checked.
 */
export async function assertPublicUrl(
  url: string,
  options: {
    readonly allowPrivate: boolean;
    readonly lookup?: Lookup;
    /** Accept a name that does not resolve now (it is checked again when called). @defaultValue false */
    readonly acceptUnresolved?: boolean;
  },
): Promise<readonly string[]> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PrivateAddressError(`"${url}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new PrivateAddressError(`only http(s) URLs are called (got ${parsed.protocol})`);
  }
  if (options.allowPrivate) return [];
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const lookup = options.lookup ?? ((name: string) => dnsLookup(name, { all: true, verbatim: true }));
  let addresses: readonly { address: string }[];
  try {
    addresses = isIP(host) ? [{ address: host }] : await lookup(host);
  } catch (error) {
    if (options.acceptUnresolved) return [];
    throw new PrivateAddressError(`${host} does not resolve: ${(error as Error).message}`);
  }
  if (addresses.length === 0) {
    if (options.acceptUnresolved) return [];
    throw new PrivateAddressError(`${host} does not resolve`);
  }
  const refused = addresses.find(({ address }) => isPrivateAddress(address));
  if (refused) {
    throw new PrivateAddressError(
      `${host} resolves to ${refused.address}, a private address (set WEBHOOK_ALLOW_PRIVATE=true to allow it)`,
    );
  }
  return addresses.map(({ address }) => address);
}

/**
 * A `lookup` for sockets (undici's `connect` options pass it to net.connect) that
 * refuses a name resolving to a private address at the moment of connecting, so a
 * DNS answer that changes between the check and the request cannot slip through.
 * (An IP literal is not looked up: check those with assertPublicUrl.)
 */
export function guardedLookup(): LookupFunction {
  return (hostname, options, callback) => {
    lookupWithCallback(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = addresses.find(({ address }) => isPrivateAddress(address));
      if (refused) {
        return callback(
          new PrivateAddressError(`${hostname} resolves to ${refused.address}, a private address`),
          '',
          0,
        );
      }
      const first = addresses[0];
      if (options.all) return callback(null, addresses);
      if (!first) return callback(new PrivateAddressError(`${hostname} does not resolve`), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
