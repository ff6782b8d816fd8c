/**
 * `keisan admin slurm sync` and `import-usage`, the I/O around the pure planner: reads Keisan's
 * accounts and queues and SLURM's accounts, associations, users, QOS and partitions, plans
 * (sync-plan.ts), applies with `sacctmgr -i`, reads SLURM again and reports what is left.
 * Operators only; applying and importing are audited. Every SLURM failure becomes a KeisanError
 * that says which command failed and what SLURM said: 503 when SLURM cannot be reached, 409 when
 * it refused a change — never a 500.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { auditedRefusal, writeAudit } from '../../../accounts/audit.ts';
import type { Actor } from '../../../accounts/model.ts';
import type { Database } from '../../../db/schema.ts';
import type { Clock } from '../../../lib/clock.ts';
import type { Settings, SlurmSettings } from '../../../lib/config.ts';
import { invalidInput, KeisanError } from '../../../lib/errors.ts';
import type { Queue } from '../../model.ts';
import { importSlurmAccounting, type ImportResult } from './accounting.ts';
import { slurmRunner, SlurmCommandError, type SlurmRunner } from './run.ts';
import { parseAssociations, parseConfig, parsePartitions, parseQos, parseTresList, parseUsers, SLURM_QUERIES, SlurmOutputError } from './sacctmgr.ts';
import { planSync, type KeisanPolicy, type SlurmState, type SyncChange, type SyncPlan } from './sync-plan.ts';

/** Keisan's accounts and queues as the planner wants them. */
export async function readKeisanPolicy(db: Kysely<Database>, settings: Settings, queues: readonly Queue[]): Promise<KeisanPolicy> {
  const workgroups = (await db.selectFrom('workgroups').select('name').orderBy('name').execute()).map((w) => w.name);
  const subgroupRows = await db.selectFrom('subgroups').innerJoin('workgroups', 'workgroups.id', 'subgroups.workgroup_id').select(['subgroups.id', 'subgroups.name', 'workgroups.name as workgroup']).orderBy('subgroups.name').execute();
  const subgroupName = new Map(subgroupRows.map((s) => [s.id, s.name]));
  const memberships = await db.selectFrom('memberships').select(['user_id', 'subgroup_id']).execute();
  const extra = new Map<number, string[]>();
  for (const m of memberships) extra.set(m.user_id, [...(extra.get(m.user_id) ?? []), subgroupName.get(m.subgroup_id)!]);
  const users = (await db.selectFrom('users').select(['id', 'name', 'primary_subgroup_id']).orderBy('name').execute()).map((u) => {
    const primarySubgroup = subgroupName.get(u.primary_subgroup_id)!;
    return { name: u.name, primarySubgroup, subgroups: [...new Set([primarySubgroup, ...(extra.get(u.id) ?? [])])] };
  });
  return {
    rootAccount: settings.batch.slurm.rootAccount,
    workgroups,
    subgroups: subgroupRows.map((s) => ({ name: s.name, workgroup: s.workgroup })),
    users,
    queues: [...queues],
    subgroupShares: settings.batch.subgroupShares,
    partitions: settings.batch.slurm.partitions,
  };
}

/** SLURM's accounts, associations, users, QOS, TRES and partitions of the cluster its slurm.conf names. */
export async function readSlurmState(run: SlurmRunner): Promise<SlurmState> {
  const config = parseConfig((await run('scontrol', [...SLURM_QUERIES.config])).stdout);
  const cluster = config.get('ClusterName');
  if (!cluster) throw new SlurmOutputError('ClusterName', 'scontrol show config printed no ClusterName');
  const storage = config.get('AccountingStorageType') ?? '';
  if (!storage.includes('slurmdbd')) {
    throw invalidInput(`SLURM's accounting is ${storage || 'not configured'} on cluster ${cluster}: accounts, users and QOS live in slurmdbd, so set AccountingStorageType=accounting_storage/slurmdbd in slurm.conf (with a running slurmdbd) before keisan admin slurm sync`);
  }
  const [associations, users, qos, tres, partitions] = await Promise.all([
    run('sacctmgr', [...SLURM_QUERIES.associations(cluster)]),
    run('sacctmgr', [...SLURM_QUERIES.users]),
    run('sacctmgr', [...SLURM_QUERIES.qos]),
    run('sacctmgr', [...SLURM_QUERIES.tres]),
    run('scontrol', [...SLURM_QUERIES.partitions]),
  ]);
  return {
    cluster,
    associations: parseAssociations(associations.stdout),
    users: parseUsers(users.stdout),
    qos: parseQos(qos.stdout),
    tres: parseTresList(tres.stdout),
    partitions: parsePartitions(partitions.stdout),
    priorityType: config.get('PriorityType') ?? '',
    enforce: (config.get('AccountingStorageEnforce') ?? '').split(',').map((e) => e.trim()).filter((e) => e && e !== 'none'),
  };
}

/** A SLURM failure as Keisan's one error type: which command, what SLURM said, what to do. */
export function slurmFailure(error: unknown, doing: string): unknown {
  if (error instanceof KeisanError) return error;
  if (error instanceof SlurmOutputError) return new KeisanError('UNAVAILABLE', `${doing}: ${error.message} (is this SLURM 22.05 or later?)`);
  if (!(error instanceof SlurmCommandError)) return error;
  const unreachable = error.exitCode === null || error.controllerUnreachable || /slurmdbd|persistent connection|persist_conn|Munge|authentication/i.test(error.message);
  return unreachable
    ? new KeisanError('UNAVAILABLE', `${doing}: SLURM could not be reached — ${error.message}. Check that slurmctld and slurmdbd run and that batch.slurm.conf names their slurm.conf.`)
    : new KeisanError('CONFLICT', `${doing}: SLURM refused — ${error.message}`);
}

export interface SyncResult {
  cluster: string;
  /** The changes made, in order. */
  applied: SyncChange[];
  /** What a fresh read of SLURM still differs in (empty when the sync took). */
  remaining: SyncChange[];
  cannotExpress: string[];
}

export interface SlurmAdminOptions {
  db: Kysely<Database>;
  settings: Settings;
  clock: Clock;
  /** The facility's queues as the batch service has them now. */
  queues: () => Queue[];
  /** The runner for a cluster's settings; default: SLURM's own commands (run.ts). */
  runner?: (settings: Pick<SlurmSettings, 'conf' | 'binDir'>) => SlurmRunner;
}

/** The operator's side of the SLURM executor: sync the policy, import foreign usage. */
export class SlurmAdminService {
  /** Applies and imports run one at a time: two syncs at once would plan against each other's half-made changes. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: SlurmAdminOptions) {}

  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private runner(conf?: string): SlurmRunner {
    const settings = { ...this.o.settings.batch.slurm, ...(conf !== undefined ? { conf } : {}) };
    return (this.o.runner ?? slurmRunner)(settings);
  }

  private async requireOperator(actor: Actor, action: string, what: string): Promise<void> {
    if (actor.isOperator) return;
    throw await auditedRefusal(this.o.db, { actor, action, targetType: 'slurm', target: this.o.settings.batch.slurm.rootAccount }, `only an operator may ${what}`, this.o.clock.now());
  }

  /** Jobs run through SLURM, or (previewing only) a cluster named by --conf or batch.slurm.conf. */
  private requireCluster(conf: string | undefined, applying: boolean): void {
    const { executor, slurm } = this.o.settings.batch;
    if (executor === 'slurm') return;
    if (!applying && (conf !== undefined || slurm.conf !== undefined)) return;
    throw invalidInput(
      applying
        ? `batch.executor is '${executor}': Keisan does not run jobs through SLURM, so it changes nothing there. Set batch.executor: slurm in keisan.yaml first (keisan admin slurm sync without --apply previews against a cluster named with --conf)`
        : `batch.executor is '${executor}': no SLURM cluster is configured. Set batch.executor: slurm in keisan.yaml, or preview against a cluster with --conf /etc/slurm/slurm.conf`,
    );
  }

  private checkConf(conf: string | undefined): void {
    if (conf === undefined) return;
    if (!path.isAbsolute(conf) || !existsSync(conf) || !statSync(conf).isFile()) throw invalidInput(`conf: '${conf}' is not a slurm.conf on the server: give the absolute path of the cluster's slurm.conf`);
  }

  private async plan(run: SlurmRunner): Promise<SyncPlan> {
    const [keisan, slurm] = await Promise.all([readKeisanPolicy(this.o.db, this.o.settings, this.o.queues()), readSlurmState(run)]);
    return planSync(keisan, slurm);
  }

  /** The changes sync would make, and what SLURM cannot express; changes nothing. */
  async preview(actor: Actor, options: { conf?: string } = {}): Promise<SyncPlan> {
    await this.requireOperator(actor, 'slurm.sync', 'see the SLURM sync plan');
    this.requireCluster(options.conf, false);
    this.checkConf(options.conf);
    try {
      return await this.plan(this.runner(options.conf));
    } catch (error) {
      throw slurmFailure(error, 'reading SLURM\'s accounts and QOS');
    }
  }

  /** Applies the plan with sacctmgr -i, then reads SLURM again: `remaining` should be empty. Audited. */
  async apply(actor: Actor): Promise<SyncResult> {
    await this.requireOperator(actor, 'slurm.sync', 'change SLURM\'s accounts and QOS');
    this.requireCluster(undefined, true);
    return this.oneAtATime(() => this.applyNow(actor));
  }

  private async applyNow(actor: Actor): Promise<SyncResult> {
    const run = this.runner();
    let plan: SyncPlan;
    try {
      plan = await this.plan(run);
    } catch (error) {
      throw slurmFailure(error, 'reading SLURM\'s accounts and QOS');
    }
    const applied: SyncChange[] = [];
    const audit = (outcome: 'ok' | 'failed', detail: Record<string, unknown>) =>
      writeAudit(this.o.db, { actor, action: 'slurm.sync', targetType: 'slurm-cluster', target: plan.cluster, outcome, detail }, this.o.clock.now());
    for (const [index, change] of plan.changes.entries()) {
      try {
        await run('sacctmgr', ['-i', ...change.args], { timeoutMs: 60_000 });
      } catch (error) {
        const failure = slurmFailure(error, `change ${index + 1} of ${plan.changes.length} (${change.command})`);
        const done = applied.length === 0 ? 'nothing was changed before it' : `the ${applied.length} change${applied.length === 1 ? '' : 's'} before it ${applied.length === 1 ? 'was' : 'were'} made`;
        await audit('failed', { applied: applied.map((c) => c.command), failed: change.command, error: failure instanceof Error ? failure.message : String(failure) });
        if (failure instanceof KeisanError) throw new KeisanError(failure.code, `${failure.message}; ${done}: run keisan admin slurm sync to see what is left`);
        throw failure;
      }
      applied.push(change);
    }
    let after: SyncPlan;
    try {
      after = await this.plan(run);
    } catch (error) {
      throw slurmFailure(error, 'reading SLURM again after the sync');
    }
    await audit('ok', { applied: applied.length, commands: applied.slice(0, 200).map((c) => c.command), remaining: after.changes.length });
    return { cluster: plan.cluster, applied, remaining: after.changes, cannotExpress: after.cannotExpress };
  }

  /** Imports the usage of jobs run on SLURM outside Keisan, [from, to) (default: the last 7 days). Audited. */
  async importUsage(actor: Actor, options: { from?: string; to?: string } = {}): Promise<ImportResult> {
    await this.requireOperator(actor, 'slurm.import-usage', 'import SLURM\'s accounting');
    this.requireCluster(undefined, false);
    const now = this.o.clock.now();
    const to = options.to !== undefined ? timeArg('to', options.to) : now;
    const from = options.from !== undefined ? timeArg('from', options.from) : new Date(to.getTime() - 7 * 86_400_000);
    if (from >= to) throw invalidInput(`from (${from.toISOString()}) must be before to (${to.toISOString()})`);
    let result: ImportResult;
    try {
      result = await this.oneAtATime(() => importSlurmAccounting(this.o.db, this.runner(), { from, to, now }));
    } catch (error) {
      throw slurmFailure(error, 'importing SLURM\'s accounting (sacct)');
    }
    await writeAudit(this.o.db, { actor, action: 'slurm.import-usage', targetType: 'slurm-cluster', target: result.cluster, outcome: 'ok', detail: { ...result } }, this.o.clock.now());
    return result;
  }
}

/** A window bound: an ISO time with its zone, or a date (midnight UTC). */
function timeArg(field: string, text: string): Date {
  const t = text.trim();
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(t) || /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/i.test(t);
  const at = new Date(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
  if (!ok || Number.isNaN(at.getTime())) throw invalidInput(`${field}: '${text}' is not a time: write a date (2026-11-01, midnight UTC) or a time with its zone (2026-11-01T12:00:00Z)`);
  return at;
}
