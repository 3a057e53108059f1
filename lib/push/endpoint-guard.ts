import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where a push may not go: a subscription's endpoint is chosen by a client, so without this rule a
 * user could make the server POST to its own loopback, the cloud's metadata service or the private
 * network (SSRF). The rule is applied when a subscription is made and again on every connection
 * (`guardedLookup`), so a name that resolves elsewhere later (DNS rebinding) is caught.
 */
const FORBIDDEN = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12], // private
  ['192.168.0.0', 16], // private
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv6');
}

/** Whether an IP address is one a push may not reach (IPv4-mapped IPv6 judged as its IPv4). */
export function isForbiddenAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return FORBIDDEN.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return FORBIDDEN.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

export class EndpointRefused extends Error {
  override name = 'EndpointRefused';
}

/** Checks an endpoint URL now: https (unless private endpoints are allowed) and a public address. */
export async function checkEndpoint(url: string, allowPrivate: boolean): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EndpointRefused('The endpoint is not a URL.');
  }
  const httpAllowed = allowPrivate && parsed.protocol === 'http:';
  if (parsed.protocol !== 'https:' && !httpAllowed) throw new EndpointRefused('The endpoint must be https.');
  if (parsed.username || parsed.password)
    throw new EndpointRefused('The endpoint may not carry credentials.');
  if (allowPrivate) return;
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : await resolveAll(host);
  if (addresses.length === 0) throw new EndpointRefused(`${host} does not resolve.`);
  const bad = addresses.find(isForbiddenAddress);
  if (bad)
    throw new EndpointRefused(`${host} resolves to ${bad}, a loopback, private or link-local address.`);
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve) => {
    dnsLookup(host, { all: true }, (err, found: LookupAddress[]) => {
      resolve(err ? [] : found.map((a) => a.address));
    });
  });
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for outgoing push connections that refuses forbidden addresses: the address checked
 * is the address connected to, so no later DNS answer can redirect a push inward.
 */
export function guardedLookup(hostname: string, options: object, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, found: LookupAddress[]) => {
    if (err) return callback(err, []);
    const bad = found.find((a) => isForbiddenAddress(a.address));
    if (bad) {
      const refused: NodeJS.ErrnoException = new EndpointRefused(`${hostname} resolves to ${bad.address}`);
      refused.code = 'EPUSHFORBIDDEN';
      return callback(refused, []);
    }
    if ((options as { all?: boolean }).all) return callback(null, found);
    const first = found[0]!;
    return callback(null, first.address, first.family);
  });
}
