/**
 * Refuses URLs that reach into our own network, or through a tunnel or translator to
 * an address we cannot see: every range of the IANA IPv4 and IPv6 Special-Purpose
 * Address Registries (loopback, private, link-local with cloud metadata at
 * 169.254.169.254, carrier-grade NAT, documentation, benchmarking, …), multicast,
 * IPv4-mapped and IPv4-compatible IPv6, 6to4, NAT64 and Teredo, and any IPv6 outside
 * global unicast (2000::/3). Names are resolved and every address checked, at enqueue
 * and again as a socket connects (DNS can change). `WEBHOOK_ALLOW_PRIVATE=true` turns
 * the guard off for development.
 *
 * The range table is ipaddr.js's (`range()`: anything but `unicast` is refused), with
 * the few entries it lacks added below, so the registries are followed by updating a
 * maintained table rather than by editing a hand-written list.
 */
import { type LookupAddress, type LookupAllOptions, lookup as lookupWithCallback } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export type Lookup = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

/** dns.lookup asked for every address, as guardedLookup calls it. */
export type ResolveAll = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * IPv6 ranges refused beyond ipaddr.js's table. 6to4 (2002::/16), Teredo (2001::/32) and
 * NAT64 (64:ff9b::/96, 64:ff9b:1::/48) are in that table and refused outright rather than
 * decoded: they are special-purpose registry entries like the rest; the IPv4 host a
 * packet finally reaches is chosen by a relay or translator we do not control (Teredo
 * even carries two IPv4 addresses, one obfuscated, and a network-specific NAT64 prefix
 * may embed its IPv4 at any of six offsets), so decoding would trust a guess; and a
 * receiver worth calling has a native address.
 */
const EXTRA_IPV6_RANGES: Record<string, [ipaddr.IPv6, number]> = {
  // RFC 4291 §2.5.5.1 (deprecated): ::a.b.c.d reaches IPv4 host a.b.c.d on stacks that still honour it.
  'IPv4-compatible': [ipaddr.IPv6.parse('::'), 96],
  // IANA IPv6 Special-Purpose Address Registry: "Dummy IPv6 Prefix", 100:0:0:1::/64 (RFC 9780).
  'dummy prefix': [ipaddr.IPv6.parse('100:0:0:1::'), 64],
};
// IANA IPv6 Address Space registry: only 2000::/3 is allocated as Global Unicast; the rest is reserved or special.
const GLOBAL_UNICAST: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('2000::'), 3];

/** Readable names for ipaddr.js's range names, for error messages. */
const RANGE_NAMES: Readonly<Record<string, string>> = {
  carrierGradeNat: 'carrier-grade NAT',
  linkLocal: 'link-local',
  uniqueLocal: 'unique local',
  ipv4Mapped: 'IPv4-mapped',
  rfc6145: 'IPv4-translated',
  rfc6052: 'NAT64',
  as112: 'AS112',
  as112v6: 'AS112',
  amt: 'AMT',
  deprecatedSiteLocal: 'site-local',
  deprecatedOrchid: 'ORCHID',
  orchid2: 'ORCHIDv2',
  droneRemoteIdProtocolEntityTags: 'drone remote ID',
  segmentRouting: 'SRv6 SIDs',
};

/** A URL renderq will not call; the message says which host or address was refused. */
export class PrivateAddressError extends Error {
  override readonly name = 'PrivateAddressError';
}

/**
 * Why `address` (an IP address as text, IPv6 possibly with a zone id) may not be called:
 * the name of the special-purpose range it is in, or null when it is public unicast.
 */
export function addressRefusal(address: string): string | null {
  if (isIP(address) === 0) return 'not an IP address';
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  const range = parsed.range();
  if (range !== 'unicast') return RANGE_NAMES[range] ?? range;
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    const extra = ipaddr.subnetMatch(v6, EXTRA_IPV6_RANGES, '');
    if (extra) return extra;
    if (!v6.match(GLOBAL_UNICAST)) return 'not global unicast';
  }
  return null;
}

export function isPrivateAddress(address: string): boolean {
  return addressRefusal(address) !== null;
}

/**
 * Why a host name may not be called whatever it resolves to, or whether it resolves at
 * all: `localhost` and names under it are the local host (RFC 6761 §6.3, IANA Special-Use
 * Domain Names), and a resolver may answer them without asking DNS. A trailing dot
 * changes nothing.
 */
function hostNameRefusal(hostname: string): string | null {
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return 'a name for the local host';
  return null;
}

function refusedMessage(host: string, address: string, range: string): string {
  const what = host === address ? host : `${host} resolves to ${address}`;
  return `${what}, a private address (${range}; set WEBHOOK_ALLOW_PRIVATE=true to allow it)`;
}

/** The host of a URL as it will be connected to: brackets off an IPv6 literal. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Resolves `url`'s host and throws PrivateAddressError when any address it has is
 * private (or the URL is not http(s)). Returns the addresses checked. The host is the
 * WHATWG URL parser's, which is what undici connects to: decimal, hex, octal and short
 * IPv4 spellings (`2130706433`, `0x7f.1`, `127.1`) arrive here as dotted quads and IPv6
 * in lower case; a zone id in a URL does not parse.
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
  const host = hostOf(parsed);
  if (isIP(host)) {
    const range = addressRefusal(host);
    if (range) throw new PrivateAddressError(refusedMessage(host, host, range));
    return [host];
  }
  const lookup = options.lookup ?? ((name: string) => dnsLookup(name, { all: true, verbatim: true }));
  let addresses: readonly { address: string }[] = [];
  let unresolved = '';
  try {
    addresses = await lookup(host);
  } catch (error) {
    unresolved = `: ${(error as Error).message}`;
  }
  for (const { address } of addresses) {
    const range = addressRefusal(address);
    if (range) throw new PrivateAddressError(refusedMessage(host, address, range));
  }
  // After the lookup, so a name that resolves is refused for the address it reaches.
  const nameRefusal = hostNameRefusal(host);
  if (nameRefusal) throw new PrivateAddressError(refusedMessage(host, host, nameRefusal));
  if (addresses.length === 0) {
    if (options.acceptUnresolved) return [];
    throw new PrivateAddressError(`${host} does not resolve${unresolved}`);
  }
  return addresses.map(({ address }) => address);
}

/**
 * A `lookup` for sockets (undici's `connect` options pass it to net.connect) that
 * refuses a name resolving to a private address at the moment of connecting, so a
 * DNS answer that changes between the check and the request cannot slip through.
 * (An IP literal is not looked up: check those with assertPublicUrl or isPrivateAddress.)
 * `resolve` is for tests. @defaultValue dns.lookup
 */
export function guardedLookup(resolve: ResolveAll = lookupWithCallback): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      for (const { address } of error ? [] : addresses) {
        const range = addressRefusal(address);
        if (range) return callback(new PrivateAddressError(refusedMessage(hostname, address, range)), '', 0);
      }
      // Resolvable or not (a refusal is recorded as one, not as a failed lookup).
      const nameRefusal = hostNameRefusal(hostname);
      if (nameRefusal) {
        return callback(new PrivateAddressError(refusedMessage(hostname, hostname, nameRefusal)), '', 0);
      }
      if (error) return callback(error, '', 0);
      const first = addresses[0];
      if (options.all) return callback(null, addresses);
      if (!first) return callback(new PrivateAddressError(`${hostname} does not resolve`), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
