import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/**
 * Where a workgroup's users may log in from (issue 10): each workgroup may list networks in CIDR
 * notation, IPv4 or IPv6; an empty list means anywhere. Pure: the decision takes the user's
 * workgroups and the address, nothing else.
 */

const MAX_NETWORKS = 256;

/** 10.1.2.3 or ::ffff:10.1.2.3 (an IPv4 client on a dual-stack socket) → 10.1.2.3; IPv6 lower-case; null when not an address. */
export function normaliseAddress(text: string): string | null {
  const value = text.trim().toLowerCase().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(value);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  return isIP(value) !== 0 ? value : null;
}

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigInt(address: string): bigint {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipv4ToBigInt(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

function bigIntToIpv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((n >> shift) & 0xffn)).join('.');
}

function bigIntToIpv6(n: bigint): string {
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => ((n >> shift) & 0xffffn).toString(16));
  // The longest run of two or more zero groups becomes '::' (RFC 5952).
  let best = { at: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j += 1;
    if (j - i > best.length && j - i >= 2) best = { at: i, length: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.length).join(':')}`;
}

export interface Network {
  /** The network address as written back: 10.1.0.0, 2001:db8:: */
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * Parses `10.1.0.0/16` or `2001:db8::/32` (a bare address is a /32 or /128). Refuses host bits
 * under the prefix (10.1.2.3/16), naming the network meant, so a typo does not open more than intended.
 */
export function parseNetwork(text: string): { network: Network } | { error: string } {
  const value = text.trim().toLowerCase();
  const slash = value.indexOf('/');
  const addressText = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(addressText);
  if (family === 0) return { error: `'${text}' is not a network: write an IPv4 or IPv6 address and a prefix length, e.g. 10.1.0.0/16 or 2001:db8::/32` };
  const bits = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(bits) : value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return { error: `'${text}': the prefix length must be a whole number from 0 to ${bits}` };
  const prefix = Number(prefixText);
  const n = family === 4 ? ipv4ToBigInt(addressText) : ipv6ToBigInt(addressText);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const base = n & ~hostMask;
  const write = (x: bigint) => (family === 4 ? bigIntToIpv4(x) : bigIntToIpv6(x));
  if (base !== n) return { error: `'${text}' has bits set below its /${prefix} prefix: did you mean ${write(base)}/${prefix}?` };
  return { network: { address: write(base), prefix, family: family === 4 ? 'ipv4' : 'ipv6' } };
}

export const formatNetwork = (network: Network) => `${network.address}/${network.prefix}`;

/** One CIDR network, normalised (`2001:DB8:0::/32` → `2001:db8::/32`). */
export const loginNetwork = z.string({ error: 'a login network must be a string' }).transform((value, ctx) => {
  const parsed = parseNetwork(value);
  if ('error' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }
  return formatNetwork(parsed.network);
});

/** A workgroup's login networks: at most 256, each once; [] = anywhere. */
export const loginNetworks = z
  .array(loginNetwork)
  .max(MAX_NETWORKS, `at most ${MAX_NETWORKS} login networks`)
  .superRefine((values, ctx) => {
    const seen = new Set<string>();
    values.forEach((value, index) => {
      if (seen.has(value)) ctx.addIssue({ code: 'custom', path: [index], message: `login network ${value} is listed twice` });
      seen.add(value);
    });
  });

/** The stored JSON text → the list (only Keisan writes it; unreadable text reads as []). */
export function networksFromJson(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.map(String) : [];
  } catch {
    return [];
  }
}

export interface WorkgroupNetworks {
  workgroup: string;
  /** CIDR networks; [] = anywhere. */
  networks: readonly string[];
  /** Who to ask: the workgroup's admins. */
  admins: readonly string[];
}

export type NetworkDecision = { allowed: true; reason: string; network: string | null } | { allowed: false; reason: string };

/** Whether `address` falls in `network` (CIDR); a network that does not parse matches nothing. */
export function inNetwork(address: string, network: string): boolean {
  const parsed = parseNetwork(network);
  const normalised = normaliseAddress(address);
  if ('error' in parsed || normalised === null) return false;
  const list = new BlockList();
  list.addSubnet(parsed.network.address, parsed.network.prefix, parsed.network.family);
  return list.check(normalised, isIP(normalised) === 4 ? 'ipv4' : 'ipv6');
}

/** 127.0.0.0/8 and ::1: the machine itself. */
function isLoopback(address: string | null): boolean {
  return address !== null && (inNetwork(address, '127.0.0.0/8') || inNetwork(address, '::1/128'));
}

/**
 * May `user` log in from `address`? Only the user's workgroups that list networks restrict: the
 * address must be in at least one network of those workgroups (a workgroup with an empty list
 * does not widen another's restriction). No restricting workgroup: allowed from anywhere.
 * Operators may always log in from loopback (on the server's own host), so a list that leaves
 * them out can still be mended.
 */
export function loginNetworkDecision(user: string, address: string | null, workgroups: readonly WorkgroupNetworks[], options: { operator?: boolean } = {}): NetworkDecision {
  const restricting = workgroups.filter((w) => w.networks.length > 0);
  if (restricting.length === 0) return { allowed: true, reason: `${user}'s workgroups do not restrict where they log in from`, network: null };
  const normalised = address === null ? null : normaliseAddress(address);
  if (options.operator && isLoopback(normalised)) {
    return { allowed: true, reason: `${user} is an operator logging in from the server's own host (${normalised}): always allowed`, network: null };
  }
  for (const w of restricting) {
    const network = normalised === null ? undefined : w.networks.find((n) => inNetwork(normalised, n));
    if (network !== undefined) return { allowed: true, reason: `${normalised} is in workgroup ${w.workgroup}'s login network ${network}`, network };
  }
  const where = restricting.map((w) => `workgroup ${w.workgroup}: ${w.networks.join(', ')}`).join('; ');
  const admins = [...new Set(restricting.flatMap((w) => w.admins))].sort();
  const ask = admins.length > 0 ? `ask ${admins.join(', ')} (workgroup admin${admins.length > 1 ? 's' : ''}) or an operator` : 'ask an operator';
  const from = normalised ?? (address === null ? 'an unknown address' : `'${address}' (not an IP address)`);
  return {
    allowed: false,
    reason: `${user} may not log in from ${from}: it is not in any network ${user}'s workgroups allow (${where}); log in from one of those networks, or ${ask} to add yours`,
  };
}
