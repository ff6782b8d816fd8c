import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginLimiter, type LoginLimitPolicy } from './login-limiter.ts';

const SECOND = 1000;
const policy: LoginLimitPolicy = { perUser: 3, perAddress: 5, windowMs: 60 * SECOND };
const T0 = Date.parse('2026-03-02T08:00:00.000Z');
const t = (ms: number) => new Date(T0 + ms);

describe('LoginLimiter', () => {
  it('allows attempts until a name has perUser failures, then refuses for that name', () => {
    const limiter = new LoginLimiter(policy);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(limiter.check('alice', '10.0.0.1', t(i * SECOND)), { allowed: true }, `attempt ${i}`);
      limiter.recordFailure('alice', '10.0.0.1', t(i * SECOND));
    }
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(5 * SECOND)), { allowed: false, scope: 'user', retryAfterMs: 55 * SECOND });
    // The name is throttled from any address.
    assert.deepEqual(limiter.check('alice', '10.9.9.9', t(5 * SECOND)), { allowed: false, scope: 'user', retryAfterMs: 55 * SECOND });
    // Other names from the same address are not (yet).
    assert.deepEqual(limiter.check('bob', '10.0.0.1', t(5 * SECOND)), { allowed: true });
  });

  it('counts a name\'s failures across addresses', () => {
    const limiter = new LoginLimiter(policy);
    limiter.recordFailure('alice', '10.0.0.1', t(0));
    limiter.recordFailure('alice', '10.0.0.2', t(SECOND));
    assert.equal(limiter.check('alice', '10.0.0.4', t(2 * SECOND)).allowed, true);
    limiter.recordFailure('alice', '10.0.0.3', t(2 * SECOND));
    assert.deepEqual(limiter.check('alice', '10.0.0.4', t(3 * SECOND)), { allowed: false, scope: 'user', retryAfterMs: 57 * SECOND });
  });

  it('refuses an address after perAddress failures, whatever name it tries next', () => {
    const limiter = new LoginLimiter(policy);
    const names = ['a', 'b', 'c', 'd', 'e'];
    names.forEach((name, i) => limiter.recordFailure(name, '10.0.0.1', t(i * SECOND)));
    assert.deepEqual(limiter.check('newcomer', '10.0.0.1', t(10 * SECOND)), { allowed: false, scope: 'address', retryAfterMs: 50 * SECOND });
    assert.deepEqual(limiter.check('newcomer', '10.0.0.2', t(10 * SECOND)), { allowed: true });
    // Four failures from an address are still fine.
    const other = new LoginLimiter(policy);
    names.slice(0, 4).forEach((name, i) => other.recordFailure(name, '10.0.0.1', t(i * SECOND)));
    assert.deepEqual(other.check('newcomer', '10.0.0.1', t(10 * SECOND)), { allowed: true });
  });

  it('reports the per-user limit first when both are reached', () => {
    const limiter = new LoginLimiter({ perUser: 2, perAddress: 2, windowMs: 60 * SECOND });
    limiter.recordFailure('alice', '10.0.0.1', t(0));
    limiter.recordFailure('alice', '10.0.0.1', t(SECOND));
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(2 * SECOND)), { allowed: false, scope: 'user', retryAfterMs: 58 * SECOND });
    assert.deepEqual(limiter.check('bob', '10.0.0.1', t(2 * SECOND)), { allowed: false, scope: 'address', retryAfterMs: 58 * SECOND });
  });

  it('slides: the oldest failure leaves the window exactly windowMs after it happened', () => {
    const limiter = new LoginLimiter(policy);
    limiter.recordFailure('alice', '10.0.0.1', t(0));
    limiter.recordFailure('alice', '10.0.0.1', t(10 * SECOND));
    limiter.recordFailure('alice', '10.0.0.1', t(20 * SECOND));
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(60 * SECOND - 1)), { allowed: false, scope: 'user', retryAfterMs: 1 });
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(60 * SECOND)), { allowed: true });
    // One more failure fills the window again; now the wait is until the 10 s failure leaves.
    limiter.recordFailure('alice', '10.0.0.1', t(60 * SECOND));
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(60 * SECOND)), { allowed: false, scope: 'user', retryAfterMs: 10 * SECOND });
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(70 * SECOND)), { allowed: true });
    // Long after, everything is forgotten.
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(3600 * SECOND)), { allowed: true });
  });

  it('retryAfterMs counts down as time passes', () => {
    const limiter = new LoginLimiter(policy);
    for (let i = 0; i < 3; i++) limiter.recordFailure('alice', '10.0.0.1', t(0));
    for (const elapsed of [0, 1, 30 * SECOND, 59 * SECOND]) {
      const decision = limiter.check('alice', '10.0.0.1', t(elapsed));
      assert.equal(decision.allowed, false);
      if (!decision.allowed) assert.equal(decision.retryAfterMs, 60 * SECOND - elapsed);
    }
  });

  it('a success clears the name\'s failures, but not the address\'s', () => {
    const limiter = new LoginLimiter(policy);
    for (let i = 0; i < 3; i++) limiter.recordFailure('alice', '10.0.0.1', t(i));
    assert.equal(limiter.check('alice', '10.0.0.1', t(10)).allowed, false);
    limiter.recordSuccess('alice');
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(10)), { allowed: true });
    // Two failures later the address (5) is full, though alice herself has only two.
    limiter.recordFailure('alice', '10.0.0.1', t(20));
    limiter.recordFailure('alice', '10.0.0.1', t(30));
    assert.deepEqual(limiter.check('alice', '10.0.0.1', t(40)), { allowed: false, scope: 'address', retryAfterMs: 60 * SECOND - 40 });
    assert.deepEqual(limiter.check('alice', '10.0.0.2', t(40)), { allowed: true });
  });

  it('a success for one name leaves other names throttled', () => {
    const limiter = new LoginLimiter(policy);
    for (let i = 0; i < 3; i++) limiter.recordFailure('bob', `10.0.1.${i}`, t(i));
    limiter.recordSuccess('alice');
    assert.equal(limiter.check('bob', '10.0.2.1', t(10)).allowed, false);
  });
});
