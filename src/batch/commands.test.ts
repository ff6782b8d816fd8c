import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { startServer, type RunningServer } from '../server/main.ts';
import { initTestDataDir } from '../server/testing.ts';
import { CgroupTree, detectCgroupLayout } from './executors/local/cgroups.ts';

/** `keisan cancel` with the real executable against a real server: an array by its id, a user's jobs, permissions. */
describe('keisan cancel, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-batch-cli-'));
  const data = path.join(scratch, 'data');
  const home = { operator: path.join(scratch, 'op'), alice: path.join(scratch, 'alice'), bob: path.join(scratch, 'bob') };
  const PASSWORD = 'correct horse battery staple';
  let server: RunningServer;
  const cgroupParent = `keisan-test-${randomBytes(4).toString('hex')}`;

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data, { batch: { cgroupParent } });
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await runKeisan(home.operator, ['login', name, '--password-stdin', '--server', server.url], password), 0);
    for (const user of ['alice', 'bob']) expectCode(await runKeisan(home.operator, ['admin', 'user', 'add', user, '-s', 'staff', '--password-stdin'], PASSWORD), 0);
    for (const user of ['alice', 'bob'] as const) expectCode(await runKeisan(home[user], ['login', user, '--password-stdin', '--server', server.url], PASSWORD), 0);
  });

  after(async () => {
    await server?.close();
    // The server made the jobs' parent cgroup (when it could): leave nothing behind.
    if (process.getuid?.() === 0 && detectCgroupLayout().kind !== 'none') CgroupTree.open({ root: cgroupParent, parentMemBytes: null, parentPidsMax: null }).destroy();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('cancels a whole array by its id and all of a user\'s jobs; refuses another user\'s', async () => {
    const submitted = expectCode(await runKeisan(home.alice, ['submit', '-', '--hold', '--array', '1-30', '-t', '5', '--json'], '#!/bin/sh\ntrue\n'), 0);
    const array = JSON.parse(submitted.stdout) as { jobs: number[]; arrayJobId: number };
    assert.equal(array.jobs.length, 30);
    const cancelled = expectCode(await runKeisan(home.alice, ['cancel', String(array.arrayJobId)]), 0);
    assert.equal(cancelled.stdout, `30 jobs cancelled (${array.jobs[0]}-${array.jobs.at(-1)}).\n`);
    const again = await runKeisan(home.alice, ['cancel', String(array.arrayJobId)]);
    assert.match(expectCode(again, 1).stderr, new RegExp(`job ${array.arrayJobId} already ended \\(cancelled\\): nothing to cancel`));

    for (let i = 0; i < 2; i++) expectCode(await runKeisan(home.alice, ['submit', '-', '--hold', '-t', '5'], '#!/bin/sh\ntrue\n'), 0);
    assert.match(expectCode(await runKeisan(home.bob, ['cancel', '--user', 'alice']), 1).stderr, /alice.*you may cancel only your own jobs/);
    const mine = JSON.parse(expectCode(await runKeisan(home.alice, ['cancel', '--user', 'alice', '--json']), 0).stdout) as { cancelled: number[] };
    assert.equal(mine.cancelled.length, 2);
    assert.equal(expectCode(await runKeisan(home.alice, ['cancel']), 2).stdout, '', 'say what to cancel');
  });

  it('submit --wait exits with the job\'s exit code', async () => {
    expectCode(await runKeisan(home.alice, ['submit', '-', '--wait', '-t', '5', '-o', '/dev/null'], '#!/bin/sh\nexit 3\n'), 3);
    expectCode(await runKeisan(home.alice, ['submit', '-', '--wait', '-t', '5', '-o', '/dev/null'], '#!/bin/sh\nexit 0\n'), 0);
  });
});
