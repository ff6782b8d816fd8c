import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeisanError } from '../lib/errors.ts';
import {
  defaultOutputPattern,
  expandOutputPattern,
  formatArrayIndices,
  jobEnvironment,
  MAX_ARRAY_INDEX,
  MAX_ARRAY_TASKS,
  outputPatterns,
  parseArraySpec,
  summarizeArray,
  type JobEnvironmentContext,
} from './arrays.ts';

const invalid = (pattern: RegExp) => (e: unknown) => e instanceof KeisanError && e.code === 'INVALID_INPUT' && pattern.test(e.message);

describe('parseArraySpec', () => {
  it('reads a range with a throttle', () => {
    const spec = parseArraySpec('1-100%10');
    assert.equal(spec.indices.length, 100);
    assert.equal(spec.indices[0], 1);
    assert.equal(spec.indices[99], 100);
    assert.equal(spec.maxRunning, 10);
    assert.equal(spec.text, '1-100%10');
  });
  it('reads ranges from zero, lists, steps and mixtures', () => {
    assert.deepEqual(parseArraySpec('0-15').indices, Array.from({ length: 16 }, (_, i) => i));
    assert.deepEqual(parseArraySpec('1,3,5').indices, [1, 3, 5]);
    assert.deepEqual(parseArraySpec('1-9:2').indices, [1, 3, 5, 7, 9]);
    assert.deepEqual(parseArraySpec('1-10:3').indices, [1, 4, 7, 10]);
    assert.deepEqual(parseArraySpec('0-2,10,20-30:5').indices, [0, 1, 2, 10, 20, 25, 30]);
    assert.deepEqual(parseArraySpec('7').indices, [7]);
    assert.equal(parseArraySpec('7').maxRunning, null);
  });
  it('sorts, removes duplicates and overlaps, and tolerates blanks around items', () => {
    const spec = parseArraySpec(' 5, 1-3 ,2,3-6 ');
    assert.deepEqual(spec.indices, [1, 2, 3, 4, 5, 6]);
    assert.equal(spec.text, '1-6');
  });
  it('writes a canonical text that parses back to the same indices', () => {
    for (const text of ['1,3,5', '0-7,20-30:5%4', '2,4,5,6,100', '0-3,7-13:2', '4000000']) {
      const spec = parseArraySpec(text);
      const again = parseArraySpec(spec.text);
      assert.deepEqual(again.indices, spec.indices, text);
      assert.equal(again.maxRunning, spec.maxRunning, text);
    }
    assert.equal(parseArraySpec('0-7,20-30:5%4').text, '0-7,20-30:5%4');
  });
  it('accepts the limits exactly', () => {
    assert.equal(parseArraySpec(`0-${MAX_ARRAY_TASKS - 1}`).indices.length, MAX_ARRAY_TASKS);
    assert.deepEqual(parseArraySpec(String(MAX_ARRAY_INDEX)).indices, [MAX_ARRAY_INDEX]);
    assert.equal(parseArraySpec(`0-${MAX_ARRAY_INDEX}:50`).indices.length, 80_001);
    assert.equal(parseArraySpec('1-5%1').maxRunning, 1);
  });
  it('refuses arrays past the limits, before expanding them', () => {
    const started = Date.now();
    assert.throws(() => parseArraySpec(`0-${MAX_ARRAY_TASKS}`), invalid(/more than 100000 tasks/));
    assert.throws(() => parseArraySpec(`0-${MAX_ARRAY_INDEX}`), invalid(/more than 100000 tasks/));
    assert.throws(() => parseArraySpec(`${MAX_ARRAY_INDEX + 1}`), invalid(/0 to 4000000/));
    assert.throws(() => parseArraySpec('1-99999999999'), invalid(/0 to 4000000/));
    // Overlapping ranges cannot make the parser do unbounded work.
    assert.throws(() => parseArraySpec(Array.from({ length: 2000 }, () => '0-99999').join(',')), invalid(/more than 100000 tasks/));
    assert.ok(Date.now() - started < 2000, 'limits are checked without expanding huge ranges');
  });
  it('refuses malformed specs, saying how to write one', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['   ', /empty/],
      ['%5', /no indices/],
      ['1-', /not an index or a range/],
      ['-1', /not an index or a range/],
      ['a-b', /not an index or a range/],
      ['1-5-9', /not an index or a range/],
      ['5-1', /ends before it starts/],
      ['1-9:0', /step .* at least 1/],
      ['1-10%0', /throttle must be at least 1/],
      ['1-10%x', /whole number/],
      ['1-10%', /whole number/],
      ['1-10%5%2', /whole number/],
      ['1,,2', /empty item/],
      ['1.5', /not an index/],
      ['1-10:2.5', /not an index/],
    ];
    for (const [text, why] of cases) {
      assert.throws(() => parseArraySpec(text), (e: unknown) => invalid(why)(e) && invalid(/1-100%10/)(e), `'${text}'`);
    }
  });
});

describe('formatArrayIndices and summarizeArray', () => {
  it('compacts runs and constant steps', () => {
    assert.equal(formatArrayIndices([0, 1, 2, 3, 7, 9, 11, 13]), '0-3,7-13:2');
    assert.equal(formatArrayIndices([1, 5]), '1,5');
    assert.equal(formatArrayIndices([4]), '4');
    assert.equal(formatArrayIndices([1, 2]), '1-2');
    assert.equal(formatArrayIndices([]), '');
  });
  it('summarises count, bounds and step', () => {
    assert.deepEqual(summarizeArray(parseArraySpec('1-9:2')), { count: 5, min: 1, max: 9, step: 2 });
    assert.deepEqual(summarizeArray(parseArraySpec('1,2,10')), { count: 3, min: 1, max: 10, step: null });
    assert.deepEqual(summarizeArray(parseArraySpec('3')), { count: 1, min: 3, max: 3, step: 1 });
    assert.throws(() => summarizeArray({ indices: [] }), invalid(/at least one index/));
  });
});

describe('output file names', () => {
  const job = { jobId: 4242, jobName: 'train', user: 'alice' };
  const task = { ...job, jobId: 5007, arrayJobId: 5000, arrayTaskId: 7, node: 'gpu01' };

  it('uses SLURM default names', () => {
    assert.equal(defaultOutputPattern(false), 'slurm-%j.out');
    assert.equal(defaultOutputPattern(true), 'slurm-%A_%a.out');
    assert.equal(expandOutputPattern(defaultOutputPattern(false), job), 'slurm-4242.out');
    assert.equal(expandOutputPattern(defaultOutputPattern(true), task), 'slurm-5000_7.out');
  });
  it('sends stderr with stdout unless told otherwise', () => {
    assert.deepEqual(outputPatterns({ isArray: false }), { stdout: 'slurm-%j.out', stderr: 'slurm-%j.out' });
    assert.deepEqual(outputPatterns({ isArray: true, output: 'o-%a' }), { stdout: 'o-%a', stderr: 'o-%a' });
    assert.deepEqual(outputPatterns({ isArray: false, output: 'o', error: 'e' }), { stdout: 'o', stderr: 'e' });
    assert.deepEqual(outputPatterns({ isArray: true, error: 'e-%a' }), { stdout: 'slurm-%A_%a.out', stderr: 'e-%a' });
  });
  it('expands every SLURM letter', () => {
    assert.equal(expandOutputPattern('logs/%x-%j.out', job), 'logs/train-4242.out');
    assert.equal(expandOutputPattern('%u/%x_%A_%a.log', task), 'alice/train_5000_7.log');
    assert.equal(expandOutputPattern('%j-%J', task), '5007-5007');
    assert.equal(expandOutputPattern('%N.%n.%t.%s', task), 'gpu01.0.0.batch');
    assert.equal(expandOutputPattern('%N', job), 'localhost');
    assert.equal(expandOutputPattern('100%% done %%j', job), '100% done %j');
  });
  it("expands LSF's %I and gives arrays' letters sensible values outside arrays", () => {
    assert.equal(expandOutputPattern('out.%A.%I', task), 'out.5000.7');
    assert.equal(expandOutputPattern('out.%A.%a.%I', job), 'out.4242.0.0');
  });
  it('pads numbers with zeros', () => {
    assert.equal(expandOutputPattern('r%4a.out', task), 'r0007.out');
    assert.equal(expandOutputPattern('%10j', job), '0000004242');
    assert.equal(expandOutputPattern('%2j', job), '4242');
    assert.equal(expandOutputPattern('%3x', job), 'train');
  });
  it('leaves unknown sequences alone and turns expansion off with a backslash', () => {
    assert.equal(expandOutputPattern('%q-%j', job), '%q-4242');
    assert.equal(expandOutputPattern('trailing%', job), 'trailing%');
    assert.equal(expandOutputPattern('job\\%j.out', job), 'job%j.out');
  });
});

describe('jobEnvironment', () => {
  const base: JobEnvironmentContext = {
    jobId: 812,
    name: 'train',
    user: 'alice',
    uid: 1001,
    gid: 1001,
    queue: 'short',
    account: 'lab-a',
    cpus: 8,
    memBytes: 32 * 1024 ** 3,
    timeLimitMs: 7_200_000,
    submitDir: '/home/alice/project',
    submitHost: 'login1',
    node: 'gpubox',
    gpuIndices: [1],
  };

  it('gives a plain job the SLURM, LSF and Keisan variables', () => {
    const env = jobEnvironment(base);
    assert.equal(env.SLURM_JOB_ID, '812');
    assert.equal(env.SLURM_JOBID, '812');
    assert.equal(env.SLURM_JOB_NAME, 'train');
    assert.equal(env.SLURM_CPUS_PER_TASK, '8');
    assert.equal(env.SLURM_NTASKS, '1');
    assert.equal(env.SLURM_MEM_PER_NODE, '32768');
    assert.equal(env.SLURM_SUBMIT_DIR, '/home/alice/project');
    assert.equal(env.SLURM_SUBMIT_HOST, 'login1');
    assert.equal(env.SLURM_JOB_PARTITION, 'short');
    assert.equal(env.SLURM_JOB_NODELIST, 'gpubox');
    assert.equal(env.SLURM_JOB_USER, 'alice');
    assert.equal(env.SLURM_JOB_UID, '1001');
    assert.equal(env.SLURM_JOB_ACCOUNT, 'lab-a');
    assert.equal(env.LSB_JOBID, '812');
    assert.equal(env.LSB_JOBINDEX, '0');
    assert.equal(env.LSB_JOBNAME, 'train');
    assert.equal(env.LSB_QUEUE, 'short');
    assert.equal(env.LSB_DJOB_NUMPROC, '8');
    assert.equal(env.LSB_HOSTS, Array(8).fill('gpubox').join(' '));
    assert.equal(env.LSB_MCPU_HOSTS, 'gpubox 8');
    assert.equal(env.KEISAN_JOB_ID, '812');
    assert.equal(env.KEISAN_QUEUE, 'short');
    assert.equal(env.KEISAN_TIME_LIMIT_SECONDS, '7200');
    assert.equal(env.SLURM_ARRAY_TASK_ID, undefined);
    assert.equal(env.KEISAN_ARRAY_TASK_ID, undefined);
    for (const [key, value] of Object.entries(env)) assert.equal(typeof value, 'string', key);
  });
  it('numbers GPUs physically by default, relatively when the executor fences devices', () => {
    const two = { ...base, gpuIndices: [2, 3] };
    assert.equal(jobEnvironment(two).CUDA_VISIBLE_DEVICES, '2,3');
    assert.equal(jobEnvironment(two).SLURM_JOB_GPUS, '2,3');
    assert.equal(jobEnvironment(two).SLURM_GPUS_ON_NODE, '2');
    const fenced = jobEnvironment({ ...two, cudaNumbering: 'relative' });
    assert.equal(fenced.CUDA_VISIBLE_DEVICES, '0,1');
    assert.equal(fenced.GPU_DEVICE_ORDINAL, '0,1');
    assert.equal(fenced.SLURM_JOB_GPUS, '2,3');
  });
  it('hides every GPU from a job that has none', () => {
    const env = jobEnvironment({ ...base, gpuIndices: [] });
    assert.equal(env.CUDA_VISIBLE_DEVICES, '');
    assert.equal(env.SLURM_JOB_GPUS, undefined);
    assert.equal(env.GPU_DEVICE_ORDINAL, undefined);
  });
  it('describes an array task in both dialects', () => {
    const env = jobEnvironment({
      ...base,
      jobId: 1007,
      array: { arrayJobId: 1000, taskId: 7, summary: summarizeArray(parseArraySpec('1-9:2')), maxRunning: 2 },
    });
    assert.equal(env.SLURM_JOB_ID, '1007');
    assert.equal(env.SLURM_ARRAY_JOB_ID, '1000');
    assert.equal(env.SLURM_ARRAY_TASK_ID, '7');
    assert.equal(env.SLURM_ARRAY_TASK_COUNT, '5');
    assert.equal(env.SLURM_ARRAY_TASK_MIN, '1');
    assert.equal(env.SLURM_ARRAY_TASK_MAX, '9');
    assert.equal(env.SLURM_ARRAY_TASK_STEP, '2');
    assert.equal(env.LSB_JOBID, '1000');
    assert.equal(env.LSB_JOBINDEX, '7');
    assert.equal(env.LSB_JOBNAME, 'train[7]');
    assert.equal(env.LSB_JOBINDEX_END, '9');
    assert.equal(env.KEISAN_ARRAY_TASK_ID, '7');
    assert.equal(env.KEISAN_ARRAY_JOB_ID, '1000');
    assert.equal(env.KEISAN_ARRAY_MAX_RUNNING, '2');
    const uneven = jobEnvironment({ ...base, array: { arrayJobId: 1, taskId: 2, summary: summarizeArray(parseArraySpec('1,2,10')) } });
    assert.equal(uneven.SLURM_ARRAY_TASK_STEP, undefined);
  });
  it('splits CPUs into tasks as asked, and rounds memory up to whole MB', () => {
    const env = jobEnvironment({ ...base, cpus: 32, ntasks: 16, cpusPerTask: 2, memBytes: 1024 ** 2 * 1.5, account: null });
    assert.equal(env.SLURM_NTASKS, '16');
    assert.equal(env.SLURM_CPUS_PER_TASK, '2');
    assert.equal(env.SLURM_CPUS_ON_NODE, '32');
    assert.equal(env.SLURM_MEM_PER_NODE, '2');
    assert.equal(env.SLURM_JOB_ACCOUNT, undefined);
  });
});
