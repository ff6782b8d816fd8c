import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { parseSettings } from '../lib/config.ts';
import { describeWithSmtp, TestSmtpServer, type DeliveredMessage } from '../monitor/testing-smtp.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { LocalExecutor } from './executors/local/executor.ts';
import { jobReport } from './job-mail.ts';
import type { NodeResources } from './model.ts';
import type { Job } from './store.ts';

const GIB = 1024 ** 3;

describe('job report', () => {
  const base = {
    id: 42,
    name: 'train',
    user: 'alice',
    queue: 'short',
    exitCode: null,
    exitSignal: 'SIGKILL',
    node: 'node1',
    gpuIndices: [1],
    cpus: 4,
    memBytes: 2 * GIB,
    timeLimitMs: 3_600_000,
    submittedAt: '2026-03-02T08:00:00.000Z',
    startedAt: '2026-03-02T08:00:05.000Z',
    endedAt: '2026-03-02T08:12:35.000Z',
    cpuSeconds: 2950.5,
    maxRssBytes: 2 * GIB,
    output: '/home/alice/slurm-42.out',
    error: '/home/alice/slurm-42.err',
    submitDir: '/home/alice',
  };

  it('out of memory: the memory limit and the peak, with wall and CPU time', () => {
    const report = jobReport({ ...base, state: 'out-of-memory', reason: 'out of memory: the kernel killed 1 of its processes at its 2.0 GiB memory limit (peak 2.0 GiB)' }, 'Job 42 (train) ran out of its 2.0 GiB memory and was stopped');
    assert.equal(report.summary, 'killed by SIGKILL · wall 12m30s · cpu 49m11s · memory peak 2.0 GiB of its 2.0 GiB limit · out of memory: the kernel killed 1 of its processes at its 2.0 GiB memory limit (peak 2.0 GiB)');
    assert.match(report.text, /^Job 42 \(train\) ran out of its 2\.0 GiB memory and was stopped\.\n/);
    for (const line of [
      /^ {2}job id +42$/m,
      /^ {2}state +out-of-memory$/m,
      /^ {2}exit code +killed by SIGKILL$/m,
      /^ {2}wall time +12m30s$/m,
      /^ {2}cpu time +49m11s$/m,
      /^ {2}memory limit +2\.0 GiB$/m,
      /^ {2}memory peak +2\.0 GiB$/m,
      /^ {2}GPUs +1$/m,
      /^ {2}output +\/home\/alice\/slurm-42\.out$/m,
      /^ {2}error +\/home\/alice\/slurm-42\.err$/m,
    ]) {
      assert.match(report.text, line);
    }
  });

  it('timeout: the time limit; a job that began: where it runs', () => {
    const timeout = jobReport({ ...base, state: 'timeout', reason: 'ran past its time limit; all its processes were killed' }, 'Job 42 (train) ran past its time limit of 1h and was stopped');
    assert.match(timeout.summary, /time limit 1h/);
    assert.match(timeout.text, /^ {2}time limit +1h$/m);
    const began = jobReport({ ...base, state: 'running', endedAt: null, exitSignal: null, cpuSeconds: null, maxRssBytes: null, reason: null }, 'Job 42 (train) started');
    assert.equal(began.summary, 'on node1 with GPU 1');
    assert.doesNotMatch(began.text, /exit code|wall time/);
  });
});

/**
 * Job mail end to end: jobs submitted through the API with --mail run for real; their notices
 * go through the outbox to a real SMTP server on loopback and arrive with the numbers.
 */
const NODE: NodeResources = { name: 'node1', cpus: 4, memBytes: 8 * GIB, gpus: [], accepting: true };
const NOBODY_UID = 65534;

describeWithSmtp('job mail through the API', () => {
  let smtp: TestSmtpServer;
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-job-mail-'));
  chmodSync(scratch, 0o777);
  before(async () => {
    smtp = await TestSmtpServer.start();
  });
  after(async () => {
    await smtp?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  describeEachDatabase('job mail', (database) => {
    let db: Db & { dispose(): Promise<void> };
    let app: KeisanApp;
    let work: string;
    const tickets: Record<string, string> = {};

    beforeEach(async () => {
      db = await database.open();
      work = mkdtempSync(path.join(scratch, 'work-'));
      chmodSync(work, 0o777);
      const settings = parseSettings(
        { facility: { name: 'Test Centre' }, accounts: { passwordHash: { cost: 1024 } }, mail: { from: 'Keisan <keisan@example.org>', smtp: { host: '127.0.0.1', port: smtp.port } } },
        'test',
      );
      const executor = new LocalExecutor({ stateDir: path.join(work, 'state'), cgroups: false });
      app = await buildApp({ settings, db, nodeSecret: 'secret', jobs: { executor, node: NODE } });
      const { accounts } = app.keisan;
      await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
      await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', uid: NOBODY_UID, email: `alice-${database.dialect}@example.org`, password: 'alice password' });
      await accounts.createUser(SYSTEM_ACTOR, { name: 'bob', primarySubgroup: 'lab-ml', uid: NOBODY_UID - 1, password: 'bob password' });
      for (const name of ['alice', 'bob']) {
        const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user: name, password: `${name} password` } });
        tickets[name] = (login.json() as { ticket: string }).ticket;
      }
    });
    afterEach(async () => {
      await app.close();
      await db.dispose();
    });

    const api = async (user: string, method: 'GET' | 'POST', url: string, payload?: unknown) => {
      const response = await app.inject({ method, url, headers: { authorization: `Bearer ${tickets[user]}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
      return { status: response.statusCode, body: response.json() as unknown };
    };
    const submit = async (user: string, script: string, options: Record<string, unknown> = {}) => {
      const response = await api(user, 'POST', '/api/jobs', { script, args: [], submitDir: work, environment: { PATH: '/usr/bin:/bin' }, options });
      assert.equal(response.status, 201, JSON.stringify(response.body));
      return (response.body as { jobs: number[] }).jobs[0]!;
    };
    async function ended(user: string, id: number, ms = 20_000): Promise<Job> {
      const deadline = Date.now() + ms;
      for (;;) {
        const job = (await api(user, 'GET', `/api/jobs/${id}`)).body as Job;
        if (!['pending', 'running'].includes(job.state)) return job;
        if (Date.now() > deadline) throw new Error(`job ${id} is still ${job.state} after ${ms} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const notices = async (user: string) => (await api(user, 'GET', '/api/notifications')).body as { title: string; body: string }[];

    it('mails the owner at the end with the numbers: completed, failed with its exit code, timeout with its limit', async () => {
      const alice = `alice-${database.dialect}@example.org`;
      const list = `lab-list-${database.dialect}@example.org`;
      const timeout = await submit('alice', '#!/bin/sh\n#SBATCH --job-name=slow\n#SBATCH --time=0:01\nsleep 30\n', { mail: 'fail' });
      const ok = await submit('alice', '#!/bin/sh\n#SBATCH --job-name=fine\necho hello\n', { mail: 'end' });
      const bad = await submit('alice', '#!/bin/sh\n#SBATCH --job-name=broken\n#SBATCH --mail-type=FAIL\nexit 3\n', { mailUser: list });
      const quiet = await submit('alice', '#!/bin/sh\n#SBATCH --job-name=quiet\nexit 4\n');
      // Job ids start again on each engine's fresh database: tell this run's messages by their recipients.
      const mine = (subject: string) => (m: DeliveredMessage) => m.subject === subject && m.rcptTo.some((to) => to.includes(database.dialect));

      const fine = await smtp.waitFor(mine(`Job ${ok} (fine) completed`));
      assert.deepEqual(fine.rcptTo, [alice]);
      assert.equal(fine.from, 'Keisan <keisan@example.org>');
      const okJob = await ended('alice', ok);
      for (const line of [
        new RegExp(`^ {2}job id +${ok}$`, 'm'),
        /^ {2}name +fine$/m,
        /^ {2}queue +\w+$/m,
        /^ {2}state +completed$/m,
        /^ {2}exit code +0$/m,
        /^ {2}wall time +\d+s$/m,
        /^ {2}cpu time +\d+\.\d+ s$/m,
        /^ {2}max RSS +not measured$/m,
        new RegExp(`^ {2}output +${okJob.output.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
      ]) {
        assert.match(fine.text, line, fine.text);
      }
      assert.match(fine.text, /\n-- \nTest Centre\n$/);

      const broken = await smtp.waitFor(mine(`Job ${bad} (broken) failed with exit code 3`));
      assert.deepEqual(broken.rcptTo, [list], '--mail-user wins over the account address');
      assert.match(broken.text, /^ {2}exit code +3$/m);
      assert.match(broken.text, /^ {2}state +failed$/m);

      const slow = await smtp.waitFor(mine(`Job ${timeout} (slow) ran past its time limit of 1s and was stopped`), 20_000);
      assert.deepEqual(slow.rcptTo, [alice]);
      assert.match(slow.text, /^ {2}state +timeout$/m);
      assert.match(slow.text, /^ {2}time limit +1s$/m);
      assert.match(slow.text, /^ {2}wall time +[1-9]s$/m);

      assert.equal((await ended('alice', quiet)).state, 'failed');
      assert.ok(!smtp.messages().some((m) => m.subject.startsWith(`Job ${quiet} `) && m.rcptTo.some((to) => to.includes(database.dialect))), 'a job that asked for no mail sends none');

      // The in-app notices carry the same numbers.
      const inApp = await notices('alice');
      const failedNotice = inApp.find((n) => n.title === `Job ${bad} (broken) failed with exit code 3`);
      assert.match(failedNotice?.body ?? '', /^exit code 3 · wall \d+s · cpu \d+\.\d+ s$/);
      const timeoutNotice = inApp.find((n) => n.title.startsWith(`Job ${timeout} (slow)`));
      assert.match(timeoutNotice?.body ?? '', /time limit 1s/);

      const outbox = await app.keisan.mail.outbox(SYSTEM_ACTOR, ['queued', 'sent', 'failed'], 50);
      assert.deepEqual(outbox.map((e) => e.state === 'failed'), [false, false, false], 'three messages, none given up');
    });

    it('without a usable address the notice is in-app only, saying why no mail went out', async () => {
      const id = await submit('bob', '#!/bin/sh\n#SBATCH --job-name=nomail\ntrue\n', { mail: 'end' });
      const typo = await submit('bob', '#!/bin/sh\n#SBATCH --job-name=typo\ntrue\n', { mail: 'end', mailUser: 'lab-list' });
      const notice = async (title: string) => {
        for (let i = 0; i < 100; i++) {
          const found = (await notices('bob')).find((n) => n.title === title);
          if (found) return found;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.fail(`no notice '${title}'`);
      };
      assert.equal((await ended('bob', id)).state, 'completed');
      assert.match((await notice(`Job ${id} (nomail) completed`)).body, /— no e-mail sent: bob has no e-mail address: set one with 'keisan admin user set bob --email ADDRESS' or submit with --mail-user ADDRESS$/);
      assert.equal((await ended('bob', typo)).state, 'completed');
      assert.match((await notice(`Job ${typo} (typo) completed`)).body, /— no e-mail sent: 'lab-list' is not an e-mail address \(check --mail-user\)$/);
      assert.deepEqual(await app.keisan.mail.outbox(SYSTEM_ACTOR, ['queued', 'failed', 'sent'], 50), []);
    });
  });
});
