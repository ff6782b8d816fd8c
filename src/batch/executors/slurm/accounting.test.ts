import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epochToIso, gpusOf, parseSacct, parseSacctBytes, parseSacctSeconds } from './accounting.ts';

// sacct -a -n -P --format=JobIDRaw,User,Account,Partition,QOS,State,ExitCode,Submit,Start,End,Elapsed,AllocCPUS,AllocTRES,TotalCPU,MaxRSS,NodeList
// as SLURM 22.05.8 prints it with SLURM_TIME_FORMAT=%s (lines taken from the test cluster, one GPU job made up from the same format).
const SACCT = [
  '7000000|root|root|debug|normal|COMPLETED|0:0|1795464134|1795464135|1795464137|00:00:02|1|billing=1,cpu=1,node=1|00:01.222||vm',
  '7000000.batch||root|||COMPLETED|0:0|1795464135|1795464135|1795464137|00:00:02|1|cpu=1,mem=0,node=1|00:01.222|2216K|vm',
  '7000004|nobody|lab-ml||Unknown|CANCELLED by 0|0:0|1795465235|1795465235|1795465235|00:00:00|0||00:00:00||None assigned',
  '7000005|alice|lab-ml|gpu|gpu|FAILED|3:0|1795465000|1795465010|1795468610|01:00:00|8|billing=8,cpu=8,gres/gpu:h200=2,gres/gpu=2,mem=32G,node=1|00:00:00||vm',
  '7000005.batch||lab-ml|||FAILED|3:0|1795465010|1795465010|1795468610|01:00:00|8|cpu=8,gres/gpu=2,mem=32G,node=1|1-02:03:04|1.5G|vm',
  '7000005.0||lab-ml|||FAILED|3:0|1795465010|1795465010|1795468610|01:00:00|8|cpu=8,gres/gpu=2,mem=32G,node=1|00:10:00|3G|vm',
  '7000006|bob|lab-cv|short|short|TIMEOUT|0:15|1795465000|1795465001|Unknown|00:10:00|1|cpu=1|00:00:00||vm',
].join('\n');

describe('sacct output', () => {
  it('folds steps into their job: CPU time, the largest MaxRSS; a job cancelled before it ran has no start', () => {
    const jobs = parseSacct(SACCT);
    assert.deepEqual(jobs.map((j) => j.jobId), ['7000000', '7000004', '7000005', '7000006']);
    const [done, cancelled, gpu, running] = jobs as [typeof jobs[number], typeof jobs[number], typeof jobs[number], typeof jobs[number]];
    assert.deepEqual(
      { user: done.user, account: done.account, state: done.state, exit: done.exitCode, start: done.startedAt, end: done.endedAt, cpus: done.cpus, cpu: done.cpuSeconds, rss: done.maxRssBytes },
      { user: 'root', account: 'root', state: 'completed', exit: 0, start: '2026-11-23T20:02:15.000Z', end: '2026-11-23T20:02:17.000Z', cpus: 1, cpu: 1.222, rss: 2216 * 1024 },
    );
    assert.deepEqual([cancelled.state, cancelled.slurmState, cancelled.startedAt, cancelled.endedAt !== null], ['cancelled', 'CANCELLED', null, true]);
    // The allocation's TotalCPU is 0 here: the steps' sum (1 d 2:03:04 + 10 min) counts.
    assert.deepEqual([gpu.state, gpu.exitCode, gpu.gpus, gpu.cpuSeconds, gpu.maxRssBytes], ['failed', 3, 2, 93_784 + 600, 3 * 1024 ** 3]);
    assert.deepEqual([running.state, running.endedAt], ['timeout', null]);
  });

  it('reads sacct\'s times, durations and sizes', () => {
    assert.equal(epochToIso('1795464134'), '2026-11-23T20:02:14.000Z');
    assert.equal(epochToIso('Unknown'), null);
    assert.equal(epochToIso('None'), null);
    assert.equal(parseSacctSeconds('00:01.222'), 1.222);
    assert.equal(parseSacctSeconds('01:02:03'), 3723);
    assert.equal(parseSacctSeconds('2-00:00:01'), 172_801);
    assert.equal(parseSacctSeconds(''), 0);
    assert.throws(() => parseSacctSeconds('soon'), /could not read a duration of sacct/);
    assert.equal(parseSacctBytes('2216K'), 2_269_184);
    assert.equal(parseSacctBytes('0'), 0);
    assert.equal(parseSacctBytes(''), null);
    assert.equal(gpusOf('billing=8,cpu=8,gres/gpu:h200=2,gres/gpu=2'), 2);
    assert.equal(gpusOf('cpu=8,gres/gpu:a100=1,gres/gpu:h200=2'), 3);
    assert.equal(gpusOf('cpu=1,mem=1G'), 0);
    assert.throws(() => parseSacct('7000000|root'), /could not read a job of sacct/);
  });
});
