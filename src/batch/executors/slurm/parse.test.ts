import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  jobComment,
  jobIdFromComment,
  keisanState,
  parseEpoch,
  parseExitCode,
  parseSacct,
  parseScontrolJob,
  parseSinfo,
  parseSlurmDuration,
  parseSlurmSize,
  parseSqueue,
  signalName,
} from './parse.ts';
import { sbatchScript } from './executor.ts';
import { slurmReasonWords } from './why.ts';

// Lines as SLURM 22.05.8 printed them on this machine (squeue -o '%i|%T|%r|%N|%S|%e|%k|%u', SLURM_TIME_FORMAT=%s).
const SQUEUE = ['500000|COMPLETED|None|vm|1795463988|1795463988|(null)|root', '500001|PENDING|Priority||N/A|N/A|keisan:abc:17|nobody', '500002|RUNNING|None|vm|1795464035|1795467635|keisan:abc:18|nobody', ''].join('\n');

describe('SLURM output parsing', () => {
  it('reads squeue rows: ids, states, reasons, epoch times in ms, comments and users', () => {
    const rows = parseSqueue(SQUEUE);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[1], { id: '500001', state: 'PENDING', reason: 'Priority', nodes: null, start: null, end: null, comment: 'keisan:abc:17', user: 'nobody' });
    assert.equal(rows[2]!.start, 1795464035_000);
    assert.equal(rows[0]!.comment, null);
  });

  it('keeps a comment that holds the separator whole', () => {
    const [row] = parseSqueue('7|PENDING|None||N/A|N/A|a|b|c|alice');
    assert.equal(row!.comment, 'a|b|c');
    assert.equal(row!.user, 'alice');
  });

  it('folds sacct job and step lines: the job line for state and exit, the steps for peak memory', () => {
    const text = [
      '500003|COMPLETED|0:0|1795464000|1795464061|vm|00:58.250||',
      '500003.batch|COMPLETED|0:0|1795464000|1795464061|vm|00:58.250|1536K|',
      '500003.extern|COMPLETED|0:0|1795464000|1795464061|vm|00:00:00|1024K|',
      '500004|OUT_OF_MEMORY|0:125|1795464100|1795464102|vm|00:01.5||keisan:x:4',
      '500004.batch|OUT_OF_MEMORY|0:125|1795464100|1795464102|vm|00:01.5|301.50M|',
      '500005|CANCELLED by 0|0:15|1795464100|1795464300|vm|1-02:03:04||',
    ].join('\n');
    const jobs = parseSacct(text);
    assert.equal(jobs.length, 3);
    assert.deepEqual(jobs[0], { id: '500003', state: 'COMPLETED', exitCode: 0, signal: null, start: 1795464000_000, end: 1795464061_000, nodes: 'vm', cpuSeconds: 58.25, maxRssBytes: 1536 * 1024, comment: null });
    assert.equal(jobs[1]!.maxRssBytes, Math.round(301.5 * 1024 ** 2));
    assert.equal(jobs[1]!.comment, 'keisan:x:4');
    assert.equal(jobs[2]!.signal, 15);
    assert.equal(jobs[2]!.cpuSeconds, 86400 + 2 * 3600 + 3 * 60 + 4);
  });

  it('reads durations, sizes, exit codes and epochs as sacct prints them', () => {
    assert.equal(parseSlurmDuration('00:00:00'), 0);
    assert.equal(parseSlurmDuration('01:02.500'), 62.5);
    assert.equal(parseSlurmDuration(''), null);
    assert.equal(parseSlurmSize('0'), 0);
    assert.equal(parseSlurmSize('2G'), 2 * 1024 ** 3);
    assert.equal(parseSlurmSize('x'), null);
    assert.deepEqual(parseExitCode('3:0'), { exitCode: 3, signal: null });
    assert.deepEqual(parseExitCode('0:9'), { exitCode: 0, signal: 9 });
    assert.equal(parseEpoch('Unknown'), null);
    assert.equal(parseEpoch('0'), null);
    assert.equal(signalName(9), 'SIGKILL');
    assert.equal(signalName(null), null);
  });

  it("reads scontrol's one-line job records", () => {
    const fields = parseScontrolJob('JobId=500001 JobName=wrap UserId=nobody(65534) JobState=FAILED Reason=JobLaunchFailure Dependency=(null) ExitCode=0:53 StartTime=1795464035 EndTime=1795464035 NodeList=vm Comment=keisan:abc:17');
    assert.equal(fields.JobState, 'FAILED');
    assert.equal(fields.ExitCode, '0:53');
    assert.equal(fields.Comment, 'keisan:abc:17');
  });

  it('reads sinfo nodes once each, with their GPUs from GRES', () => {
    const nodes = parseSinfo(['n1|64|515000|gpu:h200:8(S:0-1)|mixed', 'n1|64|515000|gpu:h200:8(S:0-1)|mixed', 'n2|32|256000|(null)|idle', 'n3|32|256000|gpu:2,shard:8|drained*'].join('\n'));
    assert.deepEqual(
      nodes.map((n) => [n.name, n.cpus, n.gpus, n.state]),
      [
        ['n1', 64, 8, 'mixed'],
        ['n2', 32, 0, 'idle'],
        ['n3', 32, 2, 'drained*'],
      ],
    );
    assert.equal(nodes[1]!.memBytes, 256000 * 1024 ** 2);
  });
});

describe("SLURM's states and reasons in Keisan's words", () => {
  it('maps every SLURM job state onto pending, running or an end', () => {
    const cases: Array<[string, string]> = [
      ['PENDING', 'pending'],
      ['REQUEUED', 'pending'],
      ['RUNNING', 'running'],
      ['COMPLETING', 'running'],
      ['SUSPENDED', 'running'],
      ['COMPLETED', 'completed'],
      ['FAILED', 'failed'],
      ['CANCELLED by 1000', 'cancelled'],
      ['CANCELLED+', 'cancelled'],
      ['TIMEOUT', 'timeout'],
      ['DEADLINE', 'timeout'],
      ['OUT_OF_MEMORY', 'out-of-memory'],
      ['NODE_FAIL', 'node-fail'],
      ['BOOT_FAIL', 'node-fail'],
      ['PREEMPTED', 'preempted'],
    ];
    for (const [slurm, keisan] of cases) assert.equal(keisanState(slurm), keisan, slurm);
  });

  it('says reason codes in plain words, known or of a known pattern, and names an unknown one as it is', () => {
    assert.match(slurmReasonWords('Priority'), /higher priority/);
    assert.match(slurmReasonWords('QOSMaxJobsPerUserLimit'), /per user/);
    assert.match(slurmReasonWords('ReqNodeNotAvail, UnavailableNodes:n1'), /not available/);
    assert.match(slurmReasonWords('QOSGrpGRESRunMinutes'), /limit on .* is reached/);
    assert.match(slurmReasonWords('SomethingNew'), /SLURM gives the reason 'SomethingNew'/);
  });

  it("tells this Keisan's jobs by their comment", () => {
    assert.equal(jobIdFromComment(jobComment('abc', 17), 'abc'), 17);
    assert.equal(jobIdFromComment(jobComment('abc', 17), 'other'), null);
    assert.equal(jobIdFromComment('my own words', 'abc'), null);
    assert.equal(jobIdFromComment(null, 'abc'), null);
  });
});

describe('the script sbatch gets', () => {
  it("keeps the user's script but turns its #SBATCH lines into comments (Keisan read them already) and adds a shebang when missing", () => {
    assert.equal(sbatchScript('#!/bin/bash\n#SBATCH --array=1-10\n  #SBATCH -n 2\necho $SLURM_ARRAY_TASK_ID # #SBATCH in a comment\n'), '#!/bin/bash\n##SBATCH --array=1-10\n  ##SBATCH -n 2\necho $SLURM_ARRAY_TASK_ID # #SBATCH in a comment\n');
    assert.equal(sbatchScript('echo hi\n'), '#!/bin/sh\necho hi\n');
  });
});
