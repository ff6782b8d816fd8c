import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import { readAudit } from '../accounts/audit.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings } from '../lib/config.ts';
import { killInput } from '../recovery/events-testing.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import type { Incident, IncidentSummary } from './model.ts';
import { seedLab } from '../server/testing.ts';

type Body = Record<string, unknown> & { error?: { code: string; message: string } };

/** Incidents through the real API: who may do what, the state machine, bad input, the report, and the hooks. */
describeEachDatabase('incidents over the API', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;
  beforeEach(async () => {
    db = await database.open();
    clock = new ManualClock('2026-12-05T08:00:00Z');
    const settings = parseSettings({ facility: { name: 'Testlab' }, accounts: { passwordHash: { cost: 1024 } }, incidents: { services: ['login', 'batch'] } }, 'test');
    app = await buildApp({ settings, db, nodeSecret: 'node-secret', clock });
    await seedLab(app.keisan.accounts);
  });
  afterEach(async () => {
    await app.close();
    await db.dispose();
  });

  const as = async (user: string) => {
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } });
    const ticket = (login.json() as { ticket: string }).ticket;
    return async (method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, payload?: object) => {
      const response = await app.inject({ method, url, headers: { authorization: `Bearer ${ticket}` }, ...(payload ? { payload } : {}) });
      const json = response.headers['content-type']?.toString().startsWith('application/json') ? (response.json() as Body) : ({} as Body);
      return { status: response.statusCode, body: json, raw: response.rawPayload, type: String(response.headers['content-type']) };
    };
  };
  const incidentAudit = async () => (await readAudit(db.kysely, { action: 'incident.', limit: 100 })).reverse().map((e) => `${e.actor} ${e.action} ${e.target} ${e.outcome}`);

  it('operators open, users read; bad input is refused naming the field, nothing half-written; refusals are audited', async () => {
    const olga = await as('olga');
    const alice = await as('alice');
    const refused = await alice('POST', '/api/incidents', { title: 'I think batch is down', severity: 'SEV3' });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error!.message, /only an operator may open an incident/);

    const bad = [
      [{ title: 'x', severity: 'SEV9' }, /severity must be one of SEV1/],
      [{ title: '  ', severity: 'SEV2' }, /title must not be empty/],
      [{ title: 'x', severity: 'SEV2', services: [{ service: 'Batch Nodes', impact: 'degraded' }] }, /service name is not valid/],
      [{ title: 'x', severity: 'SEV2', services: [{ service: 'batch', impact: 'meh' }] }, /impact must be one of all-unavailable/],
      [{ title: 'x', severity: 'SEV2', cause: 'gremlins' }, /cause must be one of human-error/],
      [{ title: 'x', severity: 'SEV2', startedAt: 'yesterday' }, /startedAt must be an ISO-8601 time/],
      [{ title: 'x', severity: 'SEV2', startedAt: '2026-12-05T07:00:00Z', detectedAt: '2026-12-05T06:00:00Z' }, /detectedAt .* is before startedAt/],
      [{ title: 'x', severity: 'SEV2', startedAt: '2026-12-06T07:00:00Z' }, /startedAt .* is in the future/],
      [{ title: 'x', severity: 'SEV2', colour: 'red' }, /colour/],
    ] as const;
    for (const [payload, message] of bad) {
      const answer = await olga('POST', '/api/incidents', payload);
      assert.equal(answer.status, 400, JSON.stringify(payload));
      assert.match(answer.body.error!.message, message);
    }
    assert.deepEqual((await olga('GET', '/api/incidents')).body, [], 'nothing half-written');

    const opened = await olga('POST', '/api/incidents', {
      title: 'Batch controller unreachable',
      severity: 'SEV2',
      services: [{ service: 'batch', impact: 'all-unavailable' }, { service: 'login' }],
      cause: 'hardware',
      startedAt: '2026-12-05T06:40:00Z',
      detectedAt: '2026-12-05T06:55:00Z',
      message: 'sbatch hangs; controller does not answer ping',
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    const incident = opened.body as unknown as Incident;
    assert.equal(incident.status, 'investigating');
    assert.deepEqual(incident.services, [{ service: 'batch', impact: 'all-unavailable' }, { service: 'login', impact: 'degraded' }]);
    assert.equal(incident.endedAt, null);
    assert.deepEqual(incident.checklist.map((c) => [c.item, c.key, c.done]), [[1, 'policy', false], [2, 'isolate', false], [3, 'contact', false], [4, 'confirm-fix', false], [5, 'tell-affected', false], [6, 'root-cause', false], [7, 'prevent', false]]);
    assert.deepEqual(incident.timeline.map((t) => [t.by, t.kind, t.status, t.text]), [['olga', 'opened', 'investigating', 'sbatch hangs; controller does not answer ping']]);

    const list = (await alice('GET', '/api/incidents')).body as unknown as IncidentSummary[];
    assert.deepEqual(list.map((i) => i.id), [incident.id]);
    assert.equal(((await alice('GET', `/api/incidents/${incident.id}`)).body as unknown as Incident).title, 'Batch controller unreachable');
    assert.equal((await alice('GET', '/api/incidents/999')).status, 404);
    assert.equal((await alice('GET', '/api/incidents/abc')).status, 400);
    assert.equal((await alice('PATCH', `/api/incidents/${incident.id}`, { message: 'me too' })).status, 403);
    assert.deepEqual(await incidentAudit(), ['alice incident.open I think batch is down denied', `olga incident.open ${incident.id} ok`, `alice incident.update ${incident.id} denied`]);
  });

  it('status moves, resolve and reopen, time edits with validation, the checklist with who and when, the postmortem', async () => {
    const olga = await as('olga');
    const id = ((await olga('POST', '/api/incidents', { title: 'Home file system slow', severity: 'SEV3', services: [{ service: 'storage-home', impact: 'degraded' }], startedAt: '2026-12-05T07:00:00Z' })).body as unknown as Incident).id;
    const patch = (payload: object) => olga('PATCH', `/api/incidents/${id}`, payload);

    clock.advance(60_000);
    let answer = await patch({ status: 'identified', message: 'a failing disk in the home array', cause: 'hardware', services: [{ service: 'storage-home', impact: 'partial-outage' }] });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    let incident = answer.body as unknown as Incident;
    assert.equal(incident.status, 'identified');
    assert.equal(incident.cause, 'hardware');
    assert.deepEqual(incident.timeline.at(-1), { at: '2026-12-05T08:01:00.000Z', by: 'olga', kind: 'status', status: 'identified', text: 'a failing disk in the home array (status investigating → identified; cause unknown → hardware; services: storage-home degraded → partial-outage)' });
    assert.equal((await patch({})).status, 400);
    assert.equal((await patch({ severity: 'SEV3' })).status, 409, 'nothing changed');
    answer = await patch({ endedAt: '2026-12-05T07:30:00Z' });
    assert.equal(answer.status, 400);
    assert.match(answer.body.error!.message, /endedAt: incident \d+ is identified; an end time is set when it is resolved/);

    // Resolve: ends now by default, or at --at; twice is a conflict.
    answer = await olga('POST', `/api/incidents/${id}/resolve`, { at: '2026-12-05T06:00:00Z' });
    assert.equal(answer.status, 400);
    assert.match(answer.body.error!.message, /endedAt .* is before startedAt/);
    answer = await olga('POST', `/api/incidents/${id}/resolve`, { at: '2026-12-05T07:45:00Z', message: 'disk replaced, array rebuilt' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    incident = answer.body as unknown as Incident;
    assert.equal(incident.status, 'resolved');
    assert.equal(incident.endedAt, '2026-12-05T07:45:00.000Z');
    assert.equal((await olga('POST', `/api/incidents/${id}/resolve`, {})).status, 409);
    answer = await patch({ status: 'monitoring' });
    assert.equal(answer.status, 409);
    assert.match(answer.body.error!.message, /a resolved incident can only be reopened \(status investigating\)/);

    // Operators correct the times afterwards, validated.
    answer = await patch({ endedAt: '2026-12-05T06:59:00Z' });
    assert.equal(answer.status, 400);
    answer = await patch({ startedAt: '2026-12-05T06:50:00Z', endedAt: '2026-12-05T07:50:00Z' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    incident = answer.body as unknown as Incident;
    assert.deepEqual([incident.startedAt, incident.detectedAt, incident.endedAt], ['2026-12-05T06:50:00.000Z', '2026-12-05T07:00:00.000Z', '2026-12-05T07:50:00.000Z']);
    assert.equal(incident.timeline.at(-1)!.kind, 'edited');

    // Reopen: back to investigating, no end; audited as incident.reopen.
    answer = await patch({ status: 'investigating', message: 'slow again after the rebuild' });
    assert.equal(answer.status, 200);
    incident = answer.body as unknown as Incident;
    assert.equal(incident.status, 'investigating');
    assert.equal(incident.endedAt, null);
    assert.equal(incident.timeline.at(-1)!.kind, 'reopened');

    // The checklist: by number or key, with who and when; twice is a conflict; unknown items are named.
    clock.advance(60_000);
    answer = await olga('POST', `/api/incidents/${id}/checklist/2`, {});
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual((answer.body as unknown as Incident).checklist[1], { item: 2, key: 'isolate', text: 'isolate the cause', done: true, by: 'olga', at: '2026-12-05T08:02:00.000Z' });
    assert.equal((await olga('POST', `/api/incidents/${id}/checklist/isolate`, {})).status, 409);
    answer = await olga('POST', `/api/incidents/${id}/checklist/isolate`, { done: false });
    assert.equal((answer.body as unknown as Incident).checklist[1]!.done, false);
    answer = await olga('POST', `/api/incidents/${id}/checklist/8`, {});
    assert.equal(answer.status, 400);
    assert.match(answer.body.error!.message, /give 1 to 7 or one of policy, isolate/);

    // The postmortem.
    answer = await olga('PUT', `/api/incidents/${id}/postmortem`, { whatHappened: 'x', actions: [{ action: 'buy spares', owner: 'olga', due: '2026-13-01' }] });
    assert.equal(answer.status, 400);
    assert.match(answer.body.error!.message, /due/);
    answer = await olga('PUT', `/api/incidents/${id}/postmortem`, { whatHappened: 'A disk failed and the rebuild slowed the array.', causes: 'no hot spare', prevention: 'keep a hot spare', actions: [{ action: 'buy two spare disks', owner: 'olga', due: '2026-12-20' }] });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    incident = answer.body as unknown as Incident;
    assert.deepEqual(incident.postmortem, { whatHappened: 'A disk failed and the rebuild slowed the array.', causes: 'no hot spare', prevention: 'keep a hot spare', actions: [{ action: 'buy two spare disks', owner: 'olga', due: '2026-12-20', done: false }], updatedBy: 'olga', updatedAt: '2026-12-05T08:02:00.000Z' });

    const audit = await incidentAudit();
    assert.deepEqual(audit, [
      `olga incident.open ${id} ok`,
      `olga incident.update ${id} ok`,
      `olga incident.resolve ${id} ok`,
      `olga incident.update ${id} ok`,
      `olga incident.reopen ${id} ok`,
      `olga incident.check ${id} ok`,
      `olga incident.check ${id} ok`,
      `olga incident.postmortem ${id} ok`,
    ]);
    const open = (await olga('GET', '/api/incidents?open=true')).body as unknown as IncidentSummary[];
    assert.deepEqual(open.map((i) => i.id), [id]);
  });

  it('the outage report over the API: JSON totals, Markdown, HTML, PDF; bad windows refused', async () => {
    const olga = await as('olga');
    const open = async (title: string, services: object[], startedAt: string, endedAt: string | null) => {
      const id = ((await olga('POST', '/api/incidents', { title, severity: 'SEV2', services, startedAt })).body as unknown as Incident).id;
      if (endedAt) assert.equal((await olga('POST', `/api/incidents/${id}/resolve`, { at: endedAt })).status, 200);
      return id;
    };
    await open('login switch', [{ service: 'login', impact: 'all-unavailable' }], '2026-11-03T22:40:00Z', '2026-11-04T01:10:00Z');
    await open('batch disk', [{ service: 'batch', impact: 'all-unavailable' }], '2026-11-10T09:00:00Z', '2026-11-10T12:00:00Z');
    await open('jobs aborted', [{ service: 'batch', impact: 'some-jobs-aborted' }], '2026-11-10T11:00:00Z', '2026-11-10T13:30:00Z');
    await open('backlog', [{ service: 'batch', impact: 'degraded' }], '2026-11-29T20:00:00Z', null);

    const alice = await as('alice');
    const json = await alice('GET', '/api/incidents/report?from=2026-11-01&to=2026-12-01');
    assert.equal(json.status, 200);
    const report = json.body as unknown as { rows: { number: number; title: string; ongoing: boolean; durationMs: number }[]; totals: { sumOfRowsMs: number; impactMs: number; overlapMs: number }; services: { service: string; unavailableMs: number }[] };
    assert.deepEqual(report.rows.map((r) => [r.number, r.title, r.ongoing]), [[1, 'login switch', false], [2, 'batch disk', false], [3, 'jobs aborted', false], [4, 'backlog', true]]);
    const H = 3_600_000;
    assert.deepEqual(report.totals, { incidents: 4, sumOfRowsMs: 36 * H, impactMs: 35 * H, overlapMs: H });
    assert.deepEqual(report.services.map((s) => [s.service, s.unavailableMs / H]), [['batch', 3], ['login', 2.5]]);

    const md = await alice('GET', '/api/incidents/report?from=2026-11-01&to=2026-12-01&format=md');
    assert.match(md.type, /^text\/markdown/);
    assert.match(md.raw.toString(), /\| 1 \| login switch \(#\d+, SEV2, unknown\) \| 2026-11-03 22:40 – 2026-11-04 01:10 \| 2 h 30 min \| login: all-unavailable \|/);
    assert.match(md.raw.toString(), /the total service-impact time is 1 d 11 h/);
    const html = await alice('GET', '/api/incidents/report?from=2026-11-01&to=2026-12-01&format=html');
    assert.match(html.type, /^text\/html/);
    assert.match(html.raw.toString(), /<td>99\.583 %<\/td>/);
    const pdf = await alice('GET', '/api/incidents/report?from=2026-11-01&to=2026-12-01&format=pdf');
    assert.equal(pdf.type, 'application/pdf');
    assert.equal(pdf.raw.subarray(0, 5).toString(), '%PDF-');

    // In Tokyo's time zone: the dates are its midnights, the times its clock.
    const tokyo = await alice('GET', '/api/incidents/report?from=2026-11-01&to=2026-12-01&tz=Asia/Tokyo');
    assert.equal(tokyo.status, 200);
    const inTokyo = tokyo.body as unknown as { from: string; to: string; timeZone: string };
    assert.deepEqual([inTokyo.from, inTokyo.to, inTokyo.timeZone], ['2026-10-31T15:00:00.000Z', '2026-11-30T15:00:00.000Z', 'Asia/Tokyo']);
    const tokyoMd = await alice('GET', '/api/incidents/report?from=2026-11-01&to=2026-12-01&format=md&tz=asia/tokyo');
    assert.match(tokyoMd.raw.toString(), /\| 2026-11-04 07:40 – 10:10 \|/);

    for (const [query, message] of [
      ['from=2026-11-01&to=2026-12-01&tz=Mars/Olympus', /time zone 'Mars\/Olympus' is unknown: write an IANA name such as Asia\/Tokyo/],
      ['from=2026-11-01', /to/],
      ['from=November&to=2026-12-01', /from: 'November' is not a date/],
      ['from=2026-12-01&to=2026-11-01', /must be after from/],
      ['from=2027-01-01&to=2027-02-01', /in the future/],
      ['from=2026-11-01&to=2026-12-01&format=docx', /format must be one of json, md, html, pdf/],
    ] as const) {
      const answer = await alice('GET', `/api/incidents/report?${query}`);
      assert.equal(answer.status, 400, query);
      assert.match(answer.body.error!.message, message);
    }
  });

  it('recovery hook: a kill reported by a node opens one incident per job; a second report of the same job is added to it', async () => {
    const report = (payload: object) => app.inject({ method: 'POST', url: '/api/recovery/events', headers: { authorization: 'Node node-secret' }, payload });
    const first = await report(killInput({ jobId: 42, user: 'alice', at: '2026-12-05T07:59:00.000Z' }));
    assert.equal(first.statusCode, 200, first.body);
    const olga = await as('olga');
    let list = (await olga('GET', '/api/incidents')).body as unknown as IncidentSummary[];
    assert.equal(list.length, 1);
    assert.deepEqual(
      { title: list[0]!.title, severity: list[0]!.severity, services: list[0]!.services, source: list[0]!.source, key: list[0]!.sourceKey, startedAt: list[0]!.startedAt, by: list[0]!.openedBy },
      { title: 'Recovery killed job 42 on node1 (memory-limit)', severity: 'SEV4', services: [{ service: 'batch', impact: 'some-jobs-aborted' }], source: 'recovery', key: 'recovery:node1:42', startedAt: '2026-12-05T07:59:00.000Z', by: 'keisan:recovery' },
    );
    // A warning is no incident; a second kill of the same job adds to the open incident.
    assert.equal((await report(killInput({ jobId: 42, action: 'warn', outcome: 'done' }))).statusCode, 200);
    assert.equal((await report(killInput({ jobId: 42, at: '2026-12-05T08:00:00.000Z' }))).statusCode, 200);
    list = (await olga('GET', '/api/incidents')).body as unknown as IncidentSummary[];
    assert.equal(list.length, 1, 'no duplicate');
    const incident = (await olga('GET', `/api/incidents/${list[0]!.id}`)).body as unknown as Incident;
    assert.deepEqual(incident.timeline.map((t) => [t.kind, t.by]), [['opened', 'keisan:recovery'], ['source', 'keisan:recovery']]);
    assert.match(incident.timeline[0]!.text, /^Recovery killed job 42 on node1 \(memory-limit\) \(owner alice\): job 42 \(alice\): memory 1\.98 of 2\.00 GiB.* — keisan recovery event \d+$/);

    // Once resolved, the next kill of that job opens a new incident.
    assert.equal((await olga('POST', `/api/incidents/${incident.id}/resolve`, {})).status, 200);
    assert.equal((await report(killInput({ jobId: 42 }))).statusCode, 200);
    assert.equal(((await olga('GET', '/api/incidents')).body as unknown as IncidentSummary[]).length, 2);
    // Another job: its own incident.
    assert.equal((await report(killInput({ jobId: 43, host: 'node2' }))).statusCode, 200);
    const keys = ((await olga('GET', '/api/incidents?open=1')).body as unknown as IncidentSummary[]).map((i) => i.sourceKey).sort();
    assert.deepEqual(keys, ['recovery:node1:42', 'recovery:node2:43']);
    assert.ok((await incidentAudit()).includes(`keisan:recovery incident.note ${incident.id} ok`));
    // The kernel's OOM killer got to a job first (reported by the watchdog as kernel-oom, action none): an incident too.
    const oom = killInput({ jobId: 44, rule: 'kernel-oom', action: 'none', outcome: 'observed', explanation: "the kernel's OOM killer killed 1 process of job 44 at its 512 MiB limit; the watchdog had not acted first" });
    assert.equal((await report(oom)).statusCode, 200);
    const titles = ((await olga('GET', '/api/incidents?open=1')).body as unknown as IncidentSummary[]).map((i) => i.title);
    assert.ok(titles.includes('Kernel OOM killer killed job 44 on node1'), titles.join(' | '));
  });

  it("alerts hook with Keisan's own rules: CheckCritical firing on a node opens an incident, its resolution is noted", async () => {
    const check = (status: 'ok' | 'critical') => ({ check: 'process:sshd', type: 'process', target: 'sshd', status, summary: status === 'ok' ? 'sshd is running on node1' : 'essential process sshd is not running on node1', value: null, details: {}, durationMs: 1, at: clock.now().toISOString() });
    const report = (status: 'ok' | 'critical') => app.keisan.monitor.ingest({ at: clock.now().toISOString(), host: 'node1', samples: [], checks: [check(status)] }, clock.now().getTime());
    report('critical');
    await app.keisan.alerts.evaluateNow();
    const olga = await as('olga');
    let list = (await olga('GET', '/api/incidents')).body as unknown as IncidentSummary[];
    assert.deepEqual(list.map((i) => [i.title, i.source, i.severity, i.status]), [['Alert CheckCritical on node1: essential process sshd is not running on node1', 'alert', 'SEV2', 'investigating']]);
    clock.advance(30_000);
    report('ok');
    await app.keisan.alerts.evaluateNow();
    list = (await olga('GET', '/api/incidents')).body as unknown as IncidentSummary[];
    const incident = (await olga('GET', `/api/incidents/${list[0]!.id}`)).body as unknown as Incident;
    assert.equal(incident.status, 'investigating');
    assert.deepEqual(incident.timeline.map((t) => t.kind), ['opened', 'source']);
    assert.match(incident.timeline[1]!.text, /^alert resolved: CheckCritical on node1/);
  });

  it('alerts hook: a critical alert that starts firing opens an incident; repeats add nothing; its resolution is noted, the incident stays open', async () => {
    const payload = (status: 'firing' | 'resolved', severity = 'critical', fingerprint = 'raid-stor1') => ({
      version: '4',
      status,
      receiver: 'keisan',
      groupKey: '{}:{alertname="NodeRAIDDegraded"}',
      alerts: [
        { status, labels: { alertname: 'NodeRAIDDegraded', host: 'stor1', service: 'storage-home', severity }, annotations: { summary: 'RAID md0 degraded on stor1' }, startsAt: '2026-12-05T07:50:00Z', endsAt: status === 'resolved' ? '2026-12-05T08:05:00Z' : '0001-01-01T00:00:00Z', fingerprint },
      ],
    });
    const post = (body: object) => app.inject({ method: 'POST', url: '/api/monitor/alertmanager', payload: body, headers: { authorization: 'Bearer node-secret' } });
    assert.equal((await post(payload('firing', 'warning', 'warn-1'))).statusCode, 200);
    const olga = await as('olga');
    assert.deepEqual((await olga('GET', '/api/incidents')).body, [], 'a warning opens nothing');

    assert.equal((await post(payload('firing'))).statusCode, 200);
    assert.equal((await post(payload('firing'))).statusCode, 200);
    let list = (await olga('GET', '/api/incidents')).body as unknown as IncidentSummary[];
    assert.equal(list.length, 1);
    const fingerprint = list[0]!.sourceKey!;
    assert.ok(fingerprint.length > 0);
    assert.deepEqual([list[0]!.title, list[0]!.severity, list[0]!.source, list[0]!.services, list[0]!.startedAt], ['Alert NodeRAIDDegraded on stor1: RAID md0 degraded on stor1', 'SEV2', 'alert', [{ service: 'storage-home', impact: 'degraded' }], '2026-12-05T07:50:00.000Z']);

    clock.advance(5 * 60_000);
    assert.equal((await post(payload('resolved'))).statusCode, 200);
    list = (await olga('GET', '/api/incidents')).body as unknown as IncidentSummary[];
    assert.equal(list.length, 1);
    const incident = (await olga('GET', `/api/incidents/${list[0]!.id}`)).body as unknown as Incident;
    assert.equal(incident.status, 'investigating', 'an operator confirms the fix');
    assert.deepEqual(incident.timeline.map((t) => [t.kind, t.by, t.at]), [['opened', 'keisan:alerts', '2026-12-05T07:50:00.000Z'], ['source', 'keisan:alerts', '2026-12-05T08:05:00.000Z']]);
    assert.match(incident.timeline[1]!.text, /^alert resolved: NodeRAIDDegraded on stor1/);
  });
});
