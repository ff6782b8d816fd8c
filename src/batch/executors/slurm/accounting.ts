/**
 * The sacct import: jobs that ran on the SLURM cluster without going through Keisan (sbatch
 * straight to SLURM) are copied into `slurm_usage`, so that usage reports cover the whole
 * cluster. Keisan's own jobs (jobs.external_id = SLURM's id) are skipped: the executor records
 * them. Importing the same window again updates the rows (one per cluster and job id).
 *
 * One sacct call, without -X, gives each job's allocation line and its steps: TotalCPU is the
 * allocation's (SLURM sums its steps into it; summed from the steps when it is 0), MaxRSS the
 * largest of the steps' (the allocation line has none). Times are epoch seconds
 * (SLURM_TIME_FORMAT=%s, set by the runner).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/schema.ts';
import { parseConfig, SlurmOutputError } from './sacctmgr.ts';
import type { SlurmRunner } from './run.ts';

export const SACCT_FORMAT = 'JobIDRaw,User,Account,Partition,QOS,State,ExitCode,Submit,Start,End,Elapsed,AllocCPUS,AllocTRES,TotalCPU,MaxRSS,NodeList';
const FIELDS = SACCT_FORMAT.split(',').length;

/** One ended SLURM job, its steps folded in. */
export interface SacctJob {
  jobId: string;
  user: string;
  account: string;
  partition: string;
  qos: string;
  /** SLURM's state word: COMPLETED, FAILED, CANCELLED, … */
  slurmState: string;
  /** Keisan's word for it. */
  state: string;
  exitCode: number | null;
  submittedAt: string | null;
  startedAt: string | null;
  endedAt: string | null;
  elapsedSeconds: number;
  cpus: number;
  gpus: number;
  cpuSeconds: number;
  maxRssBytes: number | null;
  nodeList: string;
}

const STATE_WORDS: Record<string, string> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  BOOT_FAIL: 'failed',
  CANCELLED: 'cancelled',
  TIMEOUT: 'timeout',
  DEADLINE: 'timeout',
  OUT_OF_MEMORY: 'out-of-memory',
  NODE_FAIL: 'node-fail',
  PREEMPTED: 'preempted',
};

/** `1795464134` (SLURM_TIME_FORMAT=%s) → ISO; Unknown, None, '' → null. */
export function epochToIso(text: string): string | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const seconds = Number(text);
  return seconds > 0 ? new Date(seconds * 1000).toISOString() : null;
}

/** sacct's Elapsed and TotalCPU: `[D-][HH:]MM:SS[.mmm]` in seconds. */
export function parseSacctSeconds(text: string): number {
  const t = text.trim();
  if (t === '' || t === 'INVALID') return 0;
  const match = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(t);
  if (!match) throw new SlurmOutputError('a duration of sacct', t);
  return Number(match[1] ?? 0) * 86_400 + Number(match[2] ?? 0) * 3600 + Number(match[3]) * 60 + Number(match[4]);
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** sacct's MaxRSS (`2216K`, `1.5G`, '') in bytes; null when not measured. */
export function parseSacctBytes(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(text.trim());
  return match ? Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!) : null;
}

/** GPUs in an AllocTRES list: `gres/gpu=2` or `gres/gpu:a100=2` (the typed entry repeats the untyped one). */
export function gpusOf(allocTres: string): number {
  let untyped = 0;
  let typed = 0;
  for (const item of allocTres.split(',')) {
    const match = /^gres\/gpu(:[^=]+)?=(\d+)$/.exec(item.trim());
    if (!match) continue;
    if (match[1]) typed += Number(match[2]);
    else untyped = Number(match[2]);
  }
  return untyped || typed;
}

/** sacct -n -P --format=SACCT_FORMAT (steps included) → one entry per job. */
export function parseSacct(text: string): SacctJob[] {
  const jobs = new Map<string, SacctJob>();
  const steps = new Map<string, { cpuSeconds: number; maxRss: number | null }>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.split('|');
    if (f.length < FIELDS) throw new SlurmOutputError('a job of sacct', line);
    const [jobIdRaw, user, account, partition, qos, state, exitCode, submit, start, end, elapsed, allocCpus, allocTres, totalCpu, maxRss, nodeList] = f as [string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string];
    const dot = jobIdRaw.indexOf('.');
    if (dot >= 0) {
      const id = jobIdRaw.slice(0, dot);
      const step = steps.get(id) ?? { cpuSeconds: 0, maxRss: null };
      step.cpuSeconds += parseSacctSeconds(totalCpu);
      const rss = parseSacctBytes(maxRss);
      if (rss !== null) step.maxRss = Math.max(step.maxRss ?? 0, rss);
      steps.set(id, step);
      continue;
    }
    const word = state.trim().split(/\s+/)[0]!.toUpperCase();
    // A job cancelled before it ran has Start = End = the cancel time, and no node.
    const ran = nodeList.trim() !== '' && !/^None/i.test(nodeList.trim());
    const [code] = exitCode.split(':');
    jobs.set(jobIdRaw, {
      jobId: jobIdRaw,
      user,
      account,
      partition,
      qos,
      slurmState: word,
      state: STATE_WORDS[word] ?? word.toLowerCase(),
      exitCode: code !== undefined && /^\d+$/.test(code) ? Number(code) : null,
      submittedAt: epochToIso(submit),
      startedAt: ran ? epochToIso(start) : null,
      endedAt: epochToIso(end),
      elapsedSeconds: parseSacctSeconds(elapsed),
      cpus: Number(allocCpus) || 0,
      gpus: gpusOf(allocTres),
      cpuSeconds: parseSacctSeconds(totalCpu),
      maxRssBytes: parseSacctBytes(maxRss),
      nodeList,
    });
  }
  for (const [id, step] of steps) {
    const job = jobs.get(id);
    if (!job) continue;
    if (job.cpuSeconds === 0) job.cpuSeconds = step.cpuSeconds;
    if (step.maxRss !== null) job.maxRssBytes = Math.max(job.maxRssBytes ?? 0, step.maxRss);
  }
  return [...jobs.values()];
}

/**
 * With --state, sacct's window selects jobs by the time they reached that state: for these, the
 * jobs that ended in the window. (Without it, sacct selects by eligible time, which SLURM 22.05
 * leaves Unknown for some jobs that start at once: those would never be imported.)
 */
const ENDED_STATES = 'CD,F,CA,TO,OOM,NF,PR,BF,DL';

/** sacct's --starttime/--endtime: UTC (the runner sets TZ=UTC), to the second. */
const sacctTime = (at: Date) => at.toISOString().slice(0, 19);

export interface ImportOptions {
  from: Date;
  to: Date;
  now: Date;
  /** The cluster's name (slurm.conf ClusterName); read with scontrol show config when not given. */
  cluster?: string;
}

export interface ImportResult {
  cluster: string;
  from: string;
  to: string;
  /** Jobs sacct listed in the window. */
  seen: number;
  /** Rows written (new or updated). */
  imported: number;
  /** Keisan's own jobs, left to the executor's records. */
  keisanJobs: number;
  /** Listed without an end time (not expected with the ended states asked for; imported once they have one). */
  notEnded: number;
}

export async function clusterNameOf(run: SlurmRunner): Promise<string> {
  const config = parseConfig((await run('scontrol', ['show', 'config'])).stdout);
  const name = config.get('ClusterName');
  if (!name) throw new SlurmOutputError('ClusterName', 'scontrol show config printed no ClusterName');
  return name;
}

/**
 * Imports the jobs that ended in the window (sacct counts its end second in) and are not
 * Keisan's. Idempotent: a job imported again is updated in place.
 */
export async function importSlurmAccounting(db: Kysely<Database>, run: SlurmRunner, options: ImportOptions): Promise<ImportResult> {
  const cluster = options.cluster ?? (await clusterNameOf(run));
  const { stdout } = await run('sacct', ['-a', '-n', '-P', `--state=${ENDED_STATES}`, `--starttime=${sacctTime(options.from)}`, `--endtime=${sacctTime(options.to)}`, `--format=${SACCT_FORMAT}`], { timeoutMs: 120_000 });
  const jobs = parseSacct(stdout);
  const ended = jobs.filter((j) => j.endedAt !== null);
  const keisanIds = new Set<string>();
  for (let i = 0; i < ended.length; i += 500) {
    const ids = ended.slice(i, i + 500).map((j) => j.jobId);
    const rows = await db.selectFrom('jobs').select('external_id').where('external_id', 'in', ids).execute();
    for (const row of rows) if (row.external_id !== null) keisanIds.add(row.external_id);
  }
  const groups = await accountGroups(db);
  const foreign = ended.filter((j) => !keisanIds.has(j.jobId));
  const importedAt = options.now.toISOString();
  await db.transaction().execute(async (tx) => {
    for (const job of foreign) {
      const mapped = groups.get(job.account) ?? { subgroup: null, workgroup: null };
      const wallSeconds = job.startedAt && job.endedAt ? Math.max(0, (Date.parse(job.endedAt) - Date.parse(job.startedAt)) / 1000) : job.elapsedSeconds;
      const values = {
        user_name: job.user,
        account: job.account,
        subgroup: mapped.subgroup,
        workgroup: mapped.workgroup,
        partition: job.partition,
        qos: job.qos,
        state: job.state,
        slurm_state: job.slurmState,
        exit_code: job.exitCode,
        submitted_at: job.submittedAt,
        started_at: job.startedAt,
        ended_at: job.endedAt!,
        cpus: job.cpus,
        gpus: job.gpus,
        cpu_seconds: job.cpuSeconds,
        gpu_seconds: job.gpus * wallSeconds,
        max_rss_bytes: job.maxRssBytes,
        node_list: job.nodeList,
        imported_at: importedAt,
      };
      await tx
        .insertInto('slurm_usage')
        .values({ cluster, job_id: job.jobId, ...values })
        .onConflict((oc) => oc.columns(['cluster', 'job_id']).doUpdateSet(values))
        .execute();
    }
  });
  return { cluster, from: options.from.toISOString(), to: options.to.toISOString(), seen: jobs.length, imported: foreign.length, keisanJobs: ended.length - foreign.length, notEnded: jobs.length - ended.length };
}

/** SLURM account → Keisan subgroup and workgroup (a workgroup's own account: workgroup only). */
async function accountGroups(db: Kysely<Database>): Promise<Map<string, { subgroup: string | null; workgroup: string | null }>> {
  const map = new Map<string, { subgroup: string | null; workgroup: string | null }>();
  for (const w of await db.selectFrom('workgroups').select('name').execute()) map.set(w.name, { subgroup: null, workgroup: w.name });
  const subgroups = await db.selectFrom('subgroups').innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id').select(['subgroups.name as subgroup', 'workgroups.name as workgroup']).execute();
  for (const s of subgroups) map.set(s.subgroup, { subgroup: s.subgroup, workgroup: s.workgroup });
  return map;
}

/** A SLURM job's usage, shaped like the rows BatchService.accounting() sums (plus the SLURM account). */
export interface SlurmUsageRow {
  user_name: string;
  /** null when the job's account is outside Keisan's tree (then `account` says which). */
  subgroup: string | null;
  workgroup: string | null;
  account: string;
  cpus: number;
  gpus: number;
  started_at: string | null;
  ended_at: string;
  cpu_seconds: number;
  gpu_seconds: number;
  state: string;
}

/** Imported SLURM jobs that ended in [from, to) and had started. */
export async function slurmUsageRows(db: Kysely<Database>, from: Date, to: Date): Promise<SlurmUsageRow[]> {
  const rows = await db
    .selectFrom('slurm_usage')
    .select(['user_name', 'subgroup', 'workgroup', 'account', 'cpus', 'gpus', 'started_at', 'ended_at', 'cpu_seconds', 'gpu_seconds', 'state'])
    .where('ended_at', '>=', from.toISOString())
    .where('ended_at', '<', to.toISOString())
    .where('started_at', 'is not', null)
    .orderBy('ended_at')
    .execute();
  return rows.map((r) => ({ ...r, cpus: Number(r.cpus), gpus: Number(r.gpus), cpu_seconds: Number(r.cpu_seconds), gpu_seconds: Number(r.gpu_seconds) }));
}
