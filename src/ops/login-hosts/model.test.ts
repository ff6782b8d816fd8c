import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessPool, chooseLoginHost, emptyPoolState, loadWeight, pruneSticky, type Candidate, type PoolState } from './model.ts';

const NOW = new Date('2026-11-23T08:00:00.000Z');
const healthy = { state: 'healthy' as const, reason: 'agent reporting' };

const host = (name: string, extra: Partial<Candidate> = {}): Candidate => ({
  host: name,
  address: `10.0.0.${name.replace(/\D/g, '') || '1'}`,
  health: healthy,
  maintenance: null,
  load1: 0,
  cpus: 4,
  ...extra,
});

/** Asks `n` times for anonymous callers (or the given users), carrying the state; returns the hosts chosen. */
function run(candidates: Candidate[], users: (string | null)[], state: PoolState = emptyPoolState(), now = NOW): { chosen: string[]; state: PoolState } {
  const chosen: string[] = [];
  for (const user of users) {
    const choice = chooseLoginHost(candidates, state, user, now);
    assert.ok(choice.ok, 'a host should be chosen');
    chosen.push(choice.host);
    state = choice.state;
  }
  return { chosen, state };
}

const count = (items: string[]) => items.reduce<Record<string, number>>((acc, item) => ({ ...acc, [item]: (acc[item] ?? 0) + 1 }), {});

describe('login host chooser', () => {
  it('weight is the free CPU share 1 / (1 + load per core); unknown load counts 0.5', () => {
    assert.equal(loadWeight(0, 4).weight, 1);
    assert.equal(loadWeight(4, 4).weight, 0.5);
    assert.equal(loadWeight(16, 4).weight, 0.2);
    assert.equal(loadWeight(null, 4).weight, 0.5);
    assert.equal(loadWeight(2, null).weight, 0.5);
    assert.match(loadWeight(2, 4).text, /load 2\.00 on 4 CPUs \(weight 0\.67\)/);
  });

  it('never chooses a host that is down, of unknown health, or in maintenance, and says why each is out', () => {
    const candidates = [
      host('login1', { health: { state: 'down', reason: 'its agent has not reported for 2m' } }),
      host('login2', { maintenance: "maintenance plan 3 'kernel' is running" }),
      host('login3', { health: { state: 'unknown', reason: 'no report from the Keisan agent' } }),
      host('login4'),
    ];
    const { chosen } = run(candidates, Array<null>(20).fill(null));
    assert.deepEqual(new Set(chosen), new Set(['login4']));
    const assessed = assessPool(candidates);
    assert.deepEqual(
      assessed.map((a) => [a.host, a.state]),
      [
        ['login1', 'out'],
        ['login2', 'out'],
        ['login3', 'out'],
        ['login4', 'in-pool'],
      ],
    );
    assert.match(assessed[0]!.reason, /^down: its agent has not reported/);
    assert.match(assessed[1]!.reason, /^in maintenance: maintenance plan 3/);
    assert.match(assessed[2]!.reason, /^health unknown/);
  });

  it('spreads users round robin: equal weights alternate, never the same host twice in a row', () => {
    const { chosen } = run([host('login1'), host('login2')], Array<null>(6).fill(null));
    assert.deepEqual(chosen, ['login1', 'login2', 'login1', 'login2', 'login1', 'login2']);
  });

  it('spreads users in proportion to the weights: a host with twice the free CPU share gets twice the users', () => {
    // login1 idle (weight 1), login2 at one task per core (weight 0.5).
    const { chosen } = run([host('login1', { load1: 0 }), host('login2', { load1: 4 })], Array<null>(300).fill(null));
    assert.deepEqual(count(chosen), { login1: 200, login2: 100 });
    // Smooth: the busier host is never starved for long.
    assert.ok(chosen.slice(0, 3).includes('login2'));
  });

  it('keeps a user on their host while it stays in the pool; moves them when it goes down; forgets after stickyFor', () => {
    const two = [host('login1'), host('login2')];
    let { chosen, state } = run(two, ['alice', 'bob', 'alice', 'bob', 'alice']);
    assert.deepEqual(chosen, ['login1', 'login2', 'login1', 'login2', 'login1']);
    const aliceDown = [host('login1', { health: { state: 'down', reason: 'silent' } }), host('login2')];
    ({ chosen, state } = run(aliceDown, ['alice', 'alice'], state));
    assert.deepEqual(chosen, ['login2', 'login2']);
    // login1 back: alice stays where she is now (login2).
    ({ chosen, state } = run(two, ['alice'], state));
    assert.deepEqual(chosen, ['login2']);
    const choice = chooseLoginHost(two, state, 'alice', NOW);
    assert.ok(choice.ok);
    assert.match(choice.why, /alice was sent to login2 before and it is still in the pool/);
    // 13 hours later (stickyFor 12 h) alice is handed out by round robin again, and pruning forgets her.
    const later = new Date(NOW.getTime() + 13 * 3600_000);
    assert.equal(pruneSticky(state.sticky, later).has('alice'), false);
    const fresh = chooseLoginHost(two, state, 'alice', later);
    assert.ok(fresh.ok);
    assert.match(fresh.why, /round robin weighted by load/);
  });

  it('uses degraded hosts only when no login host is healthy', () => {
    const degraded = { state: 'degraded' as const, reason: 'check disk:/ is critical' };
    const mixed = [host('login1', { health: degraded }), host('login2')];
    assert.deepEqual(new Set(run(mixed, Array<null>(10).fill(null)).chosen), new Set(['login2']));
    const onlyDegraded = [host('login1', { health: degraded }), host('login2', { health: { state: 'down', reason: 'silent' } })];
    const choice = chooseLoginHost(onlyDegraded, emptyPoolState(), null, NOW);
    assert.ok(choice.ok);
    assert.equal(choice.host, 'login1');
    assert.match(choice.why, /no login host is healthy: a degraded one/);
  });

  it('none available: a message naming every host and why it is out; no login hosts at all says how to add one', () => {
    const none = chooseLoginHost(
      [host('login1', { health: { state: 'down', reason: 'its agent has not reported for 5m' } }), host('login2', { maintenance: 'drained by olga: disk swap' })],
      emptyPoolState(),
      'alice',
      NOW,
    );
    assert.equal(none.ok, false);
    assert.ok(!none.ok);
    assert.match(none.message, /^no login host can take users now: login1 is down: its agent has not reported for 5m; login2 is in maintenance: drained by olga: disk swap$/);
    const empty = chooseLoginHost([], emptyPoolState(), null, NOW);
    assert.ok(!empty.ok);
    assert.match(empty.message, /no host in the inventory has the 'login' role: add one, e\.g\. keisan ops hosts add login1 --role login/);
  });

  it('is pure: the state passed in is not changed', () => {
    const state = emptyPoolState();
    chooseLoginHost([host('login1'), host('login2')], state, 'alice', NOW);
    assert.equal(state.credit.size, 0);
    assert.equal(state.sticky.size, 0);
  });
});
