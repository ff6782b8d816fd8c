/**
 * `keisan why JOB`: a pending job's explanation in plain words. Pure: the clock comes in as
 * `nowMs`, and nothing is looked up — everything said comes from the scheduler's
 * PendingExplanation, the job and its queue.
 *
 * The answer has up to four lines: what blocks the job (the first blocking cause), its place
 * in line, the fair-share numbers behind its priority, and roughly when it may start.
 */
import { formatDuration, formatSize } from '../lib/units.ts';
import type { Dependency, JobState, PendingExplanation, Queue, ResourceRequest, SchedJob } from './model.ts';

/** Languages `explainPending` speaks; others fall back to English. */
export type ExplainLanguage = 'en';

const MINUTE = 60_000;

/** "2h10m" for a span, rounded to whole minutes above ten minutes and to seconds below. */
function span(ms: number): string {
  const rounded = Math.abs(ms) >= 10 * MINUTE ? Math.round(ms / MINUTE) * MINUTE : Math.round(ms / 1000) * 1000;
  return formatDuration(rounded);
}

/** A time as UTC without seconds' fractions: "2026-03-02 14:30 UTC". */
function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function percent(fraction: number): string {
  const p = fraction * 100;
  return `${p >= 10 || p === 0 ? Math.round(p) : p.toFixed(1)} %`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function listAnd(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function describeRequest(r: ResourceRequest): string {
  const parts = [plural(r.cpus, 'CPU'), `${formatSize(r.memBytes)} of memory`];
  if (r.gpus > 0) parts.push(`${plural(r.gpus, r.gpuType === null ? 'GPU' : `${r.gpuType} GPU`)}`);
  return listAnd(parts);
}

const DEPENDENCY_WORDS: Record<Dependency['type'], string> = {
  ok: 'to complete successfully',
  any: 'to end',
  notok: 'to fail',
};

function stateWords(state: JobState | 'unknown'): string {
  return state === 'unknown' ? 'is not known (it never existed or was purged)' : `ended as ${state}`;
}

function reasonSentence(e: PendingExplanation, job: SchedJob, queue: Queue | null, nowMs: number): string {
  const r = e.reason;
  const queueName = queue?.name ?? job.queue;
  switch (r.kind) {
    case 'held':
      return `Job ${job.id} is held: it will not start until it is released (keisan release ${job.id}).`;
    case 'begin-time':
      return `Job ${job.id} may not start before ${clock(r.eligibleAt)} (in ${span(r.eligibleAt - nowMs)}), the begin time it was submitted with.`;
    case 'dependency': {
      const byId = new Map(job.dependencies.map((d) => [d.jobId, d.type]));
      const waits = r.waitingFor.map((id) => `job ${id} ${DEPENDENCY_WORDS[byId.get(id) ?? 'any']}`);
      return `Job ${job.id} waits for ${listAnd(waits)}.`;
    }
    case 'dependency-never-satisfied': {
      const type = job.dependencies.find((d) => d.jobId === r.jobId)?.type ?? 'ok';
      return `Job ${job.id} can never start: it waits for job ${r.jobId} ${DEPENDENCY_WORDS[type]}, but job ${r.jobId} ${stateWords(r.state)}. It will be cancelled.`;
    }
    case 'queue-disabled':
      return queue === null
        ? `Job ${job.id} is in queue ${r.queue}, which does not exist (any more): move it to another queue or cancel it.`
        : `Queue ${r.queue} is disabled: none of its jobs start until an operator enables it again (your job keeps its place).`;
    case 'limit':
      switch (r.limit) {
        case 'user':
          return `You already run ${plural(r.running, 'job')} in queue ${queueName}, its limit per user (${r.max}); job ${job.id} may start when one of them ends.`;
        case 'subgroup':
          return `Your subgroup ${job.subgroup} already runs ${plural(r.running, 'job')} in queue ${queueName}, its limit per subgroup (${r.max}); job ${job.id} may start when one of them ends.`;
        case 'host':
          return `Every node that has room already runs ${plural(r.max, 'job')} of queue ${queueName}, its limit per host; job ${job.id} may start when one of them ends.`;
        case 'array':
          return `${job.arrayJobId !== null ? `Array ${job.arrayJobId}` : 'Its array'} already runs ${plural(r.running, 'task')}, its limit of ${r.max} at once (%${r.max}); this task starts when one of them ends.`;
      }
      break;
    case 'resources': {
      const needs = `Job ${job.id} needs ${describeRequest(r.needs)}`;
      if (r.freeBest === null) return `${needs}, but no node takes jobs now (all are down or draining).`;
      const free = r.freeBest;
      const freeWords = `${plural(free.cpus, 'CPU')}, ${formatSize(free.memBytes)}${r.needs.gpus > 0 ? ` and ${plural(free.gpus, 'GPU')}${r.needs.gpuType !== null ? ` of type ${r.needs.gpuType}` : ''}` : ''}`;
      if (e.noEstimate === 'never-fits') {
        return `${needs}: no node is that big, so it cannot start as it is (the most free now is ${freeWords} on ${free.node}). Ask for less, or ask an operator.`;
      }
      return `${needs}; the most free on any node now is ${freeWords} on ${free.node}. It is first in line for them.`;
    }
    case 'priority':
      return `Job ${job.id} waits for its turn: ${plural(r.ahead, 'job')} ahead of it in line (of any queue) start first.`;
    case 'cluster':
      return r.externalId === null
        ? `Job ${job.id} is not handed to ${r.system} yet: ${r.words}.`
        : `Job ${job.id} waits in ${r.system} (its job ${r.externalId}): ${r.words} (${r.system} reason: ${r.code}).`;
    case 'reserved':
      return `Job ${job.id} would fit now, but the free resources are kept for job ${r.forJob}, which is due to start at ${clock(r.until)} (in ${span(r.until - nowMs)}); a job may use them before then only if its time limit (here ${span(job.timeLimitMs)}) ends by then.`;
  }
  return `Job ${job.id} is pending.`;
}

function fairShareSentence(e: PendingExplanation, job: SchedJob, queue: Queue | null): string {
  const f = e.fairShare;
  const factor = `your factor ${f.factor.toFixed(2)} (1 = no recent usage; 0.5 = used exactly the entitled share)`;
  if (queue?.fairShare === 'user') {
    const users = f.users ?? Math.round(1 / Math.max(f.subgroupShare, 1e-9));
    return `Fair share in queue ${queue.name} is between users: ${plural(users, 'user')} share it equally (${percent(f.subgroupShare)} each) and you used ${percent(f.userUsage)} of recent usage; ${factor}.`;
  }
  const shareWords = f.shares !== undefined && f.totalShares !== undefined ? `share ${f.shares} of ${f.totalShares} (${percent(f.subgroupShare)})` : `a share of ${percent(f.subgroupShare)}`;
  const usersWords = f.users !== undefined ? ` (${plural(f.users, 'user')} share it equally)` : '';
  return `Your subgroup ${job.subgroup} has ${shareWords} and used ${percent(f.subgroupUsage)} of recent usage; you used ${percent(f.userUsage)} of your subgroup's${usersWords}; ${factor}.`;
}

function estimateSentence(e: PendingExplanation, nowMs: number): string | null {
  if (e.estimatedStart !== null) {
    const wait = e.estimatedStart - nowMs;
    const when = wait <= MINUTE ? 'may start shortly' : `may start in about ${span(wait)} (around ${clock(e.estimatedStart)})`;
    const after = e.afterJob !== undefined && e.afterJob !== null && wait > MINUTE ? `, when job ${e.afterJob} ends` : '';
    return `It ${when}${after}; jobs often end before their time limit, so this is a late estimate.`;
  }
  switch (e.noEstimate) {
    case 'no-time-limit':
      return 'No estimate: the jobs ahead have no time limit.';
    case 'too-far':
      return 'No estimate: too many jobs are ahead of it to project.';
    case 'never-fits':
      return e.reason.kind === 'resources' ? null : 'No estimate: the jobs ahead cannot start on the nodes as they are.';
    case 'blocked':
    case undefined:
    case null:
      return e.reason.kind === 'held' || e.reason.kind === 'dependency-never-satisfied' || e.reason.kind === 'cluster' ? null : 'No estimate until what holds it back clears.';
  }
}

/**
 * Plain sentences for `keisan why JOB`: what blocks the job (which limit, which resource, which
 * dependency), its place in line, the fair-share numbers, and roughly when it may start.
 * `queue` is the job's queue, or null when it no longer exists.
 */
export function explainPending(explanation: PendingExplanation, job: SchedJob, queue: Queue | null, nowMs: number, lang: ExplainLanguage = 'en'): string {
  void lang; // English is the only language so far.
  const lines = [reasonSentence(explanation, job, queue, nowMs)];
  const reason = explanation.reason;
  if (reason.kind === 'cluster') {
    // The cluster's own priority and fair share decide; its numbers are in sprio and sshare.
    if (reason.externalId !== null) lines.push(`It is number ${explanation.position} among ${reason.system}'s pending jobs (sprio -j ${reason.externalId} shows its priority, sshare its fair share).`);
  } else {
    lines.push(`It is number ${explanation.position} in line in queue ${queue?.name ?? job.queue}.`);
    lines.push(fairShareSentence(explanation, job, queue));
  }
  const estimate = estimateSentence(explanation, nowMs);
  if (estimate !== null) lines.push(estimate);
  return lines.join('\n');
}
