import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { readAudit } from '../../../accounts/audit.ts';
import { SYSTEM_ACTOR } from '../../../accounts/model.ts';
import type { Db } from '../../../db/connection.ts';
import { describeEachDatabase } from '../../../db/testing.ts';
import { parseSettings } from '../../../lib/config.ts';
import { expectCode, runKeisan } from '../../../cli/testing.ts';
import { buildApp, type KeisanApp } from '../../../server/app.ts';
import { OPERATOR_PASSWORD_FILE } from '../../../server/facility.ts';
import { startServer, type RunningServer } from '../../../server/main.ts';
import { initTestDataDir, responseError, responseJson, seedLab } from '../../../server/testing.ts';
import { slurmUsageRows, type ImportResult } from './accounting.ts';
import { SlurmCommandError } from './run.ts';
import { parseAssociations, parseQos, parseUsers } from './sacctmgr.ts';
import { planSync, type SyncPlan } from './sync-plan.ts';
import { readSlurmState, type SyncResult } from './sync.ts';
import { slurmAccountingSkip, startTestSlurm, type TestSlurm } from './testing.ts';

/**
 * `keisan admin slurm sync` and the sacct import against a real SLURM cluster with accounting
 * (slurmdbd on MariaDB, AccountingStorageEnforce=associations,limits,qos): through the API, then
 * checked with SLURM's own sacctmgr, sbatch and sacct. Skipped without SLURM, MariaDB or root.
 */
const SKIP = slurmAccountingSkip();
const required = process.env.KEISAN_REQUIRE_SERVICES === '1';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const NOBODY = 65534;

if (SKIP && required) {
  describe('keisan admin slurm sync on a real cluster', () => {
    it('has what it needs', () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${SKIP}`);
    });
  });
}

describe('keisan admin slurm sync on a real cluster', { skip: SKIP, timeout: 600_000 }, () => {
  let slurm: TestSlurm;
  before(async () => {
    slurm = await startTestSlurm({ accounting: true });
  });
  after(async () => {
    await slurm?.stop();
  });

  /** sbatch as root or as `nobody` (a Keisan user of that name gets the association); the job id, or SLURM's refusal. */
  const sbatch = async (args: string[], asNobody = false): Promise<number | string> => {
    try {
      const { stdout } = await slurm.run('sbatch', ['--parsable', `--chdir=${slurm.work}`, '--output=/dev/null', ...args], asNobody ? { uid: NOBODY, gid: NOBODY } : {});
      return Number(stdout.trim().split(';')[0]);
    } catch (error) {
      if (error instanceof SlurmCommandError) return error.stderr.trim();
      throw error;
    }
  };
  const sacctState = async (id: number, timeoutMs = 90_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // slurmdbd may record a short job's end before its start (partition, QOS): wait for both.
      const [state = '', partition = ''] = (await slurm.run('sacct', ['-n', '-P', '-X', '-j', String(id), '-o', 'State,Partition'])).stdout.trim().split('|');
      if (/^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY)/.test(state) && partition !== '') return state;
      if (Date.now() > deadline) throw new Error(`job ${id}: sacct says '${state}' after ${timeoutMs / 1000} s`);
      await sleep(500);
    }
  };

  describeEachDatabase('sync and import through the API', (database) => {
    let db: Db & { dispose(): Promise<void> };
    let app: KeisanApp;
    beforeEach(async () => {
      db = await database.open();
      const settings = parseSettings({ accounts: { passwordHash: { cost: 1024 } }, batch: { executor: 'slurm', subgroupShares: { 'lab-ml': 3 }, slurm: { conf: slurm.conf } } }, 'test');
      app = await buildApp({ settings, db, nodeSecret: 'node-secret' });
      await seedLab(app.keisan.accounts);
      await app.keisan.accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-cv' });
      await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'nobody', primarySubgroup: 'lab-ml' });
      await app.keisan.accounts.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'lab-cv' });
      await app.keisan.accounts.setMembership(SYSTEM_ACTOR, 'lab-ml', 'bob', true);
      await app.keisan.batch.addQueue(SYSTEM_ACTOR, { name: 'vision', allowedSubgroups: ['lab-cv'] });
    });
    afterEach(async () => {
      // Leave the cluster as it was for the other database's run: everything under keisan and Keisan's QOS go.
      const run = slurm.run;
      const empty = planSync({ rootAccount: 'keisan', workgroups: [], subgroups: [], users: [], queues: [], subgroupShares: {}, partitions: {} }, await readSlurmState(run));
      // Keisan's QOS stay: SLURM's controller may go on using a removed QOS's id for a moment after it is made again.
      for (const change of empty.changes.filter((c) => c.kind !== 'remove-qos')) await run('sacctmgr', ['-i', ...change.args]);
      await run('sacctmgr', ['-i', 'delete', 'account', 'where', 'name=keisan', `cluster=${slurm.clusterName}`]);
      await app.close();
      await db.dispose();
    });

    const as = async (user: string) => {
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } });
      const ticket = (login.json() as { ticket: string }).ticket;
      return (method: 'GET' | 'POST', url: string, payload?: object) => app.inject({ method, url, headers: { authorization: `Bearer ${ticket}` }, ...(payload ? { payload } : {}) });
    };

    it('previews, applies, leaves nothing to change, and SLURM then enforces the mapping', async () => {
      const olga = await as('olga');
      const alice = await as('alice');
      responseError(await alice('GET', '/api/admin/slurm/sync'), 403, /only an operator may see the SLURM sync plan/);
      responseError(await alice('POST', '/api/admin/slurm/sync'), 403, /only an operator may change SLURM's accounts and QOS/);

      const plan = responseJson<SyncPlan>(await olga('GET', '/api/admin/slurm/sync'), 200);
      assert.equal(plan.cluster, slurm.clusterName);
      const lines = plan.changes.map((c) => c.command);
      for (const expected of [
        `sacctmgr -i add account keisan cluster=${slurm.clusterName} parent=root`,
        `sacctmgr -i add account lab cluster=${slurm.clusterName} parent=keisan`,
        `sacctmgr -i add account lab-ml cluster=${slurm.clusterName} parent=lab Description='keisan subgroup lab-ml of lab' Organization=keisan Fairshare=3 QOS=express,huge,large,middle,short`,
        `sacctmgr -i add account lab-cv cluster=${slurm.clusterName} parent=lab Description='keisan subgroup lab-cv of lab' Organization=keisan QOS=express,huge,large,middle,short,vision`,
        `sacctmgr -i add user alice,nobody,olga account=lab-ml cluster=${slurm.clusterName} DefaultAccount=lab-ml`,
        `sacctmgr -i add user bob account=lab-cv cluster=${slurm.clusterName} DefaultAccount=lab-cv`,
        `sacctmgr -i add user bob account=lab-ml cluster=${slurm.clusterName}`,
      ]) {
        assert.ok(lines.some((l) => l.startsWith(expected)), `no change starts with ${expected}:\n${lines.join('\n')}`);
      }
      assert.ok(plan.cannotExpress.some((l) => /partition 'vision' is not in slurm.conf .*PartitionName=vision MaxTime=01:00:00/.test(l)), plan.cannotExpress.join('\n'));
      assert.ok(plan.cannotExpress.some((l) => /queue express: at most 4 running jobs per host/.test(l)));
      // The preview changed nothing.
      assert.ok(!parseAssociations((await slurm.run('sacctmgr', ['-n', '-P', 'show', 'assoc', `cluster=${slurm.clusterName}`, 'format=Account,User,ParentName,Fairshare,QOS'])).stdout).some((a) => a.account === 'keisan'));

      const result = responseJson<SyncResult>(await olga('POST', '/api/admin/slurm/sync'), 200);
      assert.deepEqual(result.applied.map((c) => c.command), lines);
      assert.deepEqual(result.remaining, [], 'SLURM read again should match Keisan');
      assert.deepEqual(responseJson<SyncPlan>(await olga('GET', '/api/admin/slurm/sync'), 200).changes, [], 'a second sync is empty');

      // What SLURM now has, in its own words.
      const assocs = parseAssociations((await slurm.run('sacctmgr', ['-n', '-P', 'show', 'assoc', `cluster=${slurm.clusterName}`, 'format=Account,User,ParentName,Fairshare,QOS'])).stdout);
      const find = (account: string, user = '') => assocs.find((a) => a.account === account && a.user === user);
      assert.equal(find('keisan')?.parent, 'root');
      assert.deepEqual([find('lab')?.parent, find('lab')?.fairshare], ['keisan', 'parent']);
      assert.deepEqual([find('lab-ml')?.parent, find('lab-ml')?.fairshare, find('lab-ml')?.qos], ['lab', 3, ['express', 'huge', 'large', 'middle', 'short']]);
      assert.deepEqual(find('lab-cv')?.qos, ['express', 'huge', 'large', 'middle', 'short', 'vision']);
      for (const [user, account] of [['alice', 'lab-ml'], ['olga', 'lab-ml'], ['nobody', 'lab-ml'], ['bob', 'lab-cv'], ['bob', 'lab-ml']] as const) assert.ok(find(account, user), `no association ${user} in ${account}`);
      const users = parseUsers((await slurm.run('sacctmgr', ['-n', '-P', 'show', 'user', 'format=User,DefaultAccount'])).stdout);
      assert.equal(users.find((u) => u.name === 'bob')?.defaultAccount, 'lab-cv');
      assert.equal(parseQos((await slurm.run('sacctmgr', ['-n', '-P', 'show', 'qos', 'vision', 'format=Name,Description,Priority,MaxWall,MaxTRESPerJob,MaxTRESMinsPerJob,MaxJobsPerUser,MaxJobsPerAccount,Flags'])).stdout)[0]?.description, 'keisan queue vision');
      const short = parseQos((await slurm.run('sacctmgr', ['-n', '-P', 'show', 'qos', 'short', 'format=Name,Description,Priority,MaxWall,MaxTRESPerJob,MaxTRESMinsPerJob,MaxJobsPerUser,MaxJobsPerAccount,Flags'])).stdout)[0]!;
      assert.deepEqual(
        { priority: short.priority, wall: short.maxWallMinutes, cpu: short.maxTresPerJob.cpu, mem: short.maxTresPerJob.mem, cpuMins: short.maxTresMinsPerJob.cpu, perUser: short.maxJobsPerUser, perAccount: short.maxJobsPerAccount, flags: short.flags },
        { priority: 80, wall: 60, cpu: 16, mem: 65536, cpuMins: 480, perUser: 200, perAccount: 1000, flags: ['DenyOnLimit'] },
      );

      // AccountingStorageEnforce: the subgroup's account with a queue's QOS is taken; anything else is refused.
      const accepted = await sbatch(['--hold', '--account=lab-ml', '--qos=short', '--partition=short', '--time=5', '--wrap=true'], true);
      assert.equal(typeof accepted, 'number', `sbatch as nobody in lab-ml with qos short was refused: ${String(accepted)}`);
      assert.match(String(await sbatch(['--hold', '--account=lab-cv', '--qos=short', '--partition=short', '--time=5', '--wrap=true'], true)), /Invalid account or account\/partition combination/);
      assert.match(String(await sbatch(['--hold', '--account=lab-ml', '--qos=vision', '--partition=short', '--time=5', '--wrap=true'], true)), /Invalid qos specification/);
      assert.match(String(await sbatch(['--hold', '--account=lab-ml', '--qos=short', '--partition=short', '--time=5', '--wrap=true'])), /Invalid account or account\/partition combination/, 'root is not in lab-ml');
      assert.match(String(await sbatch(['--hold', '--account=lab-ml', '--qos=express', '--partition=express', '--cpus-per-task=1', '--time=30', '--wrap=true'], true)), /QOSMaxWallDurationPerJobLimit|Job violates accounting\/QOS policy/, 'DenyOnLimit refuses a job over the QOS wall time');
      await slurm.run('scancel', [String(accepted)]);

      const audit = await readAudit(db.kysely, { action: 'slurm.' });
      assert.deepEqual(audit.map((e) => `${e.actor} ${e.action} ${e.target} ${e.outcome}`).sort(), [`alice slurm.sync keisan denied`, `alice slurm.sync keisan denied`, `olga slurm.sync ${slurm.clusterName} ok`]);
    });

    it('imports jobs run outside Keisan with their CPU time, skips Keisan\'s own, and re-imports in place', async () => {
      const olga = await as('olga');
      responseJson<SyncResult>(await olga('POST', '/api/admin/slurm/sync'), 200);
      const from = new Date(Date.now() - 60_000);
      const busy = '--wrap=i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done';
      const mine = await sbatch(['--account=lab-ml', '--qos=short', '--partition=short', '--time=5', busy], true);
      const foreign = await sbatch(['--partition=short', '--time=5', busy]);
      const keisanJob = await sbatch(['--partition=short', '--time=5', '--wrap=true']);
      assert.ok(typeof mine === 'number' && typeof foreign === 'number' && typeof keisanJob === 'number', `sbatch refused: ${String(mine)} ${String(foreign)} ${String(keisanJob)}`);
      await insertKeisanJob(db, String(keisanJob));
      for (const id of [mine, foreign, keisanJob]) assert.equal(await sacctState(id), 'COMPLETED');
      const to = new Date(Date.now() + 60_000);

      const alice = await as('alice');
      responseError(await alice('POST', '/api/admin/slurm/import-usage', {}), 403, /only an operator may import SLURM's accounting/);
      responseError(await olga('POST', '/api/admin/slurm/import-usage', { from: 'yesterday' }), 400, /from: 'yesterday' is not a time/);
      const first = responseJson<ImportResult>(await olga('POST', '/api/admin/slurm/import-usage', { from: from.toISOString(), to: to.toISOString() }), 200);
      assert.equal(first.cluster, slurm.clusterName);
      assert.ok(first.keisanJobs >= 1, JSON.stringify(first));
      const rows = await db.kysely.selectFrom('slurm_usage').selectAll().orderBy('job_id').execute();
      const byId = new Map(rows.map((r) => [r.job_id, r]));
      assert.ok(!byId.has(String(keisanJob)), 'a Keisan job (jobs.external_id) is not imported');
      const ml = byId.get(String(mine));
      assert.ok(ml, `job ${mine} was not imported: ${JSON.stringify(rows)}`);
      assert.deepEqual([ml.user_name, ml.account, ml.subgroup, ml.workgroup, ml.partition, ml.qos, ml.state, ml.cpus], ['nobody', 'lab-ml', 'lab-ml', 'lab', 'short', 'short', 'completed', 1]);
      assert.ok(Number(ml.cpu_seconds) > 0.05, `CPU time from sacct: ${ml.cpu_seconds}`);
      assert.ok(ml.started_at && ml.ended_at >= ml.started_at);
      const other = byId.get(String(foreign));
      assert.ok(other);
      assert.deepEqual([other.user_name, other.account, other.subgroup, other.workgroup], ['root', 'root', null, null]);
      assert.ok(Number(other.cpu_seconds) > 0.05);

      const again = responseJson<ImportResult>(await olga('POST', '/api/admin/slurm/import-usage', { from: from.toISOString(), to: to.toISOString() }), 200);
      assert.equal(again.imported, first.imported);
      assert.equal((await db.kysely.selectFrom('slurm_usage').select('id').execute()).length, rows.length, 're-importing updates, adds nothing');

      const usage = await slurmUsageRows(db.kysely, from, to);
      const row = usage.find((u) => u.user_name === 'nobody' && u.cpu_seconds > 0);
      assert.ok(row && row.subgroup === 'lab-ml' && row.cpu_seconds > 0.05 && row.gpu_seconds === 0, JSON.stringify(usage));
      assert.ok((await readAudit(db.kysely, { action: 'slurm.import-usage', outcome: 'ok' })).length === 2);
    });

    it('says when SLURM is not the executor, previews with --conf, and turns an unreachable SLURM into a 503', async () => {
      const local = await buildApp({ settings: parseSettings({ accounts: { passwordHash: { cost: 1024 } } }, 'test'), db, nodeSecret: 'node-secret' });
      try {
        const login = await local.inject({ method: 'POST', url: '/api/auth/login', payload: { user: 'olga', password: 'olga password' } });
        const headers = { authorization: `Bearer ${(login.json() as { ticket: string }).ticket}` };
        responseError(await local.inject({ method: 'GET', url: '/api/admin/slurm/sync', headers }), 400, /batch.executor is 'local': no SLURM cluster is configured.*--conf/);
        responseError(await local.inject({ method: 'POST', url: '/api/admin/slurm/sync', headers }), 400, /batch.executor is 'local'.*Set batch.executor: slurm/);
        responseError(await local.inject({ method: 'GET', url: '/api/admin/slurm/sync?conf=etc/slurm.conf', headers }), 400, /not a slurm.conf on the server: give the absolute path/);
        const preview = responseJson<SyncPlan>(await local.inject({ method: 'GET', url: `/api/admin/slurm/sync?conf=${encodeURIComponent(slurm.conf)}`, headers }), 200);
        assert.ok(preview.changes.length > 0);
        // A slurm.conf whose controller and slurmdbd do not answer.
        const dead = path.join(slurm.dir, 'dead.conf');
        fs.writeFileSync(dead, fs.readFileSync(slurm.conf, 'utf8').replace(/^SlurmctldPort=.*$/m, 'SlurmctldPort=9').replace(/^AccountingStoragePort=.*$/m, 'AccountingStoragePort=9'));
        responseError(await local.inject({ method: 'GET', url: `/api/admin/slurm/sync?conf=${encodeURIComponent(dead)}`, headers }), 503, /SLURM could not be reached/);
      } finally {
        await local.close();
      }
    });
  });

  describe('keisan admin slurm, the commands against keisan server', () => {
    let scratch: string;
    let home: string;
    let server: RunningServer;
    before(async () => {
      scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keisan-slurm-cli-'));
      home = path.join(scratch, 'op');
      const data = path.join(scratch, 'data');
      delete process.env.KEISAN_DATABASE_URL;
      process.env.KEISAN_LOG_LEVEL = 'warn';
      initTestDataDir(data, { batch: { executor: 'slurm', slurm: { conf: slurm.conf } } });
      server = await startServer({ dataDir: data, port: 0 });
      const [name = '', password = ''] = fs.readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
      expectCode(await runKeisan(home, ['login', name, '--password-stdin', '--server', server.url], password), 0);
    });
    after(async () => {
      await server?.close();
      if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    it('sync shows the steps and changes nothing, --apply makes them and finds nothing left, import-usage reports what it imported', async () => {
      const preview = expectCode(await runKeisan(home, ['admin', 'slurm', 'sync']), 0).stdout;
      assert.match(preview, /SLURM cluster \S+ \(root account keisan\): \d+ changes to make — nothing changed; run with --apply to make them:/);
      assert.match(preview, /sacctmgr -i add account keisan cluster=\S+ parent=root/);
      assert.match(preview, /SLURM cannot express these \d+/);
      const json = JSON.parse(expectCode(await runKeisan(home, ['admin', 'slurm', 'sync', '--json']), 0).stdout) as SyncPlan;
      assert.ok(json.changes.length > 0 && json.changes.every((c) => c.command.startsWith('sacctmgr -i ')));
      expectCode(await runKeisan(home, ['admin', 'slurm', 'sync', '--apply', '--conf', slurm.conf]), 2);
      const applied = expectCode(await runKeisan(home, ['admin', 'slurm', 'sync', '--apply']), 0).stdout;
      assert.match(applied, new RegExp(`Applied ${json.changes.length} changes to SLURM cluster`));
      assert.match(applied, /Read SLURM again: nothing is left to change\./);
      assert.match(expectCode(await runKeisan(home, ['admin', 'slurm', 'sync']), 0).stdout, /matches Keisan \(root account keisan\): nothing to change\./);
      const imported = expectCode(await runKeisan(home, ['admin', 'slurm', 'import-usage', '--from', new Date(Date.now() - 3_600_000).toISOString()]), 0).stdout;
      assert.match(imported, /Imported \d+ jobs? run outside Keisan on SLURM cluster/);
      assert.match(expectCode(await runKeisan(home, ['admin', 'slurm', 'import-usage', '--from', 'last week']), 2).stderr, /from: 'last week' is not a time/);
      if (process.env.KEISAN_SHOW_CLI) process.stdout.write(`${preview}\n${applied}\n${imported}\n`);
    });
  });
});

/** A job of Keisan's own that ran through SLURM: what the executor records (jobs.external_id). */
async function insertKeisanJob(db: Db, externalId: string): Promise<void> {
  const at = new Date().toISOString();
  await db.kysely
    .insertInto('jobs')
    .values({
      array_job_id: null, array_task_id: null, array_max_running: null, user_name: 'alice', uid: 10001, gid: 5001, subgroup: 'lab-ml', workgroup: 'lab', queue: 'short', name: 'k', state: 'completed', held: 0,
      script: 'true', args: '[]', cpus: 1, mem_bytes: 1, gpus: 0, gpu_type: null, time_limit_ms: 60_000, eligible_at: null, dependencies: '[]', submit_dir: '/tmp', chdir: '/tmp', output: '/dev/null', error: '/dev/null',
      env: '{}', mail: '{}', mail_user: null, submitted_at: at, started_at: at, ended_at: at, node: null, gpu_indices: null, exit_code: 0, exit_signal: null, reason: null, cpu_seconds: 0, max_rss_bytes: null, gpu_seconds: 0,
      transitions: '[]', external_id: externalId,
    })
    .execute();
}
