/**
 * NUT's `ups.status`: space-separated flags such as `OL CHRG`, `OB DISCHRG`, `OB LB`, `FSD OB LB`
 * (docs: NUT developer guide, "Status data"). The parser keeps every flag it was given, known or
 * not, and answers the three questions the power monitor asks: on battery? low battery? forced
 * shutdown?
 */

export const STATUS_FLAGS = {
  OL: 'on line (mains power)',
  OB: 'on battery',
  LB: 'low battery',
  HB: 'high battery',
  RB: 'battery needs replacing',
  CHRG: 'battery charging',
  DISCHRG: 'battery discharging',
  BYPASS: 'on bypass',
  CAL: 'calibrating',
  OFF: 'output off',
  OVER: 'overloaded',
  TRIM: 'trimming voltage',
  BOOST: 'boosting voltage',
  FSD: 'forced shutdown',
  ALARM: 'alarm',
  TEST: 'self test',
} as const;
export type StatusFlag = keyof typeof STATUS_FLAGS;

export interface UpsStatus {
  /** The flags as the UPS gave them, upper case, in order, without repeats. */
  flags: string[];
  onLine: boolean;
  onBattery: boolean;
  lowBattery: boolean;
  forcedShutdown: boolean;
  replaceBattery: boolean;
  /** Flags this parser does not know (kept, shown, never acted on). */
  unknown: string[];
}

const isKnown = (flag: string): flag is StatusFlag => Object.hasOwn(STATUS_FLAGS, flag);

/** Pure: `"OB DISCHRG LB"` → the flags and what they mean. An empty value gives no flags (neither on line nor on battery). */
export function parseUpsStatus(value: string): UpsStatus {
  const flags: string[] = [];
  for (const word of value.trim().split(/\s+/)) {
    const flag = word.toUpperCase();
    if (flag !== '' && !flags.includes(flag)) flags.push(flag);
  }
  const has = (flag: StatusFlag) => flags.includes(flag);
  return {
    flags,
    onLine: has('OL'),
    onBattery: has('OB'),
    lowBattery: has('LB'),
    forcedShutdown: has('FSD'),
    replaceBattery: has('RB'),
    unknown: flags.filter((f) => !isKnown(f)),
  };
}

/** "OB LB" → "on battery, low battery". */
export function describeStatus(status: UpsStatus): string {
  if (status.flags.length === 0) return 'no status flags';
  return status.flags.map((f) => (isKnown(f) ? STATUS_FLAGS[f] : `${f} (unknown flag)`)).join(', ');
}
