import { z } from 'zod';
import { defineCheck, humanMs, unknown, type CheckContext, type CheckOutcome } from '../check-type.ts';
import { inNetns, type CommandRunner } from '../exec.ts';
import { macWithVendor, ouiTable } from '../oui.ts';
import { durationParam } from './common.ts';

const params = z
  .object({
    /** Interfaces whose IPv4 addresses are probed (default: every interface that is up, not loopback, ARP on). */
    interfaces: z.array(z.string().regex(/^[A-Za-z0-9_.@:-]{1,15}$/, 'an interface name')).default([]),
    /** Addresses not to probe (a VRRP or keepalived address another node answers for by design). */
    exclude: z.array(z.ipv4()).default([]),
    /** Probe own addresses with ARP duplicate-address detection (arping -D, iputils-arping). */
    probe: z.boolean().default(true),
    /** arping's count and deadline: -c COUNT -w SECONDS. */
    count: z.number().int().min(1).max(10).default(2),
    wait: z.number().int().min(1).max(30).default(3),
    /** Watch the neighbour table for an address whose MAC changes (two devices answering by turns). */
    watchNeighbours: z.boolean().default(true),
    /** A MAC change keeps the neighbour result at warning this long. */
    holdFor: durationParam('30m'),
    /** Run every command in this network namespace (`ip netns exec NAME …`): tests, or an agent watching a namespace. */
    netns: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a network namespace name').optional(),
    /**
     * The inventory's expected MACs per address (the server fills it from keisan.yaml/keisan ops
     * hosts, src/ops/inventory/): a MAC answering for one of these addresses that is not expected
     * is named as such, and replies from the host's own expected MACs (ARP flux of a multi-homed
     * host) are not conflicts.
     */
    expected: z
      .array(
        z
          .object({
            address: z.ipv4(),
            host: z.string().min(1).max(253),
            macs: z.array(z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'a MAC address, lower-case with colons')).min(1).max(64),
          })
          .strict(),
      )
      .max(100_000)
      .default([]),
  })
  .strict();

type Expected = z.output<typeof params>['expected'][number];
const expectedFor = (p: z.output<typeof params>, address: string): Expected | undefined => p.expected.find((e) => e.address === address);

export interface OwnAddress {
  iface: string;
  address: string;
  mac: string;
}

interface IpAddrJson {
  ifname: string;
  flags?: string[];
  address?: string;
  link_type?: string;
  addr_info?: { family: string; local: string; scope?: string }[];
}

/** `ip -j addr show`: IPv4 addresses of interfaces that are up and use ARP. */
export function parseOwnAddresses(json: string, interfaces: readonly string[]): OwnAddress[] {
  const links = JSON.parse(json) as IpAddrJson[];
  return links
    .filter((link) => (interfaces.length > 0 ? interfaces.includes(link.ifname) : link.link_type !== 'loopback' && !(link.flags ?? []).includes('LOOPBACK')))
    .filter((link) => (link.flags ?? []).includes('UP') && !(link.flags ?? []).includes('NOARP'))
    .flatMap((link) =>
      (link.addr_info ?? [])
        .filter((info) => info.family === 'inet' && info.scope !== 'host')
        .map((info) => ({ iface: link.ifname, address: info.local, mac: (link.address ?? '').toLowerCase() })),
    );
}

/** arping -D: "Unicast reply from 10.0.0.5 [02:42:AC:11:00:03]  0.567ms" — every other host's MAC. */
export function parseArpingReplies(output: string): string[] {
  const macs = [...output.matchAll(/reply from [\d.]+ \[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]!.toLowerCase());
  return [...new Set(macs)];
}

export interface Neighbour {
  address: string;
  iface: string;
  mac: string;
}

/** `ip -j neigh show` (IPv4 entries with a link-layer address). */
export function parseNeighbours(json: string): Neighbour[] {
  const entries = JSON.parse(json) as { dst: string; dev: string; lladdr?: string }[];
  return entries.filter((e) => e.lladdr && /^\d+\.\d+\.\d+\.\d+$/.test(e.dst)).map((e) => ({ address: e.dst, iface: e.dev, mac: e.lladdr!.toLowerCase() }));
}

/** /proc/net/arp: "IP address  HW type  Flags  HW address  Mask  Device". */
export function parseProcArp(text: string): Neighbour[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 6 && f[3] !== '00:00:00:00:00:00')
    .map((f) => ({ address: f[0]!, iface: f[5]!, mac: f[3]!.toLowerCase() }));
}

interface NeighbourState {
  /** address@iface → the MAC seen last and when it changed. */
  last: Map<string, string>;
  flips: { at: number; address: string; iface: string; from: string; to: string }[];
}

async function probeAddress(exec: CommandRunner, own: OwnAddress, p: z.output<typeof params>, context: CheckContext): Promise<CheckOutcome> {
  const started = performance.now();
  const result = await exec('arping', ['-D', '-c', String(p.count), '-w', String(p.wait), '-I', own.iface, own.address], { timeoutMs: (p.wait + 5) * 1000, signal: context.signal });
  const ms = Math.round(performance.now() - started);
  const target = `${own.iface}/${own.address}`;
  if (result.failure) return { ...unknown(`cannot probe ${own.address} on ${own.iface} of ${context.host} for duplicates: ${result.failure}`), target };
  const expected = expectedFor(p, own.address);
  const replies = parseArpingReplies(result.stdout).filter((mac) => mac !== own.mac);
  // Our own other interfaces answering (ARP flux) are not a conflict when the inventory says they are this host's.
  const others = expected ? replies.filter((mac) => !expected.macs.includes(mac)) : replies;
  const inventory = expected ? { inventoryHost: expected.host, expectedMacs: expected.macs, ourMacExpected: expected.macs.includes(own.mac) } : {};
  if (others.length > 0) {
    const named = others.map((mac) => `${macWithVendor(mac)}${expected ? `, not ${expected.host}'s expected MAC` : ''}`).join(' and ');
    return {
      target,
      status: 'critical',
      summary: `${own.address} on ${own.iface} of ${context.host} is also answered by ${named}, ours is ${macWithVendor(own.mac)}`,
      value: others.length,
      details: { address: own.address, iface: own.iface, ourMac: own.mac, ourVendor: ouiTable.vendorOf(own.mac), otherMacs: others.map((mac) => ({ mac, vendor: ouiTable.vendorOf(mac) })), ...inventory, probeMs: ms },
    };
  }
  if (result.code !== 0 && result.code !== 1) {
    const reason = (result.stderr || result.stdout).trim().split('\n')[0] ?? `exit ${result.code}`;
    return { ...unknown(`cannot probe ${own.address} on ${own.iface} of ${context.host}: arping: ${reason}`), target };
  }
  const note = replies.length > 0 ? ` (only ${expected!.host}'s own expected MAC${replies.length > 1 ? 's' : ''} ${replies.join(', ')} answered too)` : ' (no other device answered ARP duplicate-address detection)';
  return { target, status: 'ok', summary: `${own.address} on ${own.iface} of ${context.host} is ours alone${note}`, value: 0, details: { ourMac: own.mac, ...inventory, probeMs: ms } };
}

async function watchNeighbours(exec: CommandRunner, p: z.output<typeof params>, context: CheckContext): Promise<CheckOutcome> {
  const result = await exec('ip', ['-j', '-4', 'neigh', 'show'], { timeoutMs: 5_000, signal: context.signal });
  let neighbours: Neighbour[];
  let source = 'ip neigh';
  if (!result.failure && result.code === 0) neighbours = parseNeighbours(result.stdout || '[]');
  else {
    const arp = await exec('cat', ['/proc/net/arp'], { timeoutMs: 5_000, signal: context.signal });
    if (arp.failure || arp.code !== 0) return { ...unknown(`cannot read the neighbour table of ${context.host}: ${result.failure ?? result.stderr.trim()}`), target: 'neighbours' };
    neighbours = parseProcArp(arp.stdout);
    source = '/proc/net/arp';
  }
  let state = context.state.get('neighbours') as NeighbourState | undefined;
  if (!state) {
    state = { last: new Map(), flips: [] };
    context.state.set('neighbours', state);
  }
  const now = context.now();
  // One address with two MACs at once (on two interfaces), or a MAC that changed since the last run.
  const byAddress = new Map<string, Neighbour[]>();
  for (const n of neighbours) byAddress.set(n.address, [...(byAddress.get(n.address) ?? []), n]);
  for (const [address, entries] of byAddress) {
    const macs = [...new Set(entries.map((e) => e.mac))];
    if (macs.length > 1) state.flips.push({ at: now, address, iface: entries.map((e) => e.iface).join('+'), from: macs[0]!, to: macs[1]! });
  }
  for (const n of neighbours) {
    const key = `${n.address}@${n.iface}`;
    const before = state.last.get(key);
    if (before && before !== n.mac) state.flips.push({ at: now, address: n.address, iface: n.iface, from: before, to: n.mac });
    state.last.set(key, n.mac);
  }
  if (state.last.size > 10_000) state.last.clear();
  state.flips = state.flips.filter((f) => f.at > now - p.holdFor).slice(-100);
  // An inventory address answered by a MAC the inventory does not expect for its host.
  const unexpected = neighbours.flatMap((n) => {
    const expected = expectedFor(p, n.address);
    return expected && !expected.macs.includes(n.mac) ? [{ ...n, host: expected.host, expectedMacs: expected.macs }] : [];
  });
  const details = { source, neighbours: neighbours.length, changes: state.flips.map((f) => ({ ...f, at: new Date(f.at).toISOString() })), ...(unexpected.length > 0 ? { unexpected } : {}) };
  if (unexpected.length > 0) {
    const u = unexpected[0]!;
    return {
      target: 'neighbours',
      status: 'critical',
      summary:
        `${u.address} (${u.host} in the inventory) on ${u.iface} seen from ${context.host} is answered by ${macWithVendor(u.mac)}, not ${u.host}'s expected MAC ${u.expectedMacs.join(' or ')}: ` +
        `another device may be using its address${unexpected.length > 1 ? ` (${unexpected.length} such addresses)` : ''}`,
      value: unexpected.length,
      details,
    };
  }
  if (state.flips.length > 0) {
    const f = state.flips.at(-1)!;
    return {
      target: 'neighbours',
      status: 'warning',
      summary: `${f.address} on ${f.iface} seen from ${context.host} changed its MAC from ${macWithVendor(f.from)} to ${macWithVendor(f.to)}: two devices may be answering for it (${state.flips.length} change${state.flips.length > 1 ? 's' : ''} within ${humanMs(p.holdFor)})`,
      value: state.flips.length,
      details,
    };
  }
  return { target: 'neighbours', status: 'ok', summary: `no address changed its MAC in the neighbour table of ${context.host} (${neighbours.length} neighbours)`, value: 0, details };
}

export default defineCheck({
  type: 'duplicate-ip',
  description: 'another device answers for one of our IPv4 addresses (ARP duplicate-address detection), or a neighbour\'s MAC flip-flops',
  params,
  target: () => 'ipv4',
  defaultInterval: 30_000,
  async run(p, context) {
    const exec = inNetns(context.exec, p.netns);
    const outcomes: CheckOutcome[] = [];
    if (p.probe) {
      const addr = await exec('ip', ['-j', 'addr', 'show'], { timeoutMs: 5_000, signal: context.signal });
      if (addr.failure || addr.code !== 0) outcomes.push({ ...unknown(`cannot list the addresses of ${context.host}: ${addr.failure ?? addr.stderr.trim()}`), target: 'addresses' });
      else {
        const own = parseOwnAddresses(addr.stdout, p.interfaces).filter((a) => !p.exclude.includes(a.address));
        outcomes.push(...(await Promise.all(own.map((a) => probeAddress(exec, a, p, context)))));
      }
    }
    if (p.watchNeighbours) outcomes.push(await watchNeighbours(exec, p, context));
    if (outcomes.length === 0) return { target: 'ipv4', status: 'ok', summary: `no IPv4 addresses to probe on ${context.host}`, value: 0 };
    return outcomes;
  },
});
