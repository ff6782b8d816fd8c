import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { daemonState } from './daemons.ts';
import { restartDelayMs } from './supervisor.ts';
import { formatLogLine } from './up.ts';

const NOW = Date.parse('2026-11-02T09:00:00Z');
const seconds = (n: number) => n * 1000;

describe('restartDelayMs', () => {
  it('waits the base delay after a first crash', () => {
    assert.equal(restartDelayMs([NOW], NOW), 1000);
    assert.equal(restartDelayMs([NOW - seconds(5)], NOW), 1000);
    assert.equal(restartDelayMs([], NOW), 1000);
  });

  it('doubles the delay for each start within the stable window', () => {
    const starts: number[] = [];
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      starts.push(NOW - seconds(10) + seconds(i));
      delays.push(restartDelayMs(starts, NOW));
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000]);
  });

  it('never waits longer than the maximum', () => {
    const crashLoop = Array.from({ length: 12 }, (_, i) => NOW - seconds(i));
    assert.equal(restartDelayMs(crashLoop, NOW), 30_000);
    assert.equal(restartDelayMs(crashLoop.slice(0, 6), NOW), 30_000, '2^5 s is already past the cap');
    assert.equal(restartDelayMs(crashLoop.slice(0, 5), NOW), 16_000);
  });

  it('forgives a child that ran longer than the stable window', () => {
    // Crashed in a loop long ago, then ran for two minutes: back to the base delay.
    const starts = [NOW - seconds(300), NOW - seconds(299), NOW - seconds(297), NOW - seconds(120)];
    assert.equal(restartDelayMs(starts, NOW), 1000);
    // Only the starts inside the window count.
    assert.equal(restartDelayMs([...starts, NOW - seconds(30), NOW - seconds(2)], NOW), 2000);
    // A start exactly one window ago is outside it.
    assert.equal(restartDelayMs([NOW - seconds(60), NOW], NOW), 1000);
    assert.equal(restartDelayMs([NOW - seconds(60) + 1, NOW], NOW), 2000);
  });

  it('follows the policy it is given', () => {
    const policy = { baseMs: 100, maxMs: 500, stableMs: 1000 };
    assert.equal(restartDelayMs([NOW], NOW, policy), 100);
    assert.equal(restartDelayMs([NOW - 900, NOW - 500, NOW], NOW, policy), 400);
    assert.equal(restartDelayMs([NOW - 900, NOW - 600, NOW - 500, NOW], NOW, policy), 500);
    assert.equal(restartDelayMs([NOW - 1500, NOW - 1200, NOW], NOW, policy), 100);
  });
});

describe('daemonState', () => {
  const now = new Date(NOW);
  const beat = (secondsAgo: number, stoppedAt: string | null = null) => ({
    lastHeartbeatAt: new Date(NOW - seconds(secondsAgo)).toISOString(),
    stoppedAt,
  });

  it('is up while heartbeats arrive within the allowed misses', () => {
    assert.equal(daemonState(beat(0), now, seconds(15), 3), 'up');
    assert.equal(daemonState(beat(16), now, seconds(15), 3), 'up', 'one missed heartbeat is not yet stale');
    assert.equal(daemonState(beat(45), now, seconds(15), 3), 'up', 'exactly three intervals is still up');
    assert.equal(daemonState(beat(-5), now, seconds(15), 3), 'up', 'a heartbeat from a clock slightly ahead');
  });

  it('is stale once more than `missed` heartbeats are missing', () => {
    assert.equal(daemonState({ lastHeartbeatAt: new Date(NOW - seconds(45) - 1).toISOString(), stoppedAt: null }, now, seconds(15), 3), 'stale');
    assert.equal(daemonState(beat(3600), now, seconds(15), 3), 'stale');
    assert.equal(daemonState(beat(16), now, seconds(15), 1), 'stale');
    assert.equal(daemonState(beat(16), now, seconds(5), 4), 'up');
  });

  it('is stopped when the daemon said goodbye, however recent its last heartbeat', () => {
    const stoppedAt = new Date(NOW - seconds(1)).toISOString();
    assert.equal(daemonState(beat(1, stoppedAt), now, seconds(15), 3), 'stopped');
    assert.equal(daemonState(beat(3600, stoppedAt), now, seconds(15), 3), 'stopped');
  });
});

describe('formatLogLine', () => {
  // eslint-disable-next-line no-control-regex
  const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

  it("shows a daemon's pino line as time, name, level, message and the other fields", () => {
    const time = Date.parse('2026-11-02T09:15:30Z');
    const line = JSON.stringify({ level: 40, time, pid: 42, hostname: 'node1', name: 'keisan-agent', msg: 'cannot reach the keisan server', failures: 3, server: 'http://127.0.0.1:8470' });
    assert.equal(
      plain(formatLogLine('agent', line)),
      `${new Date(time).toTimeString().slice(0, 8)} agent    warn  cannot reach the keisan server failures=3 server=http://127.0.0.1:8470`,
    );
    const info = JSON.parse(plain(formatLogLine('server', JSON.stringify({ level: 30, msg: 'ready', applied: ['0001'] }))).split('applied=')[1] ?? 'null') as unknown;
    assert.deepEqual(info, ['0001']);
  });

  it('shows other lines as they are, after the name', () => {
    assert.equal(plain(formatLogLine('server', 'keisan: unexpected error: listen EADDRINUSE')), 'server   keisan: unexpected error: listen EADDRINUSE');
    assert.equal(plain(formatLogLine('watchdog', '42')), 'watchdog 42');
    assert.equal(plain(formatLogLine('agent', '{not json')), 'agent    {not json');
  });
});
