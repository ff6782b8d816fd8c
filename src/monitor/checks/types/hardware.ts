import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { defineCheck, errorText, humanMs, unknown, worst, type CheckContext, type CheckOutcome } from '../check-type.ts';
import { durationParam, regexParam } from './common.ts';

const DEFAULT_PATTERNS = [
  { pattern: '[Mm]achine [Cc]heck|mce: \\[Hardware Error\\]|Hardware Error', status: 'critical' as const },
  { pattern: 'EDAC.*(UE |[Uu]ncorrect)', status: 'critical' as const },
  { pattern: 'EDAC', status: 'warning' as const },
  { pattern: 'I/O error', status: 'critical' as const },
  { pattern: 'NVRM: Xid', status: 'critical' as const },
];

const params = z
  .object({
    /** Where sysfs is: EDAC counters are read from <sysfsRoot>/devices/system/edac/mc/mc*. */
    sysfsRoot: z.string().default('/sys'),
    /** Kernel log: /dev/kmsg (sequence numbers: only records since the last run), journalctl -k, or none. */
    kernelLog: z.enum(['auto', 'kmsg', 'journalctl', 'off']).default('auto'),
    /** The kmsg device, or a file in its format ("pri,seq,usec,flags;message") for tests. */
    kmsgPath: z.string().default('/dev/kmsg'),
    patterns: z.array(z.object({ pattern: regexParam, status: z.enum(['warning', 'critical']).default('critical') }).strict()).default(DEFAULT_PATTERNS),
    /** Rising corrected-error (ce_count) counters are reported with this status. */
    correctedStatus: z.enum(['ok', 'warning', 'critical']).default('warning'),
    /** A new error keeps the check at its status this long (alerts then fire and stay, not flap once per run). */
    holdFor: durationParam('1h'),
  })
  .strict();
type Params = z.output<typeof params>;

export interface KmsgRecord {
  seq: number;
  message: string;
}

/** Records of /dev/kmsg: "6,1234,5678901,-;message" (continuation lines " KEY=value" skipped). */
export function parseKmsg(text: string): KmsgRecord[] {
  const records: KmsgRecord[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/.exec(line);
    if (match) records.push({ seq: Number(match[2]), message: match[4]! });
  }
  return records;
}

/**
 * Reads the kernel log records not read before. /dev/kmsg is kept open between runs (each open
 * starts at the oldest record, so reopening would re-read and re-parse the whole ring buffer every
 * time); non-blocking reads stop at EAGAIN. A plain file (tests) is read whole each time.
 */
function readKmsg(file: string, state: HardwareState): string {
  let fd = state.kmsgFd;
  if (fd === undefined || state.kmsgFile !== file) {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    if (fstatSync(fd).isCharacterDevice()) {
      state.kmsgFd = fd;
      state.kmsgFile = file;
    }
  }
  const keep = state.kmsgFd === fd;
  try {
    const chunks: string[] = [];
    const buffer = Buffer.alloc(16_384);
    for (let i = 0; i < 100_000; i++) {
      let bytes: number;
      try {
        bytes = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break;
        if (code === 'EPIPE') continue; // records overwritten while reading: go on with the next one
        throw error;
      }
      if (bytes === 0) break;
      chunks.push(buffer.toString('utf8', 0, bytes));
      if (!chunks[chunks.length - 1]!.endsWith('\n')) chunks.push('\n');
    }
    return chunks.join('');
  } catch (error) {
    if (keep) state.kmsgFd = undefined;
    closeSync(fd);
    throw error;
  } finally {
    if (!keep) closeSync(fd);
  }
}

interface Hit {
  at: number;
  status: 'warning' | 'critical';
  line: string;
}

interface HardwareState {
  kmsgSeq?: number;
  /** /dev/kmsg, open between runs (see readKmsg). */
  kmsgFd?: number | undefined;
  kmsgFile?: string;
  journalCursor?: string;
  /** Set after the first successful read of the kernel log (seconds since the epoch, for journalctl --since). */
  logReadAt?: number;
  edac?: Record<string, { ce: number; ue: number }>;
  edacHits: Hit[];
  logHits: Hit[];
}

function stateOf(context: CheckContext): HardwareState {
  let state = context.state.get('hardware') as HardwareState | undefined;
  if (!state) {
    state = { edacHits: [], logHits: [] };
    context.state.set('hardware', state);
  }
  return state;
}

async function edacCounters(sysfsRoot: string): Promise<Record<string, { ce: number; ue: number }> | null> {
  const dir = path.join(sysfsRoot, 'devices/system/edac/mc');
  let entries: string[];
  try {
    entries = (await readdir(dir)).filter((name) => /^mc\d+$/.test(name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const counters: Record<string, { ce: number; ue: number }> = {};
  for (const mc of entries.sort()) {
    const read = async (name: string) => Number((await readFile(path.join(dir, mc, name), 'utf8')).trim());
    counters[mc] = { ce: await read('ce_count'), ue: await read('ue_count') };
  }
  return counters;
}

async function checkEdac(p: Params, context: CheckContext, state: HardwareState): Promise<CheckOutcome> {
  let counters;
  try {
    counters = await edacCounters(p.sysfsRoot);
  } catch (error) {
    return { ...unknown(`cannot read the EDAC counters on ${context.host}: ${errorText(error)}`), target: 'edac' };
  }
  if (counters === null) return { target: 'edac', status: 'ok', summary: `no EDAC memory controllers on ${context.host} (no ECC error reporting here)`, value: 0 };
  const previous = state.edac;
  state.edac = counters;
  const now = context.now();
  const rising: string[] = [];
  for (const [mc, count] of Object.entries(counters)) {
    const before = previous?.[mc];
    if (!before) continue;
    if (count.ue > before.ue) {
      rising.push(`${mc}: ${count.ue - before.ue} new uncorrected memory errors (ue_count ${count.ue})`);
      state.edacHits.push({ at: now, status: 'critical', line: `EDAC ${mc} ue_count ${before.ue} → ${count.ue}` });
    }
    if (count.ce > before.ce && p.correctedStatus !== 'ok') {
      rising.push(`${mc}: ${count.ce - before.ce} new corrected memory errors (ce_count ${count.ce})`);
      state.edacHits.push({ at: now, status: p.correctedStatus, line: `EDAC ${mc} ce_count ${before.ce} → ${count.ce}` });
    }
  }
  state.edacHits = state.edacHits.filter((h) => h.at > now - p.holdFor).slice(-200);
  const edacHits = state.edacHits;
  const ue = Object.values(counters).reduce((sum, c) => sum + c.ue, 0);
  const ce = Object.values(counters).reduce((sum, c) => sum + c.ce, 0);
  const details = { counters, recent: edacHits.map((h) => h.line) };
  if (edacHits.length > 0) {
    const status = worst(edacHits.map((h) => h.status));
    const text = rising.length > 0 ? rising.join('; ') : `${edacHits.length} rise(s) of the EDAC counters within the last ${humanMs(p.holdFor)}: ${edacHits.at(-1)!.line}`;
    return { target: 'edac', status, summary: `memory errors on ${context.host}: ${text}`, value: ue, details };
  }
  return { target: 'edac', status: 'ok', summary: `EDAC counters of ${context.host} are steady (${Object.keys(counters).length} controllers, ${ce} corrected, ${ue} uncorrected since boot)`, value: ue, details };
}

async function newKernelLines(p: Params, context: CheckContext, state: HardwareState): Promise<{ lines: string[]; first: boolean; source: string } | { failure: string }> {
  const first = state.logReadAt === undefined;
  const readAt = Math.floor(context.now() / 1000);
  const tryKmsg = p.kernelLog === 'kmsg' || (p.kernelLog === 'auto' && state.journalCursor === undefined);
  if (tryKmsg) {
    try {
      const records = parseKmsg(readKmsg(p.kmsgPath, state));
      // The first read of kmsg (also after falling back to the journal before) is the log since boot: a baseline.
      const baseline = state.kmsgSeq === undefined;
      const last = state.kmsgSeq ?? -1;
      const fresh = records.filter((r) => r.seq > last);
      if (records.length > 0) state.kmsgSeq = Math.max(last, records.at(-1)!.seq);
      else state.kmsgSeq ??= -1;
      state.logReadAt = readAt;
      return { lines: fresh.map((r) => r.message), first: first || baseline, source: p.kmsgPath };
    } catch (error) {
      if (p.kernelLog === 'kmsg') return { failure: `cannot read ${p.kmsgPath}: ${errorText(error)}` };
    }
  }
  const args = ['-k', '--no-pager', '-q', '-o', 'cat', '--show-cursor'];
  if (state.journalCursor) args.push(`--after-cursor=${state.journalCursor}`);
  else if (state.logReadAt !== undefined) args.push(`--since=@${state.logReadAt}`);
  else args.push('-b');
  const result = await context.exec('journalctl', args, { timeoutMs: 20_000, signal: context.signal, maxBytes: 8 * 1024 * 1024 });
  if (result.failure || result.code !== 0) return { failure: `cannot read the kernel log (${p.kmsgPath} unreadable, journalctl: ${result.failure ?? result.stderr.trim().split('\n')[0]})` };
  const lines = result.stdout.split('\n');
  const cursorLine = lines.findLast((line) => line.startsWith('-- cursor: '));
  if (cursorLine) state.journalCursor = cursorLine.slice('-- cursor: '.length).trim();
  state.logReadAt = readAt;
  return { lines: lines.filter((line) => line && !line.startsWith('-- ')), first, source: 'journalctl -k' };
}

async function checkKernelLog(p: Params, context: CheckContext, state: HardwareState): Promise<CheckOutcome | null> {
  if (p.kernelLog === 'off') return null;
  const read = await newKernelLines(p, context, state);
  if ('failure' in read) return { ...unknown(`${read.failure} on ${context.host}`), target: 'kernel-log' };
  const patterns = p.patterns.map((entry) => ({ regex: new RegExp(entry.pattern), status: entry.status }));
  const now = context.now();
  let earlier = 0;
  for (const line of read.lines) {
    const match = patterns.find((entry) => entry.regex.test(line));
    if (!match) continue;
    // The first read is the log since boot: counted, not alerted (an agent restart must not re-raise old errors).
    if (read.first) earlier++;
    else state.logHits.push({ at: now, status: match.status, line: line.slice(0, 300) });
  }
  state.logHits = state.logHits.filter((h) => h.at > now - p.holdFor).slice(-200);
  const logHits = state.logHits;
  const details = { source: read.source, recent: logHits.slice(-10).map((h) => h.line), ...(read.first ? { matchingSinceBoot: earlier } : {}) };
  if (logHits.length > 0) {
    const last = logHits.at(-1)!;
    return {
      target: 'kernel-log',
      status: worst(logHits.map((h) => h.status)),
      summary: `hardware errors in the kernel log of ${context.host}: ${logHits.length} within ${humanMs(p.holdFor)}, latest: ${last.line}`,
      value: logHits.length,
      details,
    };
  }
  const note = read.first && earlier > 0 ? ` (${earlier} matching lines from before the agent started, not alerted)` : '';
  return { target: 'kernel-log', status: 'ok', summary: `no new hardware errors in the kernel log of ${context.host}${note}`, value: 0, details };
}

export default defineCheck({
  type: 'hardware',
  description: 'hardware errors: EDAC memory counters rising, kernel log lines (machine check, Hardware Error, EDAC, I/O error, GPU Xid)',
  params,
  target: () => 'hardware',
  defaultInterval: 30_000,
  async run(p, context) {
    const state = stateOf(context);
    const edac = await checkEdac(p, context, state);
    const log = await checkKernelLog(p, context, state);
    return log ? [edac, log] : [edac];
  },
});
