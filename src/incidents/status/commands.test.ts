import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../../server/facility.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { initTestDataDir } from '../../server/testing.ts';
import type { Incident } from '../model.ts';
import type { Explanation, StatusPage } from './model.ts';

/** The real `keisan status` against a real server: anyone, without logging in, reads the page; operators ask why. */
describe('keisan status, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-status-cli-'));
  const data = path.join(scratch, 'data');
  const home = { operator: path.join(scratch, 'op'), nobody: path.join(scratch, 'nobody') };
  let server: RunningServer;

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data, { status: { title: 'Testlab status', components: [{ name: 'gpu', displayName: 'GPU nodes', hosts: ['gpu1'] }] } });
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await runKeisan(home.operator, ['login', name, '--password-stdin', '--server', server.url], password), 0);
  });

  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('prints the components, current incidents and maintenance, without a login; --json is the API\'s page; --explain is for operators', async () => {
    const quiet = expectCode(await runKeisan(home.nobody, ['status', '--server', server.url]), 0).stdout;
    assert.match(quiet, /^Testlab status — All systems operational \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$/m);
    assert.match(quiet, /^COMPONENT\s+STATE\s+SINCE \(UTC\)\s+UPTIME 90 D\s*$/m);
    assert.match(quiet, /^GPU nodes\s+Operational\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+(no data|100\.000 %)\s*$/m, "history starts at the first evaluation");
    assert.match(quiet, /^No current incidents\.$/m);
    assert.match(quiet, /^No maintenance in progress or scheduled\.$/m);

    const opened = JSON.parse(expectCode(await runKeisan(home.operator, ['incident', 'open', '--json', '--title', 'Home file system unreachable', '--severity', 'SEV2', '--service', 'storage-home=all-unavailable', '-m', 'NFS server not answering']), 0).stdout) as Incident;
    const text = expectCode(await runKeisan(home.nobody, ['status', '--server', server.url]), 0).stdout;
    assert.match(text, /^Testlab status — Major outage: Storage: home /m);
    assert.match(text, /^Storage: home\s+Major outage\s+/m);
    assert.match(text, new RegExp(`^ {2}#${opened.id} Home file system unreachable — investigating; Storage: home: major outage; since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC$`, 'm'));
    assert.match(text, /^ {6}\d{4}-\d\d-\d\d \d\d:\d\d UTC {2}\[investigating\] NFS server not answering$/m);

    const page = JSON.parse(expectCode(await runKeisan(home.nobody, ['status', '--json', '--server', server.url]), 0).stdout) as StatusPage;
    assert.equal(page.components.find((c) => c.name === 'storage-home')!.state, 'major-outage');
    assert.deepEqual(page.incidents.current.map((i) => i.id), [opened.id]);

    const refused = expectCode(await runKeisan(home.nobody, ['status', '--explain', '--server', server.url]), 1);
    assert.match(refused.stderr, /not logged in/);
    const why = expectCode(await runKeisan(home.operator, ['status', '--explain']), 0).stdout;
    assert.match(why, /^ {2}storage-home: Major outage \(checks and alerts alone: Operational\); services storage-home; hosts -$/m);
    assert.match(why, new RegExp(`^ {6}incident: Major outage — incident #${opened.id} "Home file system unreachable": storage-home all-unavailable$`, 'm'));
    const both = JSON.parse(expectCode(await runKeisan(home.operator, ['status', '--explain', '--json']), 0).stdout) as StatusPage & { explanation: Explanation };
    assert.deepEqual(both.explanation.components.find((c) => c.name === 'gpu')!.hosts, ['gpu1']);

    const history = expectCode(await runKeisan(home.operator, ['status', '--history', '--component', 'storage-home']), 0).stdout;
    assert.match(history, /^AT \(UTC\)\s+COMPONENT\s+STATE\s+CHECKS\s+REASON\s*$/m);
    assert.match(history, /^\d{4}-\d\d-\d\d \d\d:\d\d\s+storage-home\s+Major outage\s+Operational\s+incident #\d+ "Home file system unreachable": storage-home all-unavailable\s*$/m);
    assert.match(expectCode(await runKeisan(home.nobody, ['status', '--history', '--server', server.url]), 1).stderr, /not logged in/);
    assert.match(expectCode(await runKeisan(home.operator, ['status', '--component', 'batch']), 2).stderr, /--component goes with --history/);
    assert.match(expectCode(await runKeisan(home.operator, ['status', '--history', 'last week']), 2).stderr, /since: /);

    expectCode(await runKeisan(home.operator, ['incident', 'resolve', String(opened.id), '-m', 'NFS server rebooted']), 0);
    const resolved = expectCode(await runKeisan(home.nobody, ['status', '--server', server.url]), 0).stdout;
    assert.match(resolved, /^Testlab status — All systems operational/m);
    assert.match(resolved, /^Resolved in the last 7 days:$/m);
    assert.match(resolved, /\[resolved\] NFS server rebooted$/m);
  });
});
