import { formatDuration, formatSize } from '../lib/units.ts';
import type { Job } from './store.ts';

/**
 * What a job's owner is told when it began or ended: one line for the in-app notification, and
 * the full numbers for the e-mail. Pure.
 */
export interface JobReport {
  /** exit code, wall and CPU time, peak memory, the limit that was hit: one line. */
  summary: string;
  text: string;
}

type ReportedJob = Pick<
  Job,
  'id' | 'name' | 'user' | 'queue' | 'state' | 'exitCode' | 'exitSignal' | 'reason' | 'node' | 'gpuIndices' | 'cpus' | 'memBytes' | 'timeLimitMs'
  | 'submittedAt' | 'startedAt' | 'endedAt' | 'cpuSeconds' | 'maxRssBytes' | 'output' | 'error' | 'submitDir'
>;

const ENDED = new Set(['completed', 'failed', 'cancelled', 'timeout', 'out-of-memory', 'node-fail', 'preempted', 'killed-by-recovery']);

function wallMs(job: ReportedJob): number | null {
  if (!job.startedAt || !job.endedAt) return null;
  return Math.max(0, Date.parse(job.endedAt) - Date.parse(job.startedAt));
}

function cpuTime(seconds: number | null): string | null {
  if (seconds === null) return null;
  return seconds < 60 ? `${seconds.toFixed(seconds < 10 ? 2 : 1)} s` : formatDuration(seconds * 1000);
}

export function jobReport(job: ReportedJob, headline: string): JobReport {
  const ended = ENDED.has(job.state);
  const wall = wallMs(job);
  const exit = job.exitSignal ? `killed by ${job.exitSignal}` : job.exitCode === null ? null : String(job.exitCode);
  const peak = job.maxRssBytes === null ? null : formatSize(job.maxRssBytes);
  // "exit code 3" says nothing the numbers don't.
  const reason = job.reason && !/^exit code \d+$/.test(job.reason) ? job.reason : null;

  const summary: string[] = [];
  if (ended) {
    if (exit !== null) summary.push(job.exitSignal ? exit : `exit code ${exit}`);
    if (wall !== null) summary.push(`wall ${formatDuration(wall)}`);
    if (job.cpuSeconds !== null) summary.push(`cpu ${cpuTime(job.cpuSeconds)}`);
    if (job.state === 'out-of-memory') summary.push(`memory peak ${peak ?? 'unknown'} of its ${formatSize(job.memBytes)} limit`);
    else if (peak !== null) summary.push(`max RSS ${peak}`);
    if (job.state === 'timeout') summary.push(`time limit ${formatDuration(job.timeLimitMs)}`);
    if (reason) summary.push(reason);
  } else {
    summary.push(`on ${job.node ?? '?'}${job.gpuIndices.length ? ` with GPU ${job.gpuIndices.join(',')}` : ''}`);
  }

  const rows: [string, string | number | null][] = [
    ['job id', job.id],
    ['name', job.name],
    ['user', job.user],
    ['queue', job.queue],
    ['state', job.state],
  ];
  if (ended) rows.push(['exit code', exit ?? '-']);
  rows.push(['node', job.node], ['GPUs', job.gpuIndices.length ? job.gpuIndices.join(',') : null], ['CPUs', job.cpus]);
  rows.push(['submitted', job.submittedAt], ['started', job.startedAt]);
  if (ended) {
    rows.push(
      ['ended', job.endedAt],
      ['wall time', wall === null ? '-' : formatDuration(wall)],
      ['cpu time', cpuTime(job.cpuSeconds) ?? 'not measured'],
      ['max RSS', peak ?? 'not measured'],
    );
  }
  rows.push(['memory limit', formatSize(job.memBytes)]);
  if (job.state === 'out-of-memory') rows.push(['memory peak', peak ?? 'unknown']);
  rows.push(['time limit', formatDuration(job.timeLimitMs)]);
  if (ended && reason) rows.push(['reason', reason]);
  rows.push(['output', job.output], ['error', job.error === job.output ? `${job.error} (with the output)` : job.error], ['submitted from', job.submitDir]);

  const width = Math.max(...rows.map(([key]) => key.length));
  const lines = rows.filter(([, value]) => value !== null && value !== '').map(([key, value]) => `  ${key.padEnd(width)}  ${value}`);
  const text = [
    `${headline}.`,
    '',
    ...lines,
    '',
    `Details: keisan job ${job.id}; output: keisan out ${job.id}; your notices: keisan notifications.`,
  ].join('\n');
  return { summary: summary.join(' · '), text };
}
