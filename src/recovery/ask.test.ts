import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings } from '../lib/config.ts';
import { QuietBook, askDeadline, resolvePending, type PendingAsk, type ServerDecision } from './ask.ts';
import { recoverySettings, resolveRecoverySettings } from './settings.ts';

/** Ask mode's pure decisions: approve, deny, timeout → fallback, the job ending, the server down past the deadline. */
describe('recovery ask mode: resolvePending', () => {
  const clock = () => new ManualClock('2026-11-23T10:00:00Z');
  const pendingAt = (c: ManualClock, over: Partial<PendingAsk> = {}): PendingAsk => {
    const startedMs = c.now().getTime();
    return { key: '0b7e3a52-6a8f-4bd5-9c1e-2f7d8a1c0e11', target: { kind: 'job', jobId: 42 }, proposed: 'kill', fallback: 'kill', startedMs, deadlineMs: askDeadline(startedMs, 5 * 60_000), ...over };
  };
  const decision = (p: PendingAsk, verdict: 'approved' | 'denied', at: Date, by = 'olga'): ServerDecision => ({ key: p.key, decision: verdict, by, at: at.toISOString(), reason: verdict === 'denied' ? 'expected peak' : null });

  it('waits while nothing is decided and the deadline is ahead; the victim stays frozen', () => {
    const c = clock();
    const p = pendingAt(c);
    c.advance(4 * 60_000 + 59_000);
    assert.deepEqual(resolvePending(p, { nowMs: c.now().getTime(), victimAlive: true, decision: null }), { kind: 'wait' });
  });

  it('approve performs the proposed action; deny thaws; both name the operator and the reason', () => {
    const c = clock();
    const p = pendingAt(c, { proposed: 'throttle', fallback: 'thaw' });
    c.advance(30_000);
    const approved = resolvePending(p, { nowMs: c.now().getTime(), victimAlive: true, decision: decision(p, 'approved', c.now()) });
    assert.deepEqual(approved, { kind: 'resolve', decision: 'approved', action: 'throttle', by: 'olga', atMs: c.now().getTime(), reason: null });
    const denied = resolvePending(p, { nowMs: c.now().getTime(), victimAlive: true, decision: decision(p, 'denied', c.now(), 'olga via e-mail link') });
    assert.deepEqual(denied, { kind: 'resolve', decision: 'denied', action: 'thaw', by: 'olga via e-mail link', atMs: c.now().getTime(), reason: 'expected peak' });
  });

  it('a decision for another key is ignored', () => {
    const c = clock();
    const p = pendingAt(c);
    const other = { ...decision(p, 'denied', c.now()), key: 'ffffffff-6a8f-4bd5-9c1e-2f7d8a1c0e11' };
    assert.deepEqual(resolvePending(p, { nowMs: c.now().getTime(), victimAlive: true, decision: other }), { kind: 'wait' });
  });

  it('at the deadline the fallback runs on the node clock (the rule action, or thaw)', () => {
    const c = clock();
    const p = pendingAt(c);
    c.advance(5 * 60_000);
    assert.deepEqual(resolvePending(p, { nowMs: c.now().getTime(), victimAlive: true, decision: null }), { kind: 'resolve', decision: 'timed-out', action: 'kill', by: 'timeout', atMs: c.now().getTime(), reason: null });
    const thaw = pendingAt(clock(), { fallback: 'thaw' });
    assert.equal((resolvePending(thaw, { nowMs: thaw.deadlineMs + 1, victimAlive: true, decision: null }) as { action: string }).action, 'thaw');
  });

  it('server down until after the deadline: a decision made after the deadline does not count, one made before does', () => {
    const c = clock();
    const p = pendingAt(c);
    c.advance(6 * 60_000);
    const late = decision(p, 'denied', c.now());
    assert.equal((resolvePending(p, { nowMs: c.now().getTime(), victimAlive: true, decision: late }) as { decision: string }).decision, 'timed-out');
    const early = decision(p, 'denied', new Date(p.deadlineMs - 1000));
    assert.equal((resolvePending(p, { nowMs: c.now().getTime(), victimAlive: true, decision: early }) as { decision: string }).decision, 'denied');
  });

  it('a job that ended on its own while pending only closes the event', () => {
    const c = clock();
    const p = pendingAt(c);
    c.advance(10_000);
    const ended = resolvePending(p, { nowMs: c.now().getTime(), victimAlive: false, decision: decision(p, 'approved', c.now()) });
    assert.deepEqual(ended, { kind: 'resolve', decision: 'ended', action: 'none', by: 'job ended', atMs: c.now().getTime(), reason: null });
  });
});

describe('recovery ask mode: the quiet book and the settings', () => {
  it('a denied victim is left alone for the job life, or for the quiet period', () => {
    const c = new ManualClock('2026-11-23T10:00:00Z');
    const book = new QuietBook();
    book.spare('job:42', c.now().getTime(), null);
    book.spare('pid:7', c.now().getTime(), 60_000);
    c.advance(59_000);
    assert.equal(book.isQuiet('job:42', c.now().getTime()), true);
    assert.equal(book.isQuiet('pid:7', c.now().getTime()), true);
    c.advance(1000);
    assert.equal(book.isQuiet('pid:7', c.now().getTime()), false);
    c.advance(86_400_000);
    assert.equal(book.isQuiet('job:42', c.now().getTime()), true);
    assert.equal(book.isQuiet('job:43', c.now().getTime()), false);
    book.forget('job:42');
    assert.equal(book.isQuiet('job:42', c.now().getTime()), false);
  });

  it('recovery.ask defaults to 5 minutes and the rule action; mode ask per rule', () => {
    const d = resolveRecoverySettings(recoverySettings.parse({ rules: { 'cpu-hog': { mode: 'ask' } } }), '/tmp');
    assert.deepEqual(d.ask, { timeoutMs: 300_000, fallback: null, quietMs: null, pollMs: 2000 });
    assert.equal(d.modeOf('cpu-hog'), 'ask');
    assert.equal(d.modeOf('memory-limit'), 'automatic');
    const s = resolveRecoverySettings(recoverySettings.parse({ mode: 'ask', ask: { timeout: '90s', fallback: 'thaw', quiet: '1h' } }), '/tmp');
    assert.deepEqual(s.ask, { timeoutMs: 90_000, fallback: 'thaw', quietMs: 3_600_000, pollMs: 2000 });
    assert.equal(s.modeOf('memory-limit'), 'ask');
    assert.throws(() => recoverySettings.parse({ ask: { fallback: 'explode' } }));
    assert.ok(parseSettings({ recovery: { mode: 'ask', ask: { timeout: '2m' }, notify: { webhooks: [{ url: 'https://hooks.example.org/x', format: 'slack' }] } } }, 'test'));
  });
});
