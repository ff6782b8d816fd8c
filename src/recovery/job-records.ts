/**
 * What the watchdog knows of a job beyond its cgroup: the owner and what the job asked for (its
 * requested CPUs and memory), read from the local executor's own record of the launch
 * (`<data>/jobs/jobs/<id>/spec.json`, src/batch/executors/local/state.ts) — on the node, with no
 * server round trip, so the victim policy can prefer the job over its own request even while the
 * server is unreachable. User names come from /etc/passwd.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readSpec } from '../batch/executors/local/state.ts';
import { parsePasswd, type JobInfo } from './sampler.ts';

/** A job whose record is missing (not written yet, or not a local job) is looked up again after this long, doubling up to a minute. */
const RETRY_MS = 5_000;
const MAX_RETRY_MS = 60_000;
const MAX_CACHED = 10_000;

export interface JobRecordOptions {
  /** The local executor's jobs directory (its stateDir + '/jobs'). */
  jobsDir: string;
  /** /etc/passwd text, read again when a uid is not in it (at most once a minute). */
  readPasswd?: () => string;
  now?: () => number;
}

/** A cached `jobInfo(jobId)` for the sampler: one file read per job, not per tick. */
export function localJobRecords(options: JobRecordOptions): (jobId: number) => JobInfo | undefined {
  const now = options.now ?? Date.now;
  const readPasswd = options.readPasswd ?? (() => fs.readFileSync('/etc/passwd', 'utf8'));
  const cache = new Map<number, { info: JobInfo | undefined; at: number; retryMs: number }>();
  let users: Map<number, string> | null = null;
  let usersAt = -Infinity;
  const userOf = (uid: number): string | null => {
    if ((!users || !users.has(uid)) && now() - usersAt >= 60_000) {
      usersAt = now();
      try {
        users = parsePasswd(readPasswd());
      } catch {
        users = new Map();
      }
    }
    return users?.get(uid) ?? null;
  };
  return (jobId) => {
    const hit = cache.get(jobId);
    if (hit && (hit.info || now() - hit.at < hit.retryMs)) return hit.info;
    const spec = readSpec(path.join(options.jobsDir, String(jobId)));
    const info: JobInfo | undefined = spec && spec.jobId === jobId ? { user: userOf(spec.uid), uid: spec.uid, requestedMemBytes: spec.memBytes, requestedCpus: spec.cpus } : undefined;
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(jobId, { info, at: now(), retryMs: hit ? Math.min(MAX_RETRY_MS, 2 * hit.retryMs) : RETRY_MS });
    return info;
  };
}
