import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../lib/clock.ts';
import { localJobRecords } from './job-records.ts';

describe("the watchdog's job records (the local executor's spec.json)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-job-records-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const writeSpec = (jobId: number, uid: number) => {
    mkdirSync(path.join(dir, String(jobId)), { recursive: true });
    writeFileSync(path.join(dir, String(jobId), 'spec.json'), JSON.stringify({ jobId, uid, gid: uid, cpus: 2, memBytes: 1 << 30, timeLimitMs: null, createdAt: 0, cgroups: [] }));
  };

  it('gives the owner by name and what the job asked for, reading each record once', () => {
    writeSpec(7, 1001);
    let passwdReads = 0;
    const clock = new ManualClock('2026-11-23T10:00:00Z');
    const info = localJobRecords({ jobsDir: dir, now: () => clock.now().getTime(), readPasswd: () => (passwdReads++, 'root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\n') });
    assert.deepEqual(info(7), { user: 'alice', uid: 1001, requestedMemBytes: 1 << 30, requestedCpus: 2 });
    rmSync(path.join(dir, '7'), { recursive: true });
    assert.deepEqual(info(7)?.user, 'alice', 'cached: no file read per tick');
    assert.equal(passwdReads, 1);
  });

  it('a job without a record yet is looked up again after 5 s, not every tick; an unknown uid has no name', () => {
    const clock = new ManualClock('2026-11-23T10:00:00Z');
    const info = localJobRecords({ jobsDir: dir, now: () => clock.now().getTime(), readPasswd: () => 'root:x:0:0::/root:/bin/sh\n' });
    assert.equal(info(8), undefined);
    writeSpec(8, 4242);
    assert.equal(info(8), undefined, 'not read again at once');
    clock.advance(5_000);
    assert.deepEqual(info(8), { user: null, uid: 4242, requestedMemBytes: 1 << 30, requestedCpus: 2 });
  });
});
