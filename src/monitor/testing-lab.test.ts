import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { daemonEnv, Lab, LogBuffer, pollUntil } from './testing-lab.ts';

describe('testing lab helpers', () => {
  it('Lab undoes in reverse order, each thing once, going on past a failing undo', async () => {
    const undone: string[] = [];
    const lab = new Lab();
    lab.add({ cleanup: () => void undone.push('dir') });
    lab.add({
      cleanup: () => {
        undone.push('mount');
        throw new Error('umount failed');
      },
    });
    lab.add({ cleanup: async () => void undone.push('server') });
    await assert.rejects(lab.cleanup(), /umount failed/);
    assert.deepEqual(undone, ['server', 'mount', 'dir']);
    await lab.cleanup();
    lab.cleanupNow();
    assert.deepEqual(undone, ['server', 'mount', 'dir']);
  });

  it('Lab.cleanupNow prefers the synchronous undo; a later cleanup() does nothing more', async () => {
    const undone: string[] = [];
    const lab = new Lab();
    lab.add({ cleanup: () => void undone.push('umount'), cleanupNow: () => void undone.push('umount -l') });
    lab.add({ cleanup: async () => void undone.push('SIGTERM'), cleanupNow: () => void undone.push('SIGKILL') });
    lab.cleanupNow();
    await lab.cleanup();
    assert.deepEqual(undone, ['SIGKILL', 'umount -l']);
  });

  it('LogBuffer keeps the last lines, prefixed with the daemon', () => {
    const logs = new LogBuffer(3);
    logs.add('server', 'a\nb\n');
    logs.add('agent', Buffer.from('c\n\nd\n'));
    assert.deepEqual(logs.lines, ['server: b', 'agent: c', 'agent: d']);
    assert.equal(logs.tail(2), 'agent: c\nagent: d');
  });

  it('pollUntil returns the first value, or fails naming what and the context', async () => {
    let n = 0;
    assert.equal(await pollUntil('three', () => (++n >= 3 ? n : undefined), { timeoutMs: 5_000, pollMs: 1 }), 3);
    await assert.rejects(pollUntil('never', () => undefined, { timeoutMs: 20, pollMs: 5, context: () => 'last lines' }), /^Error: never: not within 0\.02 s\nlast lines$/);
    await assert.rejects(pollUntil('thrown', () => Promise.reject(new Error('boom')), { timeoutMs: 20, pollMs: 5 }), /boom/);
    await assert.rejects(pollUntil('ignored', () => Promise.reject(new Error('boom')), { timeoutMs: 20, pollMs: 5, ignoreErrors: true }), /ignored: not within/);
  });

  it('daemonEnv drops what would point a daemon elsewhere and sets port and log level', () => {
    const env = daemonEnv(1234, { from: { PATH: '/bin', KEISAN_SERVER: 'http://x', KEISAN_DATA: '/d', KEISAN_HOME: '/h' }, set: { EXTRA: '1' } });
    assert.deepEqual(env, { PATH: '/bin', KEISAN_HOME: '/h', EXTRA: '1', KEISAN_PORT: '1234', KEISAN_LOG_LEVEL: 'warn' });
    assert.equal(daemonEnv(1, { from: { KEISAN_HOME: '/h' }, drop: ['KEISAN_HOME'] }).KEISAN_HOME, undefined);
  });
});
