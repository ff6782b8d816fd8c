import assert from 'node:assert/strict';
import { afterEach, beforeEach, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { SYSTEM_ACTOR } from '../../accounts/model.ts';
import type { Db } from '../../db/connection.ts';
import { describeEachDatabase } from '../../db/testing.ts';
import { ManualClock } from '../../lib/clock.ts';
import { parseSettings } from '../../lib/config.ts';
import type { CheckResult } from '../../monitor/model.ts';
import { buildApp, type KeisanApp } from '../../server/app.ts';
import { statusPageSchema, type Explanation, type MaintenanceSource, type MaintenanceWindowView, type StatusPage } from './model.ts';
import * as store from './store.ts';
import { childrenNamed, childText, parseXml } from './xml-testing.ts';
import { seedLab } from '../../server/testing.ts';

/** The public status page through the real server: no login, nothing private, states from incidents, groups, hosts, checks and maintenance, the feeds. */

const START = '2026-12-05T08:00:00.000Z';
const H = 3_600_000;
const INVENTORY = {
  hosts: [{ name: 'auth1' }, { name: 'auth2' }, { name: 'auth3' }, { name: 'login1' }, { name: 'login2' }, { name: 'gpu1' }],
  services: [
    { name: 'authentication', critical: true, hosts: ['auth1', 'auth2', 'auth3'] },
    { name: 'login', hosts: ['login1', 'login2'] },
  ],
  groups: [{ name: 'authentication', members: ['auth1', 'auth2', 'auth3'], minHealthy: 2, service: 'authentication' }],
};
const STATUS = {
  title: 'Testlab <status> & "more"',
  components: [{ name: 'gpu', displayName: 'GPU nodes', description: 'the A100 & H100 nodes', hosts: ['gpu1'], checks: ['nvidia'] }],
  publicUrl: 'https://status.example.org/',
};

describeEachDatabase('status page over the API', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let app: KeisanApp;
  let clock: ManualClock;

  beforeEach(async () => {
    db = await database.open();
    clock = new ManualClock(START);
    const settings = parseSettings({ facility: { name: 'Testlab' }, accounts: { passwordHash: { cost: 1024 } }, inventory: INVENTORY, status: STATUS }, 'test');
    app = await buildApp({ settings, db, nodeSecret: 'node-secret', clock });
    await seedLab(app.keisan.accounts);
  });
  afterEach(async () => {
    await app.close();
    await db.dispose();
  });

  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });
  const ticketOf = async (user: string) => ((await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } })).json() as { ticket: string }).ticket;
  const page = async (): Promise<StatusPage> => {
    const response = await get('/status.json');
    assert.equal(response.statusCode, 200, response.body);
    return statusPageSchema.parse(response.json());
  };
  const stateOf = (p: StatusPage, name: string) => p.components.find((c) => c.name === name)!.state;
  const report = (host: string, checks: Partial<CheckResult>[] = []) =>
    app.keisan.monitor.ingest(
      {
        host,
        at: clock.now().toISOString(),
        samples: [],
        checks: checks.map((c) => ({ check: 'nvidia:gpu0', type: 'nvidia', target: 'gpu0', status: 'ok', summary: '', value: null, details: {}, at: clock.now().toISOString(), durationMs: 1, ...c })),
      },
      clock.now().getTime(),
    );
  const olga = { ...SYSTEM_ACTOR, kind: 'user' as const, name: 'olga' };
  const html = (response: LightMyRequestResponse) => {
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^text\/html; charset=utf-8/);
    return response.body;
  };

  it('is public (no ticket), readable without JavaScript, and shows only title, status, impact and public updates', async () => {
    const incidents = app.keisan.incidents;
    const opened = await incidents.open(olga, {
      title: 'Batch controller <down> & "out"',
      severity: 'SEV2',
      services: [{ service: 'batch', impact: 'all-unavailable' }, { service: 'login', impact: 'degraded' }],
      cause: 'hardware',
      startedAt: '2026-12-05T06:40:00Z',
      message: 'sbatch hangs; we are looking at it',
    });
    clock.advance(60_000);
    await incidents.update(olga, opened.id, { status: 'identified', message: 'a failed disk in the controller' });
    await incidents.check(olga, opened.id, 'policy', true);
    await incidents.setPostmortem(olga, opened.id, { whatHappened: 'PRIVATE-POSTMORTEM-TEXT', actions: [{ action: 'buy disks', owner: 'olga', due: '2026-12-20' }] });
    await incidents.openFromSource({ source: 'recovery', key: 'recovery:node7:4242', title: 'Recovery killed job 4242 on node7 (memory)', severity: 'SEV4', services: [{ service: 'batch', impact: 'some-jobs-aborted' }], message: 'Recovery killed job 4242 on node7 (memory) (owner alice): used 90 GiB — keisan recovery event 3', at: clock.now() });
    const record = await incidents.open(olga, { title: 'Only for the record', severity: 'SEV5', services: [{ service: 'batch', impact: 'none' }] });

    const response = await get('/status');
    const body = html(response);
    assert.ok(!/<script/i.test(body), 'no script');
    assert.match(String(response.headers['content-security-policy']), /^default-src 'none'; style-src 'unsafe-inline';/);
    const document = parseXml(body.replace(/^<!doctype html>\n/, ''));
    assert.equal(document.name, 'html', 'the page nests and escapes like XML');
    const headings = (e: typeof document): string[] => [...(/^h[1-3]$/.test(e.name) ? [`${e.name} ${e.text}`] : []), ...e.children.flatMap(headings)];
    assert.deepEqual(headings(document).filter((h) => !h.startsWith('h3')), ['h1 Testlab <status> & "more"', 'h2 Current incidents', 'h2 Maintenance', 'h2 Components', 'h2 Resolved in the last 7 days']);
    assert.match(body, /<html lang="en">/);
    assert.match(body, /<meta name="viewport" content="width=device-width, initial-scale=1"\/>/);
    assert.match(body, /<h1>Testlab &lt;status&gt; &amp; &quot;more&quot;<\/h1>/);
    assert.match(body, /<p class="overall s-major-outage" role="status"><span aria-hidden="true">✖<\/span> Major outage: Batch jobs<\/p>/);
    assert.match(body, /<h2 id="h-current">Current incidents<\/h2>/);
    assert.match(body, new RegExp(`<h3><a href="/status/incidents/${opened.id}">Batch controller &lt;down&gt; &amp; &quot;out&quot;</a></h3>`));
    assert.match(body, /<h3>Batch jobs<\/h3><span class="state s-major-outage"><span aria-hidden="true">✖<\/span> Major outage<\/span>/);
    assert.match(body, /<h3>Login nodes<\/h3><span class="state s-degraded"><span aria-hidden="true">▲<\/span> Degraded performance<\/span>/);
    assert.match(body, /<h3>GPU nodes<\/h3><span class="state s-operational"><span aria-hidden="true">✔<\/span> Operational<\/span>/);
    assert.match(body, /the A100 &amp; H100 nodes/);
    assert.match(body, /2026-12-05 08:01 UTC<\/time> — <strong>Identified<\/strong>: a failed disk in the controller/);
    assert.match(body, /Detected automatically by Keisan&apos;s recovery watchdog\./);
    assert.equal((body.match(/<ol class="bars" aria-hidden="true">/g) ?? []).length, 7, 'one strip per component');
    assert.equal((body.match(/<ol class="bars" aria-hidden="true">(.*?)<\/ol>/)![1]!.match(/<li /g) ?? []).length, 90, '90 bars');
    assert.match(body, /title="2026-12-04: no data"/, 'before the first record: no data');

    const slash = await get('/status/');
    assert.deepEqual([slash.statusCode, slash.headers.location], [301, '/status']);
    assert.equal((await app.inject({ method: 'HEAD', url: '/status' })).statusCode, 200);

    const p = await page();
    assert.equal(p.title, 'Testlab <status> & "more"');
    assert.deepEqual([stateOf(p, 'batch'), stateOf(p, 'login'), stateOf(p, 'authentication'), stateOf(p, 'gpu')], ['major-outage', 'degraded', 'operational', 'operational']);
    assert.equal(p.components.find((c) => c.name === 'batch')!.since, '2026-12-05T06:40:00.000Z', 'since the incident driving it started, before the first record');
    assert.equal(p.components.find((c) => c.name === 'gpu')!.since, '2026-12-05T08:01:00.000Z', 'as recorded');
    assert.deepEqual(p.incidents.current.map((i) => [i.title, i.status, i.impact]), [
      ['Recovery killed job 4242 on node7 (memory)', 'investigating', 'degraded'],
      ['Batch controller <down> & "out"', 'identified', 'major-outage'],
    ]);
    const batchIncident = p.incidents.current[1]!;
    assert.deepEqual(batchIncident.components, [
      { name: 'login', displayName: 'Login nodes', state: 'degraded' },
      { name: 'batch', displayName: 'Batch jobs', state: 'major-outage' },
    ]);
    assert.deepEqual(batchIncident.updates.map((u) => [u.status, u.text]), [
      ['identified', 'a failed disk in the controller'],
      ['investigating', 'sbatch hangs; we are looking at it'],
    ]);
    assert.deepEqual(p.incidents.current[0]!.updates.map((u) => u.text), ["Detected automatically by Keisan's recovery watchdog."]);
    assert.deepEqual(await (await get('/api/status')).json(), p, '/api/status is the same');
    // A crowd at once: the requests share builds, every answer is the page.
    const crowd = await Promise.all(Array.from({ length: 20 }, () => get('/status.json')));
    assert.ok(crowd.every((r) => r.statusCode === 200 && (r.json() as StatusPage).overall.state === 'major-outage'));

    // Nothing private in any public answer.
    const everything = [body, JSON.stringify(p), (await get('/status/feed.atom')).body, (await get('/status/feed.rss')).body].join('\n');
    for (const secret of ['PRIVATE-POSTMORTEM-TEXT', 'olga', 'owner alice', 'decide the handling policy', 'recovery:node7', 'hardware', 'SEV2', 'Only for the record', 'auth1', 'login1']) {
      assert.ok(!everything.includes(secret), `${secret} leaked`);
    }

    // Each incident has its own public page (the feeds link there); one not on the status page is not found.
    const single = await get(`/status/incidents/${opened.id}`);
    const singleDoc = parseXml(html(single).replace(/^<!doctype html>\n/, ''));
    assert.equal(singleDoc.name, 'html');
    assert.match(single.body, /<h1>Incident: Batch controller &lt;down&gt; &amp; &quot;out&quot;<\/h1>/);
    assert.match(single.body, /<strong>Investigating<\/strong>: sbatch hangs; we are looking at it/);
    assert.deepEqual((await get(`/api/status/incidents/${opened.id}`)).json(), batchIncident);
    for (const url of [`/status/incidents/${record.id}`, `/api/status/incidents/${record.id}`, '/status/incidents/999']) {
      const missing = await get(url);
      assert.equal(missing.statusCode, 404, url);
      assert.match((missing.json() as { error: { message: string } }).error.message, /incident \d+ is not on the status page/);
    }
    assert.equal((await get('/status/incidents/abc')).statusCode, 400);

    // Why, for operators only.
    assert.equal((await get('/api/status/explain')).statusCode, 401);
    assert.equal((await get('/api/status/explain', { authorization: `Bearer ${await ticketOf('alice')}` })).statusCode, 403);
    const why = (await get('/api/status/explain', { authorization: `Bearer ${await ticketOf('olga')}` })).json() as Explanation;
    const login = why.components.find((c) => c.name === 'login')!;
    assert.deepEqual(login.hosts, ['login1', 'login2']);
    assert.match(login.signals[0]!.reason, /incident #\d+ "Batch controller <down> & "out"": login degraded/);
  });

  it('check-driven states: recorded as they change, shown with "since", and counted in uptime the next day', async () => {
    for (const host of ['auth1', 'auth2', 'auth3', 'login1', 'login2']) report(host);
    report('gpu1', [{ status: 'ok' }]);
    let p = await page();
    assert.ok(p.components.every((c) => c.state === 'operational'), JSON.stringify(p.components.map((c) => [c.name, c.state])));
    assert.equal(p.overall.text, 'All systems operational');

    // auth3 and login2 stop reporting; a GPU check goes critical.
    clock.advance(60_000);
    for (const host of ['auth1', 'auth2', 'login1']) report(host);
    report('gpu1', [{ status: 'critical', summary: 'GPU 0 fell off the bus' }]);
    p = await page();
    assert.deepEqual([stateOf(p, 'authentication'), stateOf(p, 'login'), stateOf(p, 'gpu')], ['degraded', 'partial-outage', 'partial-outage']);
    assert.equal(p.components.find((c) => c.name === 'login')!.since, '2026-12-05T08:01:00.000Z');

    // auth2 goes too: the group is below its minimum.
    clock.advance(60_000);
    for (const host of ['auth1', 'login1']) report(host);
    report('gpu1', [{ status: 'critical', summary: 'GPU 0 fell off the bus' }]);
    await app.keisan.status.evaluate();
    clock.set('2026-12-05T10:02:00Z');
    for (const host of ['auth1', 'auth2', 'auth3', 'login1', 'login2']) report(host);
    report('gpu1', [{ status: 'ok' }]);
    p = await page();
    assert.ok(p.components.every((c) => c.state === 'operational'));

    const rows = (await store.transitionsSince(db.kysely, new Date('2026-12-01T00:00:00Z'))).filter((t) => t.component === 'authentication');
    assert.deepEqual(rows.map((t) => [t.at.toISOString(), t.state, t.checksState]), [
      ['2026-12-05T08:00:00.000Z', 'operational', 'operational'],
      ['2026-12-05T08:01:00.000Z', 'degraded', 'degraded'],
      ['2026-12-05T08:02:00.000Z', 'major-outage', 'major-outage'],
      ['2026-12-05T10:02:00.000Z', 'operational', 'operational'],
    ]);
    assert.match(rows[2]!.reason, /group authentication is below its minimum: 1 of 3 healthy \(minimum 2\)/);

    // Operators read the recorded changes; nobody else.
    const op = { authorization: `Bearer ${await ticketOf('olga')}` };
    assert.equal((await get('/api/status/history')).statusCode, 401);
    assert.equal((await get('/api/status/history', { authorization: `Bearer ${await ticketOf('alice')}` })).statusCode, 403);
    const history = (await get('/api/status/history?component=authentication&since=2026-12-05T08:01:00Z', op)).json() as { at: string; state: string; reason: string }[];
    assert.deepEqual(history.map((h) => [h.at, h.state]), [
      ['2026-12-05T10:02:00.000Z', 'operational'],
      ['2026-12-05T08:02:00.000Z', 'major-outage'],
      ['2026-12-05T08:01:00.000Z', 'degraded'],
    ]);
    const badSince = await get('/api/status/history?since=yesterday', op);
    assert.equal(badSince.statusCode, 400);
    assert.match((badSince.json() as { error: { message: string } }).error.message, /^since: /);
    const unknown = await get('/api/status/history?component=coffee', op);
    assert.equal(unknown.statusCode, 404);
    assert.match((unknown.json() as { error: { message: string } }).error.message, /component 'coffee' is not on the status page: name one of login, batch, /);
    assert.equal((await get('/api/status/history?colour=red', op)).statusCode, 400);

    clock.set('2026-12-06T12:00:00Z');
    for (const host of ['auth1', 'auth2', 'auth3', 'login1', 'login2', 'gpu1']) report(host);
    p = await page();
    const auth = p.components.find((c) => c.name === 'authentication')!.uptime;
    const dec5 = auth.daily.find((d) => d.date === '2026-12-05')!;
    assert.deepEqual([dec5.state, dec5.majorMs, dec5.degradedMs, dec5.observedMs], ['major-outage', 2 * H, 60_000, 16 * H]);
    assert.equal(dec5.uptime, 1 - 2 / 16);
    assert.equal(auth.daily.find((d) => d.date === '2026-12-04')!.state, 'no-data');
    assert.equal(auth.daily.at(-1)!.state, 'operational');
    assert.equal(auth.fraction, 1 - (2 * H) / (28 * H));
  });

  it('maintenance: scheduled windows are listed, one in progress puts its components under maintenance and is left out of uptime', async () => {
    const plan = (over: Partial<MaintenanceWindowView>): MaintenanceWindowView => ({ id: 1, title: 'Patch login nodes', state: 'approved', risk: 'high', windowStart: '2026-12-07T08:00:00Z', windowEnd: '2026-12-07T12:00:00Z', services: ['login'], hosts: ['login1', 'login2'], startedAt: null, finishedAt: null, ...over });
    let active: MaintenanceWindowView[] = [];
    const source: MaintenanceSource = {
      scheduled: async () => [plan({})],
      active: async () => active,
      history: async () => active,
    };
    app.keisan.status.useMaintenance(source);
    let p = await page();
    assert.deepEqual(p.maintenance.scheduled.map((m) => [m.title, m.inProgress, m.components.map((c) => c.name)]), [['Patch login nodes', false, ['login']]]);
    assert.equal(stateOf(p, 'login'), 'operational');
    assert.ok(!JSON.stringify(p).includes('"risk"'), 'risk stays internal');
    assert.match(html(await get('/status')), /<h3>Patch login nodes<\/h3><p>scheduled · window <time datetime="2026-12-07T08:00:00Z">2026-12-07 08:00 UTC<\/time>/);

    active = [plan({ id: 2, title: 'Replace a switch', state: 'running', services: ['login'], hosts: [], startedAt: '2026-12-05T08:00:00Z' })];
    clock.advance(2 * H);
    await incidents(app).open(olga, { title: 'Login slow', severity: 'SEV4', services: [{ service: 'login', impact: 'all-unavailable' }], startedAt: '2026-12-05T09:00:00Z' });
    p = await page();
    assert.equal(stateOf(p, 'login'), 'major-outage', 'an outage during maintenance still shows');
    const login = p.components.find((c) => c.name === 'login')!;
    assert.deepEqual(login.maintenance, [2]);
    const today = login.uptime.daily.at(-1)!;
    assert.deepEqual([today.maintenanceMs, today.downMs, today.uptime], [2 * H, 0, null], 'the outage fell inside the maintenance: not counted');
    assert.deepEqual(p.maintenance.inProgress.map((m) => m.title), ['Replace a switch']);
    const atom = parseXml((await get('/status/feed.atom')).body);
    assert.deepEqual(childrenNamed(atom, 'entry').slice(0, 2).map((e) => childText(e, 'title')), ['Maintenance in progress: Replace a switch', 'Scheduled maintenance: Patch login nodes']);
  });

  it('with the real maintenance room: an approved plan is on the schedule, starting it puts the component under maintenance, finishing restores it', async () => {
    const vera = { ...olga, name: 'vera' };
    await app.keisan.runbooks.add(olga, { name: 'login-recovery', service: 'login', body: 'reinstall from the image' });
    const maint = app.keisan.maintenance;
    const created = await maint.create(olga, {
      title: 'Kernel update on login1 & login2',
      risk: 'low',
      window: { start: '2026-12-05T09:00:00Z', end: '2026-12-05T11:00:00Z' },
      targets: ['login1'],
      runbook: 'login-recovery',
      steps: [{ kind: 'manual', host: 'login1', instruction: 'reboot login1 into the new kernel', expect: 'uname -r shows the new kernel' }],
    });
    await maint.submit(olga, created.id);
    assert.match(html(await get('/status')), /<h3>Kernel update on login1 &amp; login2<\/h3><p>scheduled \(not yet approved\) · window/, 'a plan awaiting approval is announced as such');
    await maint.approve(vera, created.id, { comment: 'fine' });
    for (const host of ['login1', 'login2']) report(host);
    let p = await page();
    assert.deepEqual(p.maintenance.scheduled.map((m) => [m.id, m.title, m.state, m.inProgress, m.components.map((c) => c.name)]), [[created.id, 'Kernel update on login1 & login2', 'approved', false, ['login']]]);
    assert.match(html(await get('/status')), /<h3>Kernel update on login1 &amp; login2<\/h3><p>scheduled · window/);

    clock.set('2026-12-05T09:00:00Z');
    for (const host of ['login2']) report(host);
    await maint.start(olga, created.id);
    clock.advance(60_000);
    report('login2');
    p = await page();
    assert.equal(stateOf(p, 'login'), 'under-maintenance', 'login1 is down, as the plan expects');
    assert.deepEqual(p.maintenance.inProgress.map((m) => m.id), [created.id]);
    assert.deepEqual(p.maintenance.scheduled, []);
    assert.equal(p.overall.text, 'Maintenance in progress: Login nodes');

    await maint.execute(olga, created.id, 1, { confirmHost: 'login1', result: 'ok', note: 'new kernel' });
    clock.set('2026-12-05T10:00:00Z');
    for (const host of ['login1', 'login2']) report(host);
    p = await page();
    assert.equal(stateOf(p, 'login'), 'operational', 'finishing restores it');
    const today = p.components.find((c) => c.name === 'login')!.uptime.daily.at(-1)!;
    assert.deepEqual([today.maintenanceMs, today.downMs, today.uptime], [60_000, 0, 1], 'the minute of maintenance is left out');
  });

  it('Atom 1.0 and RSS 2.0: well-formed, escaped, one entry per incident (with its public updates) and per maintenance; recently resolved incidents listed', async () => {
    const nasty = 'Web <script>alert(1)</script> & "quotes" \u0001 done';
    const web = await incidents(app).open(olga, { title: nasty, severity: 'SEV3', services: [{ service: 'web', impact: 'partial-outage' }], startedAt: '2026-12-05T07:00:00Z', message: 'looking <b>now</b> & then' });
    await incidents(app).resolve(olga, web.id, { at: '2026-12-05T07:45:00Z', message: 'fixed' });
    const old = await incidents(app).open(olga, { title: 'Storage slow last month', severity: 'SEV4', services: [{ service: 'storage-home', impact: 'degraded' }], startedAt: '2026-11-20T07:00:00Z' });
    await incidents(app).resolve(olga, old.id, { at: '2026-11-20T09:00:00Z' });

    const p = await page();
    assert.deepEqual(p.incidents.recent.map((i) => i.id), [web.id], 'resolved within 7 days; the older one is not');
    assert.deepEqual(p.incidents.current, []);

    const atomResponse = await get('/status/feed.atom');
    assert.equal(atomResponse.statusCode, 200);
    assert.match(String(atomResponse.headers['content-type']), /^application\/atom\+xml; charset=utf-8/);
    assert.ok(!atomResponse.body.includes('<script>'));
    const feed = parseXml(atomResponse.body);
    assert.equal(feed.name, 'feed');
    assert.equal(feed.attributes.xmlns, 'http://www.w3.org/2005/Atom');
    assert.equal(childText(feed, 'id'), 'https://status.example.org/status');
    assert.equal(childText(feed, 'title'), 'Testlab <status> & "more"');
    assert.match(childText(feed, 'updated'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(childText(childrenNamed(feed, 'author')[0]!, 'name'), 'Testlab');
    const entries = childrenNamed(feed, 'entry');
    assert.equal(entries.length, 2);
    const entry = entries.find((e) => childText(e, 'id') === `https://status.example.org/status#incident-${web.id}`)!;
    assert.equal(childText(entry, 'title'), 'Resolved: Web <script>alert(1)</script> & "quotes"  done', 'escaped, the control character dropped');
    assert.equal(childText(entry, 'updated'), '2026-12-05T08:00:00Z');
    const content = childrenNamed(entry, 'content')[0]!;
    assert.equal(content.attributes.type, 'html');
    assert.match(content.text, /<li>2026-12-05 08:00 UTC — <strong>Investigating<\/strong>: looking &lt;b&gt;now&lt;\/b&gt; &amp; then<\/li>/, 'the HTML inside is escaped once more');
    assert.match(content.text, /<strong>Resolved<\/strong>: fixed/);
    assert.equal(childrenNamed(entry, 'link')[0]!.attributes.href, `https://status.example.org/status/incidents/${web.id}`);

    const rssResponse = await get('/status/feed.rss');
    assert.match(String(rssResponse.headers['content-type']), /^application\/rss\+xml; charset=utf-8/);
    const rss = parseXml(rssResponse.body);
    assert.deepEqual([rss.name, rss.attributes.version], ['rss', '2.0']);
    const channel = childrenNamed(rss, 'channel')[0]!;
    assert.equal(childText(channel, 'link'), 'https://status.example.org/status');
    assert.match(childText(channel, 'lastBuildDate'), /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
    const items = childrenNamed(channel, 'item');
    assert.equal(items.length, 2);
    const item = items.find((i) => childText(i, 'guid') === `https://status.example.org/status#incident-${web.id}`)!;
    assert.equal(childText(item, 'title'), 'Resolved: Web <script>alert(1)</script> & "quotes"  done');
    assert.equal(childrenNamed(item, 'guid')[0]!.attributes.isPermaLink, 'false');
    assert.equal(childText(item, 'pubDate'), 'Sat, 05 Dec 2026 08:00:00 GMT');
    assert.equal(childText(item, 'link'), `https://status.example.org/status/incidents/${web.id}`);
    assert.equal((await get(`/status/incidents/${old.id}`)).statusCode, 200, 'an incident older than the page lists still has its page');
  });
});

const incidents = (app: KeisanApp) => app.keisan.incidents;
