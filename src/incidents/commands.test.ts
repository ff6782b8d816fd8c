import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectCode, runKeisan } from '../cli/testing.ts';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { startServer, type RunningServer } from '../server/main.ts';
import { initTestDataDir } from '../server/testing.ts';
import type { Incident, IncidentSummary } from './model.ts';

/** The real `keisan incident` commands against a real server, as an operator enters a month of incidents and prints the report. */
describe('keisan incident, end to end', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-incidents-cli-'));
  const data = path.join(scratch, 'data');
  const home = { operator: path.join(scratch, 'op'), alice: path.join(scratch, 'alice') };
  const PASSWORD = 'correct horse battery staple';
  let server: RunningServer;

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data);
    server = await startServer({ dataDir: data, port: 0 });
    const [name = '', password = ''] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    expectCode(await runKeisan(home.operator, ['login', name, '--password-stdin', '--server', server.url], password), 0);
    expectCode(await runKeisan(home.operator, ['admin', 'user', 'add', 'alice', '-s', 'staff', '--password-stdin'], PASSWORD), 0);
    expectCode(await runKeisan(home.alice, ['login', 'alice', '--password-stdin', '--server', server.url], PASSWORD), 0);
  });

  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const op = (...args: string[]) => runKeisan(home.operator, args);
  const openJson = async (...args: string[]) => JSON.parse(expectCode(await op('incident', 'open', '--json', ...args), 0).stdout) as Incident;

  it('an operator enters a month of incidents (one crossing midnight, two overlapping, one still open) and prints an outage report whose totals add up', async () => {
    const login = await openJson('--title', 'Login nodes unreachable', '--severity', 'SEV2', '--service', 'login=all-unavailable', '--cause', 'network', '--started', '2026-10-03T22:40:00Z', '--detected', '2026-10-03T22:50:00Z', '-m', 'ssh times out');
    assert.deepEqual([login.status, login.services, login.startedAt, login.detectedAt], ['investigating', [{ service: 'login', impact: 'all-unavailable' }], '2026-10-03T22:40:00.000Z', '2026-10-03T22:50:00.000Z']);
    expectCode(await op('incident', 'update', String(login.id), '--status', 'identified', '-m', 'switch firmware crash'), 0);
    const resolved = expectCode(await op('incident', 'resolve', String(login.id), '--at', '2026-10-04T01:10:00Z', '-m', 'switch rebooted'), 0);
    assert.match(resolved.stdout, new RegExp(`^Incident #${login.id} resolved \\(ended 2026-10-04 01:10 UTC, 2 h 30 min\\): Login nodes unreachable — resolved, SEV2\\.$`, 'm'));

    const disk = await openJson('--title', 'Batch controller disk failed', '--severity', 'SEV2', '--service', 'batch=all-unavailable', '--cause', 'hardware', '--started', '2026-10-10T09:00:00Z');
    expectCode(await op('incident', 'resolve', String(disk.id), '--at', '2026-10-10T12:00:00Z'), 0);
    const aborted = await openJson('--title', 'Scheduler restart aborted jobs', '--severity', 'SEV3', '--service', 'batch=some-jobs-aborted', '--service', 'storage-home', '--cause', 'software-defect', '--started', '2026-10-10T11:00:00Z');
    assert.deepEqual(aborted.services, [{ service: 'batch', impact: 'some-jobs-aborted' }, { service: 'storage-home', impact: 'degraded' }]);
    expectCode(await op('incident', 'resolve', String(aborted.id), '--at', '2026-10-10T13:30:00Z'), 0);
    const backlog = await openJson('--title', 'Queue backlog', '--severity', 'SEV4', '--service', 'batch=degraded', '--cause', 'capacity', '--started', '2026-10-30T20:00:00Z');

    // Checklist and postmortem.
    const ticked = expectCode(await op('incident', 'check', String(disk.id), 'isolate'), 0);
    assert.match(ticked.stdout, /checklist 1 of 7 done\.\n {2}\[ \] 1\. decide the handling policy\n {2}\[x\] 2\. isolate the cause\n/);
    const pm = path.join(scratch, 'pm.yaml');
    writeFileSync(pm, 'whatHappened: |\n  The controller disk failed.\ncauses: No monitoring of SMART errors.\nprevention: Alert on SMART errors.\nactions:\n  - action: Add a SMART check\n    owner: olga\n    due: 2026-11-15\n');
    expectCode(await op('incident', 'postmortem', String(disk.id), '--file', pm), 0);

    // Everyone reads.
    const shown = expectCode(await runKeisan(home.alice, ['incident', 'show', String(disk.id)]), 0).stdout;
    assert.match(shown, /^started +2026-10-10 09:00 UTC$/m);
    assert.match(shown, /^ {2}\[x\] 2\. isolate the cause {2}\(done by \S+, \d{4}-\d\d-\d\d \d\d:\d\d UTC\)$/m);
    assert.match(shown, /^ {2}\[ \] Add a SMART check — olga, due 2026-11-15$/m);
    const open = JSON.parse(expectCode(await runKeisan(home.alice, ['incident', 'list', '--open', '--json']), 0).stdout) as IncidentSummary[];
    assert.deepEqual(open.map((i) => i.id), [backlog.id]);
    const table = expectCode(await runKeisan(home.alice, ['incident', 'list']), 0).stdout;
    assert.match(table, /^ID\s+SEV\s+STATUS\s+STARTED \(UTC\)\s+DURATION\s+IMPACT\s+TITLE\s*$/m);
    assert.match(table, new RegExp(`^${login.id}\\s+SEV2\\s+resolved\\s+2026-10-03 22:40\\s+2 h 30 min\\s+login: all-unavailable\\s+Login nodes unreachable\\s*$`, 'm'));

    // The report, Markdown on stdout: rows numbered, the overlap counted once.
    const md = expectCode(await runKeisan(home.alice, ['incident', 'report', '--from', '2026-10-01', '--to', '2026-11-01']), 0).stdout;
    assert.match(md, /^\| 1 \| Login nodes unreachable \(#\d+, SEV2, network\) \| 2026-10-03 22:40 – 2026-10-04 01:10 \| 2 h 30 min \| login: all-unavailable \|$/m);
    assert.match(md, /^\| 4 \| Queue backlog \(#\d+, SEV4, capacity\) \| 2026-10-30 20:00 – 2026-11-01 00:00 \(ongoing, continues after the report\) \| 1 d 4 h so far \| batch: degraded \|$/m);
    // 2.5 + 3 + 2.5 + 28 = 36 h; 1 h overlap → 35 h.
    assert.match(md, /Their durations add up to 1 d 12 h; 1 h of that overlaps, so the total service-impact time is 1 d 11 h\./);
    assert.match(md, /^\| batch \| 3 \| 1 d 8 h 30 min \| 3 h \| 99\.597 % \|$/m);
    assert.match(md, /^\| hardware \| 1 \| 3 h \|$/m);

    // A PDF to a file.
    const file = path.join(scratch, 'october.pdf');
    const written = expectCode(await runKeisan(home.alice, ['incident', 'report', '--from', '2026-10-01', '--to', '2026-11-01', '--format', 'pdf', '--out', file]), 0);
    assert.match(written.stderr, /Wrote the outage report \(pdf, \d+ bytes\)/);
    assert.equal(readFileSync(file).subarray(0, 5).toString(), '%PDF-');
  });

  it('bad input: exit 2 with a message naming what to fix; users may not change incidents', async () => {
    const bad = expectCode(await op('incident', 'open', '--title', 'x', '--severity', 'SEV2', '--service', 'batch=kaput'), 2);
    assert.match(bad.stderr, /--service batch=kaput: impact must be one of all-unavailable/);
    assert.match(expectCode(await op('incident', 'open', '--title', 'x', '--severity', 'SEV7'), 2).stderr, /severity must be one of SEV1/);
    assert.match(expectCode(await op('incident', 'open', '--title', 'x', '--severity', 'SEV2', '--started', 'last tuesday'), 2).stderr, /--started 'last tuesday': write an ISO time/);
    assert.match(expectCode(await op('incident', 'update', '1'), 2).stderr, /nothing to change/);
    assert.match(expectCode(await op('incident', 'check', '1', 'coffee'), 2).stderr, /checklist item 'coffee' does not exist/);
    assert.match(expectCode(await op('incident', 'report', '--from', '2026-11-01', '--to', '2026-10-01'), 2).stderr, /must be after from/);
    assert.match(expectCode(await op('incident', 'show', '999'), 1).stderr, /incident '999' does not exist/);
    assert.match(expectCode(await runKeisan(home.alice, ['incident', 'open', '--title', 'x', '--severity', 'SEV2']), 1).stderr, /only an operator may open an incident/);
  });
});
