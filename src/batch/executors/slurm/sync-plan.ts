/**
 * `keisan admin slurm sync`, the pure part: SLURM's policy as Keisan's state wants it, compared
 * with what SLURM has, as an ordered list of sacctmgr changes with their exact command lines,
 * plus "SLURM cannot express this" in words for every Keisan rule without a SLURM equivalent.
 * No I/O and no clock: sync.ts reads both states and runs the commands.
 *
 * The mapping (the same everywhere in Keisan):
 * - the root account (batch.slurm.rootAccount, default `keisan`) under SLURM's `root`;
 * - workgroup W → account W under the root account, `Fairshare=parent`: Keisan's subgroups
 *   compete with each other directly (batch/fairshare.ts), whatever their workgroup;
 * - subgroup S → account S under W, `Fairshare` from batch.subgroupShares (default 1; scaled to
 *   whole numbers), `QOS` = the queues S may use;
 * - user U → an association (U, S) for every subgroup U belongs to, DefaultAccount = the primary
 *   subgroup; users share equally inside a subgroup (Fairshare=1);
 * - queue Q → QOS Q (Priority, MaxWall, MaxTRESPerJob, MaxTRESMinsPerJob, MaxJobsPerUser,
 *   MaxJobsPerAccount, Flags=DenyOnLimit so that a job over a limit is refused at submission as
 *   Keisan refuses it) and partition `partitions[Q] ?? Q`, which sacctmgr cannot create.
 *
 * Only accounts under the root account, their associations, and QOS whose description marks
 * them as Keisan's (`keisan queue Q`) are ever changed or removed; everything else in SLURM is
 * left alone (an account of Keisan's name elsewhere in the tree is reported, not taken over).
 */
import type { Queue } from '../../model.ts';
import { queueAllows } from '../../queues.ts';
import { formatSlurmMinutes, formatTres, shellWord, type SlurmAssociation, type SlurmPartition, type SlurmQos, type SlurmUser } from './sacctmgr.ts';

const MIB = 1024 ** 2;
/** Users added to or removed from one account by one sacctmgr command (each command commits to slurmdbd: ~0.5 s). */
const USERS_PER_COMMAND = 200;
const MINUTE_MS = 60_000;
/** The description that marks a QOS as one Keisan made for a queue. */
export const QOS_MARK = 'keisan queue ';

/** Keisan's side: accounts and queues as the database and settings have them. */
export interface KeisanPolicy {
  rootAccount: string;
  workgroups: string[];
  subgroups: Array<{ name: string; workgroup: string }>;
  /** Every user with every subgroup they belong to (the primary one included). */
  users: Array<{ name: string; primarySubgroup: string; subgroups: string[] }>;
  queues: Queue[];
  /** batch.subgroupShares (default 1 each). */
  subgroupShares: Record<string, number>;
  /** batch.slurm.partitions: Keisan queue → SLURM partition where the names differ. */
  partitions: Record<string, string>;
}

/** SLURM's side, as read by sync.ts (sacctmgr.ts parses it). */
export interface SlurmState {
  cluster: string;
  /** This cluster's associations (accounts' and users'). */
  associations: SlurmAssociation[];
  users: SlurmUser[];
  qos: SlurmQos[];
  partitions: SlurmPartition[];
  /** The TRES the cluster tracks: `cpu`, `mem`, `gres/gpu`, … */
  tres: string[];
  /** slurm.conf's PriorityType and AccountingStorageEnforce. */
  priorityType: string;
  enforce: string[];
}

/** The QOS Keisan wants for a queue (the limits SLURM's QOS can hold). */
export type DesiredQos = SlurmQos;

export type SyncEffect =
  | { kind: 'add-qos'; qos: DesiredQos }
  | { kind: 'modify-qos'; qos: DesiredQos }
  | { kind: 'add-account'; account: string; parent: string; fairshare: number | 'parent'; qos: string[] | null }
  | { kind: 'modify-account'; account: string; parent?: string; fairshare?: number | 'parent'; qos?: string[] }
  | { kind: 'add-association'; users: string[]; account: string; defaultAccount?: string }
  | { kind: 'modify-association'; user: string; account: string; fairshare?: number; qos?: string[] }
  | { kind: 'set-default-account'; user: string; account: string }
  | { kind: 'remove-association'; users: string[]; account: string }
  | { kind: 'remove-account'; account: string }
  | { kind: 'remove-qos'; qos: string };

export type SyncChange = SyncEffect & {
  /** In words, e.g. "add account lab-ml (subgroup of lab), fair share 3, QOS express,short". */
  summary: string;
  /** sacctmgr's arguments (after `-i`). */
  args: string[];
  /** The exact command line: `sacctmgr -i …`. */
  command: string;
};

export interface SyncPlan {
  cluster: string;
  rootAccount: string;
  changes: SyncChange[];
  /** Keisan rules SLURM has no equivalent for, and what to do by hand where something can be done. */
  cannotExpress: string[];
}

// ---------------------------------------------------------------------------- desired state

/** The partition a queue's jobs go to. */
export const partitionOf = (queue: string, partitions: Record<string, string>): string => partitions[queue] ?? queue;

/** Whole-number fair shares with the same ratios (SLURM's Fairshare is an integer); `rounded` when that was not exact. */
export function scaledShares(subgroups: string[], shares: Record<string, number>): { shares: Map<string, number>; rounded: boolean } {
  const raw = subgroups.map((s) => [s, shares[s] ?? 1] as const);
  for (const factor of [1, 10, 100, 1000]) {
    if (raw.every(([, v]) => Math.abs(v * factor - Math.round(v * factor)) < 1e-9)) return { shares: new Map(raw.map(([s, v]) => [s, Math.round(v * factor)])), rounded: false };
  }
  return { shares: new Map(raw.map(([s, v]) => [s, Math.max(1, Math.round(v * 1000))])), rounded: true };
}

/** The QOS for a queue; GPU limits only where the cluster tracks gres/gpu. */
export function qosForQueue(queue: Queue, tres: readonly string[]): DesiredQos {
  const maxTresPerJob: Record<string, number> = { cpu: queue.maxCpus, mem: Math.floor(queue.maxMemBytes / MIB) };
  if (tres.includes('gres/gpu')) maxTresPerJob['gres/gpu'] = queue.maxGpus;
  return {
    name: queue.name,
    description: `${QOS_MARK}${queue.name}`,
    priority: queue.priority,
    maxWallMinutes: Math.ceil(queue.wallTimeLimitMs / MINUTE_MS),
    maxTresPerJob,
    maxTresMinsPerJob: queue.cpuTimeLimitMs === null ? {} : { cpu: Math.ceil(queue.cpuTimeLimitMs / MINUTE_MS) },
    maxJobsPerUser: queue.maxRunningPerUser,
    maxJobsPerAccount: queue.maxRunningPerSubgroup,
    flags: ['DenyOnLimit'],
  };
}

interface DesiredAccount {
  name: string;
  parent: string;
  fairshare: number | 'parent';
  /** null: not managed (inherited). */
  qos: string[] | null;
  /** In words, for the summary. */
  what: string;
  /** SLURM's Description of the account. */
  description: string;
}

// ---------------------------------------------------------------------------- comparison helpers

const sameList = (a: readonly string[], b: readonly string[]) => {
  if (a.length !== b.length) return false;
  const sortedB = [...b].sort();
  return [...a].sort().every((x, i) => x === sortedB[i]);
};
const sameRecord = (a: Record<string, number>, b: Record<string, number>) => sameList(Object.keys(a), Object.keys(b)) && Object.keys(a).every((k) => a[k] === b[k]);

function command(args: string[]): string {
  return ['sacctmgr', '-i', ...args].map(shellWord).join(' ');
}

function qosArgs(desired: DesiredQos, current: SlurmQos | undefined): string[] {
  const set: string[] = [];
  if (!current || current.description !== desired.description) set.push(`Description=${desired.description}`);
  if (!current || current.priority !== desired.priority) set.push(`Priority=${desired.priority}`);
  if (!current || current.maxWallMinutes !== desired.maxWallMinutes) set.push(`MaxWall=${desired.maxWallMinutes === null ? -1 : formatSlurmMinutes(desired.maxWallMinutes)}`);
  const tresChange = (want: Record<string, number>, have: Record<string, number> | undefined): string | null => {
    if (have && sameRecord(want, have)) return null;
    const merged: Record<string, number> = { ...want };
    // A limit SLURM has and Keisan no longer wants is cleared with -1.
    for (const key of Object.keys(have ?? {})) if (!(key in want)) merged[key] = -1;
    return Object.keys(merged).length === 0 ? null : formatTres(merged);
  };
  const perJob = tresChange(desired.maxTresPerJob, current?.maxTresPerJob);
  if (perJob) set.push(`MaxTRESPerJob=${perJob}`);
  const minsPerJob = tresChange(desired.maxTresMinsPerJob, current?.maxTresMinsPerJob);
  if (minsPerJob) set.push(`MaxTRESMinsPerJob=${minsPerJob}`);
  if (!current ? desired.maxJobsPerUser !== null : current.maxJobsPerUser !== desired.maxJobsPerUser) set.push(`MaxJobsPerUser=${desired.maxJobsPerUser ?? -1}`);
  if (!current ? desired.maxJobsPerAccount !== null : current.maxJobsPerAccount !== desired.maxJobsPerAccount) set.push(`MaxJobsPerAccount=${desired.maxJobsPerAccount ?? -1}`);
  if (!current || !sameList(current.flags, desired.flags)) set.push(`Flags=${desired.flags.join(',') || '-1'}`);
  return set;
}

function describeQos(q: DesiredQos): string {
  const limits = [`priority ${q.priority}`, q.maxWallMinutes === null ? 'no wall limit' : `wall ${formatSlurmMinutes(q.maxWallMinutes)}`, `per job ${formatTres(q.maxTresPerJob)}`];
  if (q.maxTresMinsPerJob.cpu !== undefined) limits.push(`${q.maxTresMinsPerJob.cpu} CPU-minutes`);
  limits.push(`running per user ${q.maxJobsPerUser ?? 'unlimited'}`, `per subgroup ${q.maxJobsPerAccount ?? 'unlimited'}`);
  return limits.join(', ');
}

const shareWord = (share: number | 'parent') => (share === 'parent' ? 'parent' : String(share));

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------------------- the planner

/**
 * The changes that bring SLURM to Keisan's policy, in an order sacctmgr accepts: QOS first (an
 * account can only be granted an existing QOS), then accounts top-down, user associations,
 * default accounts, and last the removals bottom-up.
 */
export function planSync(keisan: KeisanPolicy, slurm: SlurmState): SyncPlan {
  const cannot: string[] = [];
  const changes: SyncChange[] = [];
  const add = (effect: SyncEffect, summary: string, args: string[]) => changes.push({ ...effect, summary, args, command: command(args) });
  const root = keisan.rootAccount;
  const cluster = slurm.cluster;

  // ---- what SLURM has: account associations, and which of them are under the root account
  const accountAssoc = new Map(slurm.associations.filter((a) => a.user === '').map((a) => [a.account, a]));
  const managed = (account: string): boolean => {
    const seen = new Set<string>();
    for (let at: string | undefined = account; at && !seen.has(at); at = accountAssoc.get(at)?.parent) {
      if (at === root) return true;
      seen.add(at);
    }
    return false;
  };
  const foreignHome = (account: string): string | null => {
    const assoc = accountAssoc.get(account);
    return assoc && account !== root && !managed(account) ? assoc.parent || 'root' : null;
  };

  // ---- what Keisan wants
  const queues = [...keisan.queues].sort((a, b) => a.name.localeCompare(b.name));
  const desiredQos = queues.map((q) => qosForQueue(q, slurm.tres));
  const workgroupOf = new Map(keisan.subgroups.map((s) => [s.name, s.workgroup]));
  const skipped = new Set<string>();
  for (const name of [...keisan.workgroups, ...keisan.subgroups.map((s) => s.name)]) {
    const home = foreignHome(name);
    if (home !== null || name === root || name === 'root') {
      skipped.add(name);
      cannot.push(
        name === root || name === 'root'
          ? `${workgroupOf.has(name) ? 'subgroup' : 'workgroup'} '${name}' has the name of SLURM's ${name === 'root' ? 'root account' : 'root account for Keisan (batch.slurm.rootAccount)'}: its account cannot be made; choose another batch.slurm.rootAccount`
          : `account '${name}' already exists in SLURM outside '${root}' (under '${home}'): Keisan leaves it alone, so ${workgroupOf.has(name) ? 'subgroup' : 'workgroup'} '${name}' and its users get no associations; move it under '${root}' (sacctmgr modify account where name=${name} cluster=${cluster} set parent=${workgroupOf.get(name) ?? root}) or rename it`,
      );
    }
  }
  const { shares, rounded } = scaledShares(keisan.subgroups.map((s) => s.name).sort(), keisan.subgroupShares);
  if (rounded) cannot.push('batch.subgroupShares has shares with more than 3 decimals: SLURM\'s Fairshare is a whole number, so they were rounded (×1000)');
  for (const name of Object.keys(keisan.subgroupShares)) {
    if (!workgroupOf.has(name)) cannot.push(`batch.subgroupShares names '${name}', which is not a subgroup: ignored`);
  }

  const desiredAccounts: DesiredAccount[] = [{ name: root, parent: 'root', fairshare: accountAssoc.get(root)?.fairshare ?? 1, qos: null, what: 'the facility: parent of every workgroup\'s account', description: 'keisan facility' }];
  for (const w of [...keisan.workgroups].sort()) {
    if (!skipped.has(w)) desiredAccounts.push({ name: w, parent: root, fairshare: 'parent', qos: null, what: `workgroup ${w}`, description: `keisan workgroup ${w}` });
  }
  const qosOfSubgroup = new Map<string, string[]>();
  for (const s of [...keisan.subgroups].sort((a, b) => a.name.localeCompare(b.name))) {
    if (skipped.has(s.name) || skipped.has(s.workgroup)) {
      skipped.add(s.name);
      continue;
    }
    const allowed = queues.filter((q) => queueAllows(q, { workgroup: s.workgroup, subgroup: s.name })).map((q) => q.name);
    qosOfSubgroup.set(s.name, allowed);
    if (allowed.length === 0) cannot.push(`subgroup '${s.name}' may use no queue, but SLURM gives an association without a QOS list its parent's (normal): jobs of '${s.name}' are still refused when they name a queue's QOS, as Keisan submits them`);
    desiredAccounts.push({ name: s.name, parent: s.workgroup, fairshare: shares.get(s.name) ?? 1, qos: allowed.length > 0 ? allowed : null, what: `subgroup ${s.name} of ${s.workgroup}`, description: `keisan subgroup ${s.name} of ${s.workgroup}` });
  }
  const desiredAccountNames = new Set(desiredAccounts.map((a) => a.name));

  // ---- QOS
  const currentQos = new Map(slurm.qos.map((q) => [q.name, q]));
  for (const want of desiredQos) {
    const have = currentQos.get(want.name);
    const set = qosArgs(want, have);
    if (!have) add({ kind: 'add-qos', qos: want }, `add QOS ${want.name} for queue ${want.name}: ${describeQos(want)}`, ['add', 'qos', want.name, ...set]);
    else if (set.length > 0) add({ kind: 'modify-qos', qos: want }, `set QOS ${want.name} to queue ${want.name}'s limits: ${set.join(' ')}`, ['modify', 'qos', 'where', `name=${want.name}`, 'set', ...set]);
  }
  if (desiredQos.some((q) => q.maxTresPerJob['gres/gpu'] === undefined) && queues.some((q) => q.maxGpus > 0) && !slurm.tres.includes('gres/gpu')) {
    cannot.push('GPU limits per job (queue maxGpus): the cluster does not track gres/gpu as a TRES; add AccountingStorageTRES=gres/gpu to slurm.conf, restart slurmctld, and sync again');
  }

  // ---- accounts, top-down (the desired list is ordered root, workgroups, subgroups)
  for (const want of desiredAccounts) {
    const have = accountAssoc.get(want.name);
    if (!have) {
      const args = ['add', 'account', want.name, `cluster=${cluster}`, `parent=${want.parent}`, `Description=${want.description}`, `Organization=${root}`];
      if (want.fairshare !== 1) args.push(`Fairshare=${shareWord(want.fairshare)}`);
      if (want.qos) args.push(`QOS=${want.qos.join(',')}`);
      add({ kind: 'add-account', account: want.name, parent: want.parent, fairshare: want.fairshare, qos: want.qos }, `add account ${want.name} (${want.what})${want.fairshare !== 1 ? `, fair share ${shareWord(want.fairshare)}` : ''}${want.qos ? `, QOS ${want.qos.join(',')}` : ''}`, args);
      continue;
    }
    if (want.name !== root && !managed(want.name)) continue;
    const effect: Extract<SyncEffect, { kind: 'modify-account' }> = { kind: 'modify-account', account: want.name };
    const set: string[] = [];
    const words: string[] = [];
    if (want.name !== root && have.parent !== want.parent) {
      effect.parent = want.parent;
      set.push(`parent=${want.parent}`);
      words.push(`parent ${have.parent} → ${want.parent}`);
    }
    if (have.fairshare !== want.fairshare) {
      effect.fairshare = want.fairshare;
      set.push(`Fairshare=${shareWord(want.fairshare)}`);
      words.push(`fair share ${shareWord(have.fairshare)} → ${shareWord(want.fairshare)}`);
    }
    if (want.qos && !sameList(have.qos, want.qos)) {
      effect.qos = want.qos;
      set.push(`QOS=${want.qos.join(',')}`);
      words.push(`QOS ${have.qos.join(',') || '(none)'} → ${want.qos.join(',')}`);
    }
    if (set.length > 0) add(effect, `change account ${want.name} (${want.what}): ${words.join(', ')}`, ['modify', 'account', 'where', `name=${want.name}`, `cluster=${cluster}`, 'set', ...set]);
  }

  // ---- user associations
  const userAssocs = slurm.associations.filter((a) => a.user !== '');
  const assocKey = (user: string, account: string) => `${user}\u0000${account}`;
  const currentUserAssoc = new Map(userAssocs.map((a) => [assocKey(a.user, a.account), a]));
  const currentUser = new Map(slurm.users.map((u) => [u.name, u]));
  const accountQosAfter = (account: string): string[] | undefined => desiredAccounts.find((a) => a.name === account)?.qos ?? accountAssoc.get(account)?.qos;
  const wanted = new Set<string>();
  // New associations go in batches per account (and default account); default accounts are set after them.
  const additions = new Map<string, { account: string; defaultAccount: string | undefined; users: string[] }>();
  const defaults: Array<() => void> = [];
  for (const user of [...keisan.users].sort((a, b) => a.name.localeCompare(b.name))) {
    const accounts = [...new Set(user.subgroups)].filter((s) => qosOfSubgroup.has(s)).sort((a, b) => (a === user.primarySubgroup ? -1 : b === user.primarySubgroup ? 1 : a.localeCompare(b)));
    const exists = currentUser.has(user.name);
    for (const account of accounts) {
      wanted.add(assocKey(user.name, account));
      const have = currentUserAssoc.get(assocKey(user.name, account));
      if (!have) {
        const first = !exists && account === accounts[0];
        const defaultAccount = first && qosOfSubgroup.has(user.primarySubgroup) ? user.primarySubgroup : undefined;
        const key = `${account}\u0000${defaultAccount ?? ''}`;
        const batch = additions.get(key) ?? { account, defaultAccount, users: [] };
        batch.users.push(user.name);
        additions.set(key, batch);
        continue;
      }
      const effect: Extract<SyncEffect, { kind: 'modify-association' }> = { kind: 'modify-association', user: user.name, account };
      const set: string[] = [];
      if (have.fairshare !== 1) {
        effect.fairshare = 1;
        set.push('Fairshare=1');
      }
      // A user's association follows its account's QOS when it had the account's list; one set apart is set explicitly.
      const accountHad = accountAssoc.get(account)?.qos ?? [];
      const willHave = sameList(have.qos, accountHad) ? (accountQosAfter(account) ?? have.qos) : have.qos;
      const wantQos = qosOfSubgroup.get(account) ?? [];
      if (wantQos.length > 0 && !sameList(willHave, wantQos)) {
        effect.qos = wantQos;
        set.push(`QOS=${wantQos.join(',')}`);
      }
      if (set.length > 0) add(effect, `change user ${user.name} in account ${account}: ${set.join(' ')}`, ['modify', 'user', 'where', `name=${user.name}`, `account=${account}`, `cluster=${cluster}`, 'set', ...set]);
    }
    if (accounts.includes(user.primarySubgroup)) {
      const had = currentUser.get(user.name)?.defaultAccount;
      if (exists && had !== user.primarySubgroup) {
        defaults.push(() => add({ kind: 'set-default-account', user: user.name, account: user.primarySubgroup }, `set user ${user.name}'s default account ${had || '(none)'} → ${user.primarySubgroup} (primary subgroup)`, ['modify', 'user', 'where', `name=${user.name}`, `cluster=${cluster}`, 'set', `DefaultAccount=${user.primarySubgroup}`]));
      }
    }
  }
  const names = (users: string[]) => (users.length <= 5 ? users.join(', ') : `${users.slice(0, 5).join(', ')} and ${users.length - 5} more`);
  for (const { account, defaultAccount, users } of additions.values()) {
    for (const chunk of chunks(users, USERS_PER_COMMAND)) {
      const args = ['add', 'user', chunk.join(','), `account=${account}`, `cluster=${cluster}`, ...(defaultAccount ? [`DefaultAccount=${defaultAccount}`] : [])];
      add({ kind: 'add-association', users: chunk, account, ...(defaultAccount ? { defaultAccount } : {}) }, `add ${chunk.length === 1 ? 'user' : `${chunk.length} users`} ${names(chunk)} to account ${account}${defaultAccount ? ' (primary subgroup, default account)' : ''}`, args);
    }
  }
  for (const setDefault of defaults) setDefault();

  // ---- removals, bottom-up: user associations, then accounts deepest first, then Keisan's QOS
  // One association per command: given several names, sacctmgr 22.05 judges the default account of
  // the first one only and refuses the rest; one by one it removes a user with their last one.
  const removals = new Map<string, string[]>();
  for (const assoc of [...userAssocs].sort((a, b) => a.user.localeCompare(b.user) || a.account.localeCompare(b.account))) {
    if (!managed(assoc.account) || wanted.has(assocKey(assoc.user, assoc.account))) continue;
    removals.set(assoc.account, [...(removals.get(assoc.account) ?? []), assoc.user]);
  }
  for (const [account, users] of removals) {
    for (const chunk of chunks(users, 1)) {
      const why = desiredAccountNames.has(account) ? `not ${chunk.length === 1 ? 'a member' : 'members'} of ${account} in Keisan` : `${account} is gone from Keisan`;
      add({ kind: 'remove-association', users: chunk, account }, `remove ${chunk.length === 1 ? 'user' : `${chunk.length} users`} ${names(chunk)} from account ${account} (${why})`, ['delete', 'user', 'where', `name=${chunk.join(',')}`, `account=${account}`, `cluster=${cluster}`]);
    }
  }
  const depth = (account: string) => {
    let d = 0;
    for (let at = accountAssoc.get(account); at && at.parent && d < 100; at = accountAssoc.get(at.parent)) d++;
    return d;
  };
  const stale = [...accountAssoc.keys()].filter((a) => a !== root && managed(a) && !desiredAccountNames.has(a));
  for (const account of stale.sort((a, b) => depth(b) - depth(a) || a.localeCompare(b))) {
    add({ kind: 'remove-account', account }, `remove account ${account} (no longer a workgroup or subgroup in Keisan)`, ['delete', 'account', 'where', `name=${account}`, `cluster=${cluster}`]);
  }
  const queueNames = new Set(queues.map((q) => q.name));
  for (const qos of slurm.qos) {
    if (qos.description.startsWith(QOS_MARK) && !queueNames.has(qos.name)) add({ kind: 'remove-qos', qos: qos.name }, `remove QOS ${qos.name} (queue ${qos.name} is gone from Keisan)`, ['delete', 'qos', 'where', `name=${qos.name}`]);
  }

  cannot.push(...cannotExpress(keisan, slurm, queues));
  return { cluster, rootAccount: root, changes, cannotExpress: cannot };
}

/** The queue and cluster rules SLURM's accounting cannot hold, in words, with what to do by hand. */
function cannotExpress(keisan: KeisanPolicy, slurm: SlurmState, queues: Queue[]): string[] {
  const lines: string[] = [];
  const partitions = new Map(slurm.partitions.map((p) => [p.name, p]));
  for (const q of queues) {
    const p = partitionOf(q.name, keisan.partitions);
    const wall = formatSlurmMinutes(Math.ceil(q.wallTimeLimitMs / MINUTE_MS));
    const defaultTime = formatSlurmMinutes(Math.ceil(q.defaultTimeMs / MINUTE_MS));
    const partition = partitions.get(p);
    if (!partition) {
      lines.push(`queue ${q.name}: partition '${p}' is not in slurm.conf (sacctmgr cannot create partitions); add this line to slurm.conf and run scontrol reconfigure: PartitionName=${p} MaxTime=${wall} DefaultTime=${defaultTime} PriorityTier=${q.priority} Nodes=ALL State=${q.enabled ? 'UP' : 'INACTIVE'}`);
    } else {
      if (!q.enabled && partition.state === 'UP') lines.push(`queue ${q.name} is disabled in Keisan, but partition '${p}' is UP: run scontrol update PartitionName=${p} State=INACTIVE (and PartitionName=${p} State=INACTIVE in slurm.conf)`);
      if (q.enabled && partition.state !== 'UP') lines.push(`queue ${q.name} is enabled in Keisan, but partition '${p}' is ${partition.state}: run scontrol update PartitionName=${p} State=UP`);
      const maxTime = Math.ceil(q.wallTimeLimitMs / MINUTE_MS);
      if (partition.maxTimeMinutes !== null && partition.maxTimeMinutes < maxTime) lines.push(`queue ${q.name} allows ${wall}, but partition '${p}' stops jobs at ${formatSlurmMinutes(partition.maxTimeMinutes)} (a QOS cannot lift a partition's MaxTime): run scontrol update PartitionName=${p} MaxTime=${wall}`);
      if (partition.defaultTimeMinutes !== Math.ceil(q.defaultTimeMs / MINUTE_MS)) lines.push(`queue ${q.name}'s default time is ${defaultTime}; partition '${p}' has ${partition.defaultTimeMinutes === null ? 'none' : formatSlurmMinutes(partition.defaultTimeMinutes)} (only a partition holds a default time): run scontrol update PartitionName=${p} DefaultTime=${defaultTime}`);
      if (partition.allowQos !== 'ALL' && !partition.allowQos.split(',').includes(q.name)) lines.push(`partition '${p}' allows only the QOS ${partition.allowQos}, not ${q.name}: run scontrol update PartitionName=${p} AllowQos=${partition.allowQos},${q.name}`);
    }
    if (q.maxRunningPerHost !== null) lines.push(`queue ${q.name}: at most ${q.maxRunningPerHost} running jobs per host — SLURM has no per-node job count for a QOS or partition (the nearest is MaxTRESPerNode or the partition's MaxCPUsPerNode, which limit resources, not jobs)`);
    if (q.nice > 0) lines.push(`queue ${q.name}: nice ${q.nice} — Keisan lowers the OS CPU priority of the queue's processes; SLURM's --nice is a scheduling priority adjustment, not an OS nice, so the jobs run at nice 0 under SLURM`);
    if (q.fairShare === 'user') lines.push(`queue ${q.name}: fair share between users only — SLURM's fair share is one association tree for the whole cluster (workgroup → subgroup → user), it cannot skip the subgroup level for one queue`);
    if (q.cpuTimeLimitMs !== null) lines.push(`queue ${q.name}: a CPU-time limit of ${formatSlurmMinutes(Math.ceil(q.cpuTimeLimitMs / MINUTE_MS))} — SLURM's MaxTRESMinsPerJob=cpu=${Math.ceil(q.cpuTimeLimitMs / MINUTE_MS)} limits the CPUs × time limit a job asks for at submission, not the CPU time it really uses (Keisan's)`);
    if (q.priority !== (partition?.priorityTier ?? q.priority)) lines.push(`queue ${q.name}: priority ${q.priority} is a tier above fair share in Keisan; the QOS Priority only adds PriorityWeightQOS × ${q.priority}/max to a job's priority. For a strict tier, run scontrol update PartitionName=${p} PriorityTier=${q.priority}`);
  }
  if (!/multifactor/.test(slurm.priorityType)) lines.push(`slurm.conf has PriorityType=${slurm.priorityType || '(unset)'}: fair share (Fairshare) and QOS priorities take effect only with PriorityType=priority/multifactor`);
  const enforce = slurm.enforce.map((e) => e.toLowerCase());
  const missing = ['associations', 'limits', 'qos'].filter((e) => !enforce.includes(e) && !(e !== 'associations' && enforce.includes('safe')));
  if (missing.length > 0) lines.push(`slurm.conf's AccountingStorageEnforce lacks ${missing.join(',')}: SLURM does not refuse jobs of a foreign account, QOS or over a limit; set AccountingStorageEnforce=associations,limits,qos and restart slurmctld`);
  return lines;
}

// ---------------------------------------------------------------------------- model of applying

/**
 * SLURM's state after the changes, as sacctmgr applies them (a model for tests and for showing
 * what a plan would leave): accounts and associations added, changed and removed; a change of
 * an account's QOS carries to its users' associations that had the account's list.
 */
export function applyToState(state: SlurmState, changes: readonly SyncEffect[]): SlurmState {
  const associations = state.associations.map((a) => ({ ...a, qos: [...a.qos] }));
  let users = state.users.map((u) => ({ ...u }));
  let qos = state.qos.map((q) => ({ ...q }));
  let assocs = associations;
  const accountOf = (name: string) => assocs.find((a) => a.user === '' && a.account === name);
  for (const change of changes) {
    switch (change.kind) {
      case 'add-qos':
      case 'modify-qos':
        qos = [...qos.filter((q) => q.name !== change.qos.name), { ...change.qos }];
        break;
      case 'add-account': {
        const parentQos = accountOf(change.parent)?.qos ?? ['normal'];
        assocs.push({ account: change.account, user: '', parent: change.parent, fairshare: change.fairshare, qos: [...(change.qos ?? parentQos)].sort() });
        break;
      }
      case 'modify-account': {
        const account = accountOf(change.account)!;
        if (change.parent !== undefined) account.parent = change.parent;
        if (change.fairshare !== undefined) account.fairshare = change.fairshare;
        if (change.qos !== undefined) {
          for (const a of assocs) if (a.user !== '' && a.account === change.account && sameList(a.qos, account.qos)) a.qos = [...change.qos].sort();
          account.qos = [...change.qos].sort();
        }
        break;
      }
      case 'add-association':
        for (const user of change.users) {
          assocs.push({ account: change.account, user, parent: '', fairshare: 1, qos: [...(accountOf(change.account)?.qos ?? [])] });
          if (!users.some((u) => u.name === user)) users.push({ name: user, defaultAccount: change.defaultAccount ?? change.account });
        }
        break;
      case 'modify-association': {
        const a = assocs.find((x) => x.user === change.user && x.account === change.account)!;
        if (change.fairshare !== undefined) a.fairshare = change.fairshare;
        if (change.qos !== undefined) a.qos = [...change.qos].sort();
        break;
      }
      case 'set-default-account':
        users = users.map((u) => (u.name === change.user ? { ...u, defaultAccount: change.account } : u));
        break;
      case 'remove-association':
        for (const user of change.users) {
          assocs = assocs.filter((a) => !(a.user === user && a.account === change.account));
          if (!assocs.some((a) => a.user === user)) users = users.filter((u) => u.name !== user);
        }
        break;
      case 'remove-account':
        assocs = assocs.filter((a) => a.account !== change.account);
        break;
      case 'remove-qos':
        qos = qos.filter((q) => q.name !== change.qos);
        for (const a of assocs) a.qos = a.qos.filter((name) => name !== change.qos);
        break;
    }
  }
  return { ...state, associations: assocs, users, qos };
}
