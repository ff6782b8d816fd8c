import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Queue } from '../../model.ts';
import { defaultQueues } from '../../queues.ts';
import { applyToState, planSync, qosForQueue, scaledShares, type KeisanPolicy, type SlurmState, type SyncChange } from './sync-plan.ts';

const queue = (name: string, extra: Partial<Queue> = {}): Queue => ({ ...defaultQueues().find((q) => q.name === 'short')!, name, maxRunningPerHost: null, nice: 0, cpuTimeLimitMs: null, ...extra });

function policy(extra: Partial<KeisanPolicy> = {}): KeisanPolicy {
  return {
    rootAccount: 'keisan',
    workgroups: ['lab', 'phys'],
    subgroups: [
      { name: 'lab-ml', workgroup: 'lab' },
      { name: 'lab-bio', workgroup: 'lab' },
      { name: 'phys-hep', workgroup: 'phys' },
    ],
    users: [
      { name: 'alice', primarySubgroup: 'lab-ml', subgroups: ['lab-ml', 'phys-hep'] },
      { name: 'bob', primarySubgroup: 'lab-bio', subgroups: ['lab-bio'] },
      { name: 'olga', primarySubgroup: 'phys-hep', subgroups: ['phys-hep'] },
    ],
    queues: [queue('short'), queue('gpu', { priority: 50, maxGpus: 4, allowedSubgroups: ['lab-ml'] }), queue('physq', { workgroup: 'phys' })],
    subgroupShares: { 'lab-ml': 3 },
    partitions: { physq: 'phys' },
    ...extra,
  };
}

/** A fresh cluster with accounting: SLURM's root account and user, the normal QOS, partitions for every queue. */
function freshCluster(extra: Partial<SlurmState> = {}): SlurmState {
  return {
    cluster: 'tux',
    associations: [
      { account: 'root', user: '', parent: '', fairshare: 1, qos: ['normal'] },
      { account: 'root', user: 'root', parent: '', fairshare: 1, qos: ['normal'] },
    ],
    users: [{ name: 'root', defaultAccount: 'root' }],
    qos: [{ name: 'normal', description: 'Normal QOS default', priority: 0, maxWallMinutes: null, maxTresPerJob: {}, maxTresMinsPerJob: {}, maxJobsPerUser: null, maxJobsPerAccount: null, flags: [] }],
    partitions: ['short', 'gpu', 'phys'].map((name) => ({ name, state: 'UP', maxTimeMinutes: 60, defaultTimeMinutes: 30, priorityTier: name === 'gpu' ? 50 : 80, allowQos: 'ALL' })),
    tres: ['cpu', 'mem', 'node', 'billing', 'gres/gpu'],
    priorityType: 'priority/multifactor',
    enforce: ['associations', 'limits', 'qos'],
    ...extra,
  };
}

const commands = (changes: SyncChange[]) => changes.map((c) => c.command);
const kinds = (changes: SyncChange[]) => changes.map((c) => c.kind);

/** Applying the plan to the modelled state leaves nothing to change. */
function assertIdempotent(keisan: KeisanPolicy, slurm: SlurmState): SlurmState {
  const plan = planSync(keisan, slurm);
  const after = applyToState(slurm, plan.changes);
  assert.deepEqual(commands(planSync(keisan, after).changes), [], 'a second plan should be empty');
  return after;
}

describe('keisan admin slurm sync: the plan', () => {
  it('on a fresh cluster: QOS, then the account tree, then users, each with its exact sacctmgr line', () => {
    const plan = planSync(policy(), freshCluster());
    assert.equal(plan.cluster, 'tux');
    assert.deepEqual(kinds(plan.changes), ['add-qos', 'add-qos', 'add-qos', 'add-account', 'add-account', 'add-account', 'add-account', 'add-account', 'add-account', 'add-association', 'add-association', 'add-association', 'add-association']);
    assert.deepEqual(commands(plan.changes), [
      "sacctmgr -i add qos gpu Description='keisan queue gpu' Priority=50 MaxWall=01:00:00 MaxTRESPerJob=cpu=16,gres/gpu=4,mem=65536M MaxJobsPerUser=200 MaxJobsPerAccount=1000 Flags=DenyOnLimit",
      "sacctmgr -i add qos physq Description='keisan queue physq' Priority=80 MaxWall=01:00:00 MaxTRESPerJob=cpu=16,gres/gpu=2,mem=65536M MaxJobsPerUser=200 MaxJobsPerAccount=1000 Flags=DenyOnLimit",
      "sacctmgr -i add qos short Description='keisan queue short' Priority=80 MaxWall=01:00:00 MaxTRESPerJob=cpu=16,gres/gpu=2,mem=65536M MaxJobsPerUser=200 MaxJobsPerAccount=1000 Flags=DenyOnLimit",
      "sacctmgr -i add account keisan cluster=tux parent=root Description='keisan facility' Organization=keisan",
      "sacctmgr -i add account lab cluster=tux parent=keisan Description='keisan workgroup lab' Organization=keisan Fairshare=parent",
      "sacctmgr -i add account phys cluster=tux parent=keisan Description='keisan workgroup phys' Organization=keisan Fairshare=parent",
      "sacctmgr -i add account lab-bio cluster=tux parent=lab Description='keisan subgroup lab-bio of lab' Organization=keisan QOS=short",
      "sacctmgr -i add account lab-ml cluster=tux parent=lab Description='keisan subgroup lab-ml of lab' Organization=keisan Fairshare=3 QOS=gpu,short",
      "sacctmgr -i add account phys-hep cluster=tux parent=phys Description='keisan subgroup phys-hep of phys' Organization=keisan QOS=physq,short",
      'sacctmgr -i add user alice account=lab-ml cluster=tux DefaultAccount=lab-ml',
      'sacctmgr -i add user alice account=phys-hep cluster=tux',
      'sacctmgr -i add user bob account=lab-bio cluster=tux DefaultAccount=lab-bio',
      'sacctmgr -i add user olga account=phys-hep cluster=tux DefaultAccount=phys-hep',
    ]);
    assertIdempotent(policy(), freshCluster());
  });

  it('maps a queue to a QOS: priority, wall, per-job TRES, CPU minutes, running limits; GPUs only where gres/gpu is tracked', () => {
    const q = queue('long', { priority: 40, wallTimeLimitMs: 86_400_000, maxCpus: 32, maxMemBytes: 256 * 1024 ** 3, maxGpus: 8, cpuTimeLimitMs: 8 * 86_400_000, maxRunningPerUser: 50, maxRunningPerSubgroup: null });
    assert.deepEqual(qosForQueue(q, ['cpu', 'mem', 'gres/gpu']), {
      name: 'long',
      description: 'keisan queue long',
      priority: 40,
      maxWallMinutes: 1440,
      maxTresPerJob: { cpu: 32, mem: 262144, 'gres/gpu': 8 },
      maxTresMinsPerJob: { cpu: 11520 },
      maxJobsPerUser: 50,
      maxJobsPerAccount: null,
      flags: ['DenyOnLimit'],
    });
    assert.deepEqual(qosForQueue(q, ['cpu', 'mem']).maxTresPerJob, { cpu: 32, mem: 262144 });
    const plan = planSync(policy({ queues: [q] }), freshCluster({ tres: ['cpu', 'mem'], partitions: [] }));
    assert.ok(plan.cannotExpress.some((l) => /does not track gres\/gpu.*AccountingStorageTRES=gres\/gpu/.test(l)), plan.cannotExpress.join('\n'));
  });

  it('allowedSubgroups, allowedWorkgroups and a workgroup\'s own queue reach only those accounts', () => {
    const keisan = policy({ queues: [queue('short'), queue('gpu', { allowedSubgroups: ['lab-ml'] }), queue('labq', { allowedWorkgroups: ['lab'] }), queue('physq', { workgroup: 'phys' })] });
    const after = assertIdempotent(keisan, freshCluster({ partitions: [] }));
    const qosOf = (account: string, user = '') => after.associations.find((a) => a.account === account && a.user === user)!.qos;
    assert.deepEqual(qosOf('lab-ml'), ['gpu', 'labq', 'short']);
    assert.deepEqual(qosOf('lab-bio'), ['labq', 'short']);
    assert.deepEqual(qosOf('phys-hep'), ['physq', 'short']);
    assert.deepEqual(qosOf('lab-ml', 'alice'), ['gpu', 'labq', 'short']);
    assert.deepEqual(qosOf('phys-hep', 'alice'), ['physq', 'short']);
  });

  it('changes only what differs: a QOS limit, a share, a queue newly allowed, a default account', () => {
    const before = applyToState(freshCluster(), planSync(policy(), freshCluster()).changes);
    const keisan = policy({
      queues: [queue('short', { maxRunningPerUser: 20, maxRunningPerSubgroup: null }), queue('gpu', { priority: 50, maxGpus: 4, allowedSubgroups: ['lab-ml', 'lab-bio'] }), queue('physq', { workgroup: 'phys' })],
      subgroupShares: { 'lab-ml': 3, 'phys-hep': 2 },
      users: [
        { name: 'alice', primarySubgroup: 'phys-hep', subgroups: ['lab-ml', 'phys-hep'] },
        { name: 'bob', primarySubgroup: 'lab-bio', subgroups: ['lab-bio'] },
        { name: 'olga', primarySubgroup: 'phys-hep', subgroups: ['phys-hep'] },
      ],
    });
    const plan = planSync(keisan, before);
    assert.deepEqual(commands(plan.changes), [
      'sacctmgr -i modify qos where name=short set MaxJobsPerUser=20 MaxJobsPerAccount=-1',
      'sacctmgr -i modify account where name=lab-bio cluster=tux set QOS=gpu,short',
      'sacctmgr -i modify account where name=phys-hep cluster=tux set Fairshare=2',
      'sacctmgr -i modify user where name=alice cluster=tux set DefaultAccount=phys-hep',
    ]);
    assert.match(plan.changes[1]!.summary, /QOS short → gpu,short/);
    assertIdempotent(keisan, before);
  });

  it('removes only what is under the root account and gone from Keisan, users first, deepest accounts next, Keisan\'s QOS last', () => {
    const before = applyToState(freshCluster(), planSync(policy(), freshCluster()).changes);
    // Someone else's account (outside keisan) with a user, and a QOS that is not Keisan's.
    before.associations.push({ account: 'chem', user: '', parent: 'root', fairshare: 1, qos: ['normal'] }, { account: 'chem', user: 'carol', parent: '', fairshare: 1, qos: ['normal'] });
    before.users.push({ name: 'carol', defaultAccount: 'chem' });
    before.qos.push({ ...before.qos[0]!, name: 'chemq', description: 'chemistry' });
    const keisan = policy({
      workgroups: ['lab'],
      subgroups: [{ name: 'lab-ml', workgroup: 'lab' }],
      users: [{ name: 'alice', primarySubgroup: 'lab-ml', subgroups: ['lab-ml'] }],
      queues: [queue('short'), queue('gpu', { priority: 50, maxGpus: 4, allowedSubgroups: ['lab-ml'] })],
    });
    const plan = planSync(keisan, before);
    assert.deepEqual(commands(plan.changes), [
      'sacctmgr -i delete user where name=alice account=phys-hep cluster=tux',
      'sacctmgr -i delete user where name=olga account=phys-hep cluster=tux',
      'sacctmgr -i delete user where name=bob account=lab-bio cluster=tux',
      'sacctmgr -i delete account where name=lab-bio cluster=tux',
      'sacctmgr -i delete account where name=phys-hep cluster=tux',
      'sacctmgr -i delete account where name=phys cluster=tux',
      'sacctmgr -i delete qos where name=physq',
    ]);
    assert.equal(plan.changes[0]!.summary, 'remove user alice from account phys-hep (phys-hep is gone from Keisan)');
    const after = assertIdempotent(keisan, before);
    assert.ok(after.associations.some((a) => a.account === 'chem' && a.user === 'carol'), 'a foreign association is never touched');
    assert.ok(after.qos.some((q) => q.name === 'chemq'), 'a QOS that is not Keisan\'s is never removed');
    assert.ok(after.users.some((u) => u.name === 'alice') && !after.users.some((u) => u.name === 'bob'));
  });

  it('leaves an account of a Keisan name elsewhere in the tree alone, and says so', () => {
    const slurm = freshCluster();
    slurm.associations.push({ account: 'phys', user: '', parent: 'root', fairshare: 1, qos: ['normal'] }, { account: 'phys-hep', user: '', parent: 'phys', fairshare: 1, qos: ['normal'] });
    const plan = planSync(policy(), slurm);
    assert.ok(!plan.changes.some((c) => ('account' in c && (c.account === 'phys' || c.account === 'phys-hep')) || c.command.includes('phys-hep')), commands(plan.changes).join('\n'));
    assert.ok(plan.cannotExpress.some((l) => /account 'phys' already exists in SLURM outside 'keisan' \(under 'root'\).*set parent=keisan/.test(l)), plan.cannotExpress.join('\n'));
    assert.ok(plan.cannotExpress.some((l) => /account 'phys-hep' already exists in SLURM outside 'keisan' \(under 'phys'\)/.test(l)));
    // alice keeps her lab-ml association; olga (phys-hep only) gets none.
    assert.ok(plan.changes.some((c) => c.command === 'sacctmgr -i add user alice account=lab-ml cluster=tux DefaultAccount=lab-ml'));
    assert.ok(!plan.changes.some((c) => c.command.includes('olga')));
    assertIdempotent(policy(), slurm);
  });

  it('fixes a user association set apart from its account (QOS, fair share), and a changed parent', () => {
    const before = applyToState(freshCluster(), planSync(policy(), freshCluster()).changes);
    const alice = before.associations.find((a) => a.user === 'alice' && a.account === 'lab-ml')!;
    alice.qos = ['normal'];
    alice.fairshare = 10;
    before.associations.find((a) => a.user === '' && a.account === 'lab-bio')!.parent = 'phys';
    const plan = planSync(policy(), before);
    assert.deepEqual(commands(plan.changes), [
      'sacctmgr -i modify account where name=lab-bio cluster=tux set parent=lab',
      'sacctmgr -i modify user where name=alice account=lab-ml cluster=tux set Fairshare=1 QOS=gpu,short',
    ]);
    assertIdempotent(policy(), before);
  });

  it('adds many users of one account in few commands (removes them one by one: sacctmgr checks only the first name)', () => {
    const many = Array.from({ length: 450 }, (_, i) => ({ name: `u${String(i).padStart(3, '0')}`, primarySubgroup: 'lab-ml', subgroups: ['lab-ml', 'lab-bio'] }));
    const keisan = policy({ users: many });
    const plan = planSync(keisan, freshCluster());
    const adds = plan.changes.filter((c) => c.kind === 'add-association');
    assert.deepEqual(adds.map((c) => [c.kind === 'add-association' ? c.users.length : 0, c.args[3], c.args.at(-1)]), [
      [200, 'account=lab-ml', 'DefaultAccount=lab-ml'],
      [200, 'account=lab-ml', 'DefaultAccount=lab-ml'],
      [50, 'account=lab-ml', 'DefaultAccount=lab-ml'],
      [200, 'account=lab-bio', 'cluster=tux'],
      [200, 'account=lab-bio', 'cluster=tux'],
      [50, 'account=lab-bio', 'cluster=tux'],
    ]);
    assert.match(adds[0]!.summary, /^add 200 users u000, u001, u002, u003, u004 and 195 more to account lab-ml \(primary subgroup, default account\)$/);
    const after = assertIdempotent(keisan, freshCluster());
    const gone = planSync(policy({ users: many.slice(0, 10) }), after).changes;
    assert.deepEqual([gone.length, gone.every((c) => c.kind === 'remove-association' && c.users.length === 1)], [880, true]);
    // Users who keep an association lose the others account by account.
    const fewer = planSync(policy({ users: many.map((u) => ({ ...u, subgroups: ['lab-ml'] })) }), after).changes;
    assert.deepEqual([fewer.length, fewer.every((c) => c.kind === 'remove-association' && c.account === 'lab-bio')], [450, true]);
  });

  it('fair shares become whole numbers with the same ratios', () => {
    assert.deepEqual([...scaledShares(['a', 'b', 'c'], { a: 0.5, b: 1.5 }).shares], [['a', 5], ['b', 15], ['c', 10]]);
    assert.deepEqual([...scaledShares(['a', 'b'], { a: 2 }).shares], [['a', 2], ['b', 1]]);
    const odd = scaledShares(['a'], { a: 1 / 3 });
    assert.equal(odd.rounded, true);
    assert.equal(odd.shares.get('a'), 333);
    const plan = planSync(policy({ subgroupShares: { 'lab-ml': 0.25, nowhere: 2 } }), freshCluster());
    assert.ok(plan.changes.some((c) => c.command.includes('add account lab-ml') && c.command.includes('Fairshare=25')));
    assert.ok(plan.changes.some((c) => c.command.includes('add account lab-bio') && c.command.includes('Fairshare=100')));
    assert.ok(plan.cannotExpress.some((l) => /subgroupShares names 'nowhere', which is not a subgroup/.test(l)));
  });

  it('says in words what SLURM cannot express, with the command or slurm.conf line where one helps', () => {
    const keisan = policy({
      queues: [
        queue('short', { maxRunningPerHost: 4, nice: 5, fairShare: 'user', cpuTimeLimitMs: 8 * 3_600_000 }),
        queue('gpu', { enabled: false, priority: 50 }),
        queue('missing', { wallTimeLimitMs: 2 * 86_400_000, defaultTimeMs: 3_600_000, priority: 30 }),
      ],
    });
    const slurm = freshCluster({ priorityType: 'priority/basic', enforce: ['associations'] });
    slurm.partitions.find((p) => p.name === 'short')!.allowQos = 'normal';
    const lines = planSync(keisan, slurm).cannotExpress;
    const expect = [
      /queue short: at most 4 running jobs per host — SLURM has no per-node job count/,
      /queue short: nice 5 — .*--nice is a scheduling priority adjustment, not an OS nice/,
      /queue short: fair share between users only — .*cannot skip the subgroup level/,
      /queue short: a CPU-time limit of 08:00:00 — SLURM's MaxTRESMinsPerJob=cpu=480 limits the CPUs × time limit/,
      /partition 'short' allows only the QOS normal, not short: run scontrol update PartitionName=short AllowQos=normal,short/,
      /queue gpu is disabled in Keisan, but partition 'gpu' is UP: run scontrol update PartitionName=gpu State=INACTIVE/,
      /queue missing: partition 'missing' is not in slurm.conf .*: PartitionName=missing MaxTime=2-00:00:00 DefaultTime=01:00:00 PriorityTier=30 Nodes=ALL State=UP$/,
      /PriorityType=priority\/basic: fair share .* only with PriorityType=priority\/multifactor/,
      /AccountingStorageEnforce lacks limits,qos/,
    ];
    for (const pattern of expect) assert.ok(lines.some((l) => pattern.test(l)), `${pattern} not in:\n${lines.join('\n')}`);
    // Partition names come from batch.slurm.partitions: physq → phys exists, nothing said about it missing.
    assert.ok(!planSync(policy(), freshCluster()).cannotExpress.some((l) => /partition 'phys(q)?' is not in slurm.conf/.test(l)));
  });

  it('the default queues on a fresh cluster plan and settle in one pass', () => {
    const keisan = policy({ queues: defaultQueues(), partitions: {} });
    const after = assertIdempotent(keisan, freshCluster({ partitions: [] }));
    assert.deepEqual(after.associations.find((a) => a.account === 'lab-ml' && a.user === '')!.qos, ['express', 'huge', 'large', 'middle', 'short']);
    // An empty Keisan (no workgroups) still gets its root account and QOS, and nothing of SLURM's own is removed.
    const empty = planSync(policy({ workgroups: [], subgroups: [], users: [] }), freshCluster());
    assert.ok(!empty.changes.some((c) => c.kind.startsWith('remove')));
  });
});
