import { open, stat } from 'node:fs/promises';
import { z } from 'zod';
import { defineCheck, errorText, humanMs, unknown, worst, type CheckContext } from '../check-type.ts';
import { durationParam, regexParam } from './common.ts';

const params = z
  .object({
    /** The storage tier's log file (an HSM, a tape library, a RAID controller's log). */
    path: z.string().startsWith('/', 'an absolute path'),
    /** A line matching one of these is critical… */
    critical: z.array(regexParam).default(['\\b(CRITICAL|CRIT|FATAL|EMERG|ALERT)\\b', '\\bseverity[=: ]+critical\\b']),
    /** …one matching these (and none of the critical ones) is major: reported as a warning. */
    major: z.array(regexParam).default(['\\b(MAJOR|ERROR|ERR)\\b', '\\bseverity[=: ]+major\\b']),
    /** Lines matching these are left alone even when they match above. */
    ignore: z.array(regexParam).default([]),
    /** A new line keeps the check at its status this long. */
    holdFor: durationParam('1h'),
    /** Read at most this much new log per run. */
    maxBytesPerRun: z.number().int().min(1024).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
  })
  .strict();

interface LogState {
  inode: number;
  offset: number;
  partial: string;
  hits: { at: number; severity: 'critical' | 'major'; line: string }[];
}

export default defineCheck({
  type: 'storage-log',
  description: 'new lines of severity critical or major in a storage tier\'s log file',
  params,
  target: (p) => p.path,
  async run(p, context: CheckContext) {
    const critical = p.critical.map((r) => new RegExp(r, 'i'));
    const major = p.major.map((r) => new RegExp(r, 'i'));
    const ignore = p.ignore.map((r) => new RegExp(r));
    let info;
    try {
      info = await stat(p.path);
    } catch (error) {
      return unknown(`cannot read the storage log ${p.path} on ${context.host}: ${errorText(error)}`);
    }
    let state = context.state.get('log') as LogState | undefined;
    const first = !state;
    if (!state) {
      // The first run starts at the end: only lines written from now on count.
      state = { inode: info.ino, offset: info.size, partial: '', hits: [] };
      context.state.set('log', state);
    }
    if (state.inode !== info.ino || info.size < state.offset) {
      // Rotated or truncated: read the new file from its start.
      state.inode = info.ino;
      state.offset = 0;
      state.partial = '';
    }
    const now = context.now();
    if (!first && info.size > state.offset) {
      try {
        const handle = await open(p.path, 'r');
        try {
          const length = Math.min(info.size - state.offset, p.maxBytesPerRun);
          const buffer = Buffer.alloc(length);
          const { bytesRead } = await handle.read(buffer, 0, length, state.offset);
          state.offset += bytesRead;
          const text = state.partial + buffer.toString('utf8', 0, bytesRead);
          const lines = text.split('\n');
          state.partial = lines.pop() ?? '';
          for (const line of lines) {
            if (ignore.some((r) => r.test(line))) continue;
            const severity = critical.some((r) => r.test(line)) ? 'critical' : major.some((r) => r.test(line)) ? 'major' : null;
            if (severity) state.hits.push({ at: now, severity, line: line.slice(0, 300) });
          }
        } finally {
          await handle.close();
        }
      } catch (error) {
        return unknown(`cannot read the storage log ${p.path} on ${context.host}: ${errorText(error)}`);
      }
    }
    state.hits = state.hits.filter((h) => h.at > now - p.holdFor).slice(-200);
    const details = { recent: state.hits.slice(-10).map((h) => `${h.severity}: ${h.line}`), offset: state.offset };
    if (state.hits.length === 0) return { status: 'ok', summary: `no critical or major lines in ${p.path} on ${context.host}`, value: 0, details };
    const criticals = state.hits.filter((h) => h.severity === 'critical').length;
    const latest = state.hits.findLast((h) => h.severity === 'critical') ?? state.hits.at(-1)!;
    return {
      status: worst(state.hits.map((h) => (h.severity === 'critical' ? 'critical' : 'warning'))),
      summary: `${p.path} on ${context.host}: ${criticals} critical and ${state.hits.length - criticals} major lines within ${humanMs(p.holdFor)}, latest: ${latest.line}`,
      value: state.hits.length,
      details,
    };
  },
});
