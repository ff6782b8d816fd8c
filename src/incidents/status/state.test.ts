import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostHealth } from '../../ops/inventory/model.ts';
import { IMPACTS, UNAVAILABLE_IMPACTS, type Impact } from '../model.ts';
import { FAILURE_STATES, type ComponentDef, type MaintenanceWindowView } from './model.ts';
import { componentsOf, statusSettings } from './settings.ts';
import { decideComponentState, IMPACT_STATE, keepRecorded, overallOf, transitionsToRecord, type ComponentDecision, type StateInputs } from './state.ts';

const NOW = new Date('2026-12-05T12:00:00Z');
const batch: ComponentDef = { name: 'batch', displayName: 'Batch jobs', description: '', services: ['batch'], hosts: [], checks: [] };
const healthy: HostHealth = { state: 'healthy', reason: 'reporting' };
const down: HostHealth = { state: 'down', reason: 'agent silent for 5 min' };
const degraded: HostHealth = { state: 'degraded', reason: 'check disk critical' };

const inputs = (over: Partial<StateInputs> = {}): StateInputs => ({ component: batch, incidents: [], hosts: [], groups: [], health: new Map(), alerts: [], checks: [], maintenance: [], ...over });
const incident = (impact: Impact, id = 1, service = 'batch') => ({ id, title: `incident ${id}`, startedAt: new Date('2026-12-05T10:00:00Z'), services: [{ service, impact }] });
const window = (over: Partial<MaintenanceWindowView> = {}): MaintenanceWindowView => ({
  id: 7,
  title: 'Patch',
  state: 'running',
  risk: 'low',
  windowStart: '2026-12-05T11:00:00Z',
  windowEnd: '2026-12-05T13:00:00Z',
  services: ['batch'],
  hosts: [],
  startedAt: '2026-12-05T11:00:00Z',
  finishedAt: null,
  ...over,
});

describe('status page: the state of a component', () => {
  it('maps every impact of the incidents model (a new impact fails here until mapped); outages are exactly the impacts the outage report counts as unavailable', () => {
    for (const impact of IMPACTS) {
      assert.ok(Object.hasOwn(IMPACT_STATE, impact), `impact ${impact} has no status-page state`);
      assert.ok((FAILURE_STATES as readonly string[]).includes(IMPACT_STATE[impact]), impact);
      const outage = IMPACT_STATE[impact] === 'partial-outage' || IMPACT_STATE[impact] === 'major-outage';
      assert.equal(outage, UNAVAILABLE_IMPACTS.has(impact), `${impact}: an outage on the page iff unavailable in the report`);
    }
    assert.deepEqual(Object.keys(IMPACT_STATE).sort(), [...IMPACTS].sort());
    const expected: Record<Impact, string> = { 'all-unavailable': 'major-outage', 'partial-outage': 'partial-outage', 'some-jobs-aborted': 'degraded', degraded: 'degraded', none: 'operational' };
    for (const impact of IMPACTS) assert.equal(decideComponentState(inputs({ incidents: [incident(impact)] }), NOW).state, expected[impact], impact);
  });

  it('the worst signal wins; incidents on other services and incidents not yet started do not count', () => {
    const d = decideComponentState(inputs({ incidents: [incident('degraded', 1), incident('all-unavailable', 2, 'login'), incident('partial-outage', 3)] }), NOW);
    assert.equal(d.state, 'partial-outage');
    assert.deepEqual(d.incidents, [1, 3]);
    assert.equal(d.checksState, 'operational', 'incidents are not check signals');
    const later = { ...incident('all-unavailable', 4), startedAt: new Date('2026-12-05T13:00:00Z') };
    assert.equal(decideComponentState(inputs({ incidents: [later] }), NOW).state, 'operational');
    assert.equal(decideComponentState(inputs(), NOW).state, 'operational');
  });

  it('redundancy groups: below the minimum is a major outage, an unhealthy member with the minimum held is degraded; unknown health gets the benefit of the doubt', () => {
    const group = { name: 'batch-ctl', members: ['ctl1', 'ctl2'], minHealthy: 1 };
    const of = (a: HostHealth | undefined, b: HostHealth | undefined) => new Map([...(a ? [['ctl1', a] as const] : []), ...(b ? [['ctl2', b] as const] : [])]);
    const state = (a: HostHealth | undefined, b: HostHealth | undefined) => decideComponentState(inputs({ hosts: ['ctl1', 'ctl2'], groups: [group], health: of(a, b) }), NOW);
    assert.equal(state(healthy, healthy).state, 'operational');
    assert.equal(state(down, healthy).state, 'degraded');
    assert.equal(state(down, down).state, 'major-outage');
    assert.equal(state(down, down).checksState, 'major-outage');
    assert.match(state(down, down).signals[0]!.reason, /group batch-ctl is below its minimum: 0 of 2 healthy \(minimum 1\)/);
    assert.equal(state(degraded, down).state, 'major-outage', 'degraded members do not count as healthy');
    assert.equal(state(undefined, undefined).state, 'operational', 'no agent report yet is not an outage');
    const auth = { name: 'auth', members: ['a1', 'a2', 'a3'], minHealthy: 2 };
    const three = (...h: HostHealth[]) => decideComponentState(inputs({ hosts: ['a1', 'a2', 'a3'], groups: [auth], health: new Map(h.map((x, i) => [`a${i + 1}`, x])) }), NOW).state;
    assert.equal(three(healthy, healthy, down), 'degraded');
    assert.equal(three(healthy, down, down), 'major-outage');
  });

  it('hosts in no group: all down is a major outage, some down partial, degraded hosts degraded', () => {
    const hosts = ['login1', 'login2'];
    const state = (a: HostHealth, b: HostHealth) => decideComponentState(inputs({ hosts, health: new Map([['login1', a], ['login2', b]]) }), NOW).state;
    assert.equal(state(healthy, healthy), 'operational');
    assert.equal(state(down, healthy), 'partial-outage');
    assert.equal(state(down, down), 'major-outage');
    assert.equal(state(degraded, healthy), 'degraded');
  });

  it('alerts labelled with the service (or the component) and the component\'s checks; silenced alerts and other services do not count', () => {
    const alert = (severity: string, labels: Record<string, string>, silenced = false) => ({ alertname: 'SlurmctldDown', severity, summary: 'slurmctld not answering', labels, silenced });
    assert.equal(decideComponentState(inputs({ alerts: [alert('critical', { service: 'batch' })] }), NOW).state, 'partial-outage');
    assert.equal(decideComponentState(inputs({ alerts: [alert('warning', { component: 'batch' })] }), NOW).state, 'degraded');
    assert.equal(decideComponentState(inputs({ alerts: [alert('critical', { service: 'batch', status_state: 'major-outage' })] }), NOW).state, 'major-outage');
    assert.equal(decideComponentState(inputs({ alerts: [alert('critical', { service: 'batch' }, true)] }), NOW).state, 'operational');
    assert.equal(decideComponentState(inputs({ alerts: [alert('critical', { service: 'login' }), alert('critical', {})] }), NOW).state, 'operational');

    const withChecks: ComponentDef = { ...batch, checks: ['process:slurmctld', 'filesystem'] };
    const check = (check: string, type: string, status: 'ok' | 'warning' | 'critical', host = 'ctl1') => ({ host, check, type, status, summary: `${check} ${status}` });
    const state = (...checks: ReturnType<typeof check>[]) => decideComponentState(inputs({ component: withChecks, hosts: ['ctl1'], checks }), NOW);
    assert.equal(state(check('process:slurmctld', 'process', 'critical')).state, 'partial-outage');
    assert.equal(state(check('filesystem:/var', 'filesystem', 'warning')).state, 'degraded');
    assert.equal(state(check('process:sshd', 'process', 'critical')).state, 'operational', 'a check the component does not name');
    assert.equal(state(check('process:slurmctld', 'process', 'critical', 'elsewhere')).state, 'operational', 'a host not of the component');
    assert.equal(state(check('process:slurmctld', 'process', 'ok')).checksState, 'operational');
  });

  it('maintenance: under maintenance when nothing is worse than degraded; a partial or major outage still shows; the hosts worked on are expected to be down', () => {
    assert.equal(decideComponentState(inputs({ maintenance: [window()] }), NOW).state, 'under-maintenance');
    assert.deepEqual(decideComponentState(inputs({ maintenance: [window()] }), NOW).maintenance, [7]);
    assert.equal(decideComponentState(inputs({ maintenance: [window()], incidents: [incident('degraded')] }), NOW).state, 'under-maintenance');
    assert.equal(decideComponentState(inputs({ maintenance: [window()], incidents: [incident('partial-outage')] }), NOW).state, 'partial-outage');
    assert.equal(decideComponentState(inputs({ maintenance: [window()], incidents: [incident('all-unavailable')] }), NOW).state, 'major-outage');
    assert.equal(decideComponentState(inputs({ maintenance: [window({ services: ['login'] })] }), NOW).state, 'operational', 'maintenance of another service');
    assert.equal(decideComponentState(inputs({ maintenance: [window({ finishedAt: '2026-12-05T11:30:00Z' })] }), NOW).state, 'operational', 'finished');

    // Maintenance on login1 (of two loose login hosts): login1 being down is expected; login2 down still counts.
    const login: ComponentDef = { ...batch, name: 'login', services: ['login'] };
    const onLogin1 = window({ services: ['login'], hosts: ['login1'] });
    const state = (a: HostHealth, b: HostHealth, c: HostHealth = healthy) =>
      decideComponentState(inputs({ component: login, hosts: ['login1', 'login2', 'login3'], health: new Map([['login1', a], ['login2', b], ['login3', c]]), maintenance: [onLogin1] }), NOW).state;
    assert.equal(state(down, healthy), 'under-maintenance');
    assert.equal(state(down, down), 'partial-outage', 'login2 down is not part of the maintenance');
    assert.equal(state(down, down, down), 'major-outage', 'no login host left: one worked on, the others down');
    // A group: the member worked on is down, the other healthy → degraded → under maintenance; both down → major outage.
    const group = { name: 'login', members: ['login1', 'login2'], minHealthy: 1 };
    const grouped = (a: HostHealth, b: HostHealth) => decideComponentState(inputs({ component: login, hosts: ['login1', 'login2'], groups: [group], health: new Map([['login1', a], ['login2', b]]), maintenance: [onLogin1] }), NOW).state;
    assert.equal(grouped(down, healthy), 'under-maintenance');
    assert.equal(grouped(down, down), 'major-outage');
    // A maintenance window naming only a host touches the components that host provides.
    assert.equal(decideComponentState(inputs({ component: login, hosts: ['login1.hpc.example.org'], maintenance: [window({ services: [], hosts: ['login1'] })] }), NOW).state, 'under-maintenance');
  });

  it('a source that could not be read: the last recorded check state stands in, maintenance precedence still applies', () => {
    const fresh = decideComponentState(inputs({ incidents: [incident('degraded')] }), NOW);
    assert.equal(keepRecorded(fresh, 'major-outage', []), fresh, 'everything was read');
    assert.equal(keepRecorded(fresh, 'operational', ['the inventory']), fresh);
    const kept = keepRecorded(fresh, 'partial-outage', ['the inventory']);
    assert.deepEqual([kept.state, kept.checksState, kept.signals.at(-1)!.source], ['partial-outage', 'partial-outage', 'recorded']);
    const maintained = keepRecorded(decideComponentState(inputs({ maintenance: [window()] }), NOW), 'degraded', ['the checks']);
    assert.equal(maintained.state, 'under-maintenance');
  });

  it('the overall line names the worst components', () => {
    assert.deepEqual(overallOf([{ displayName: 'Login', state: 'operational' }]), { state: 'operational', text: 'All systems operational' });
    assert.deepEqual(overallOf([{ displayName: 'Login', state: 'under-maintenance' }, { displayName: 'Batch', state: 'operational' }]), { state: 'under-maintenance', text: 'Maintenance in progress: Login' });
    assert.deepEqual(overallOf([{ displayName: 'Login', state: 'degraded' }, { displayName: 'Batch', state: 'major-outage' }, { displayName: 'Web', state: 'major-outage' }]), { state: 'major-outage', text: 'Major outage: Batch, Web' });
  });

  it('records a transition only when the state or the checks-state changes, and the first one of each component', () => {
    const decision = (state: ComponentDecision['state'], checksState: ComponentDecision['checksState'] = 'operational'): ComponentDecision => ({ state, checksState, signals: [], incidents: [], maintenance: [] });
    const last = new Map([['batch', { state: 'operational' as const, checksState: 'operational' as const }]]);
    assert.deepEqual(transitionsToRecord(last, [{ component: 'batch', decision: decision('operational') }], NOW), []);
    assert.deepEqual(
      transitionsToRecord(last, [{ component: 'batch', decision: decision('partial-outage', 'partial-outage') }, { component: 'login', decision: decision('operational') }], NOW).map((t) => [t.component, t.state, t.checksState, t.at.toISOString()]),
      [
        ['batch', 'partial-outage', 'partial-outage', NOW.toISOString()],
        ['login', 'operational', 'operational', NOW.toISOString()],
      ],
    );
    assert.equal(transitionsToRecord(last, [{ component: 'batch', decision: decision('operational', 'degraded') }], NOW).length, 1, 'checks-state alone');
  });

  it('components: the six standard ones, replaced or hidden by name, plus the site\'s; bad settings are refused naming the field', () => {
    assert.deepEqual(componentsOf(statusSettings.parse({})).map((c) => c.name), ['login', 'batch', 'storage-home', 'storage-archive', 'authentication', 'web']);
    const site = componentsOf(statusSettings.parse({ hide: ['web'], components: [{ name: 'gpu', displayName: 'GPU nodes', hosts: ['gpu1'], checks: ['nvidia'] }, { name: 'batch', displayName: 'Batch (SLURM)', services: ['batch', 'slurmdbd'] }] }));
    assert.deepEqual(site.map((c) => [c.name, c.displayName, c.services]), [
      ['login', 'Login nodes', ['login']],
      ['batch', 'Batch (SLURM)', ['batch', 'slurmdbd']],
      ['storage-home', 'Storage: home', ['storage-home']],
      ['storage-archive', 'Storage: archive', ['storage-archive']],
      ['authentication', 'Authentication', ['authentication']],
      ['gpu', 'GPU nodes', ['gpu']],
    ]);
    const bad = (value: unknown) => {
      const r = statusSettings.safeParse(value);
      assert.ok(!r.success);
      return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    assert.match(bad({ hide: ['gpu'] }), /hide\.0: gpu is not a standard component/);
    assert.match(bad({ components: [{ name: 'GPU Nodes', displayName: 'x' }] }), /component name is not valid/);
    assert.match(bad({ components: [{ name: 'gpu', displayName: '  ' }] }), /displayName must not be empty/);
    assert.match(bad({ components: [{ name: 'gpu', displayName: 'a' }, { name: 'gpu', displayName: 'b' }] }), /component gpu is defined twice/);
    assert.match(bad({ evaluateEvery: '1s' }), /at least 5s/);
    assert.match(bad({ colour: 'red' }), /colour/);
  });
});

describe('status page: public update texts', () => {
  it('drops the bookkeeping the incident service appends, keeps what the operator wrote', async () => {
    const { publicText } = await import('./service.ts');
    assert.equal(publicText('a failed disk (status investigating → identified; cause unknown → hardware)', 'status', 'identified'), 'a failed disk');
    assert.equal(publicText('(status investigating → monitoring)', 'status', 'monitoring'), 'A fix is in place; we are monitoring.');
    assert.equal(publicText('NFS server rebooted (resolved)', 'resolved', 'resolved'), 'NFS server rebooted');
    assert.equal(publicText('(resolved)', 'resolved', 'resolved'), 'This incident has been resolved.');
    assert.equal(publicText('(reopened (it had ended 2026-12-05T08:00:00.000Z))', 'reopened', 'investigating'), 'The incident has been reopened; we are investigating.');
    assert.equal(publicText('slow again (reopened (it had ended 2026-12-05T08:00:00.000Z); severity SEV3 → SEV2)', 'reopened', 'investigating'), 'slow again');
    assert.equal(publicText('we restarted it (status page updated)', 'update', 'identified'), 'we restarted it (status page updated)', 'a message of its own in parentheses stays');
    assert.equal(publicText('sbatch hangs', 'opened', 'investigating'), 'sbatch hangs');
  });
});
