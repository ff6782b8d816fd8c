import { readFileSync } from 'node:fs';
import type { Sample } from '../model.ts';

/**
 * /proc/net/dev: two header lines, then "iface: rxBytes rxPackets rxErrs rxDrop rxFifo rxFrame
 * rxCompressed rxMulticast txBytes txPackets txErrs …".
 */
export function parseNetDev(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const device = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (device === '' || f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.push(
      { name: 'node_network_receive_bytes_total', labels: { device }, value: f[0]! },
      { name: 'node_network_receive_errs_total', labels: { device }, value: f[2]! },
      { name: 'node_network_transmit_bytes_total', labels: { device }, value: f[8]! },
      { name: 'node_network_transmit_errs_total', labels: { device }, value: f[10]! },
    );
  }
  return out;
}

export function readNetDev(proc = '/proc'): Sample[] {
  return parseNetDev(readFileSync(`${proc}/net/dev`, 'utf8'));
}
