import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeisanError } from '../lib/errors.ts';
import { expandOutputPattern, outputPatterns } from './arrays.ts';
import {
  mergeSubmitOptions,
  normalizeGpuType,
  parseAfterOption,
  parseBeginTime,
  parseCommandLineOptions,
  parseGpuRequest,
  parseGres,
  parseLsfBeginTime,
  parseLsfDependency,
  parseLsfTime,
  parseMailTypes,
  parseScriptDirectives,
  parseSlurmDependency,
  parseSlurmExport,
  parseSlurmMemory,
  parseSlurmTime,
  resolveBeginAt,
  splitDirectiveArguments,
  type CommandLineInput,
  type ParsedDirectives,
} from './directives.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const MIN = 60_000;
const HOUR = 3_600_000;

/** A script from lines, as users write them (LF endings, trailing newline). */
const script = (...lines: string[]) => lines.join('\n') + '\n';

function parse(...lines: string[]): ParsedDirectives {
  return parseScriptDirectives(script(...lines));
}

/** Asserts that parsing fails with INVALID_INPUT naming `line` and matching `pattern`. */
function failsAt(text: string, line: number, pattern: RegExp): void {
  assert.throws(
    () => parseScriptDirectives(text),
    (e: unknown) => {
      assert.ok(e instanceof KeisanError, `expected a KeisanError, got ${String(e)}`);
      assert.equal(e.code, 'INVALID_INPUT');
      assert.ok(e.message.startsWith(`line ${line}: `), `'${e.message}' should start with 'line ${line}: '`);
      assert.match(e.message, pattern);
      assert.deepEqual(e.details, { line });
      return true;
    },
  );
}

function warningAt(parsed: ParsedDirectives, line: number, pattern: RegExp): void {
  assert.ok(
    parsed.warnings.some((w) => w.line === line && pattern.test(w.message)),
    `no warning at line ${line} matching ${pattern}; warnings: ${JSON.stringify(parsed.warnings)}`,
  );
}

const invalid = (pattern: RegExp) => (e: unknown) => e instanceof KeisanError && e.code === 'INVALID_INPUT' && pattern.test(e.message);

describe('real-world SLURM scripts', () => {
  it('a PyTorch GPU training job', () => {
    const d = parse(
      '#!/bin/bash',
      '#SBATCH --job-name=resnet50',
      '#SBATCH --gres=gpu:1 --mem=32G -t 2-00:00:00',
      '#SBATCH --cpus-per-task=8',
      '#SBATCH --output=logs/%x-%j.out',
      '#SBATCH --mail-type=END,FAIL',
      '#SBATCH --mail-user=alice@uni.example',
      '',
      'module load cuda/12.4',
      'source ~/venvs/torch/bin/activate',
      'srun python train.py --epochs 90',
    );
    assert.equal(d.dialect, 'slurm');
    assert.equal(d.shebang, '/bin/bash');
    assert.equal(d.name, 'resnet50');
    assert.equal(d.gpus, 1);
    assert.equal(d.gpuType, null);
    assert.equal(d.memBytes, 32 * GiB);
    assert.equal(d.timeLimitMs, 48 * HOUR);
    assert.equal(d.cpus, 8);
    assert.equal(d.cpusPerTask, 8);
    assert.equal(d.ntasks, 1);
    assert.equal(d.output, 'logs/%x-%j.out');
    assert.deepEqual(d.mail, { begin: false, end: true, fail: true });
    assert.equal(d.mailUser, 'alice@uni.example');
    assert.deepEqual(d.warnings, []);
    assert.equal(d.lines.memBytes, 3);
    assert.equal(d.lines.cpus, 4);
    assert.equal(expandOutputPattern(d.output!, { jobId: 77, jobName: d.name!, user: 'alice' }), 'logs/resnet50-77.out');
  });

  it('an array job writing one output per task', () => {
    const d = parse(
      '#!/bin/bash',
      '#SBATCH -J sweep',
      '#SBATCH --array=1-100%10',
      '#SBATCH -o logs/%x_%A_%a.out',
      '#SBATCH -e logs/%x_%A_%a.err',
      '#SBATCH -p short',
      '#SBATCH -t 30',
      'python sweep.py --seed $SLURM_ARRAY_TASK_ID',
    );
    assert.equal(d.array?.indices.length, 100);
    assert.equal(d.array?.maxRunning, 10);
    assert.equal(d.queue, 'short');
    assert.equal(d.timeLimitMs, 30 * MIN);
    const ctx = { jobId: 9017, jobName: 'sweep', user: 'bob', arrayJobId: 9000, arrayTaskId: 17 };
    assert.equal(expandOutputPattern(d.output!, ctx), 'logs/sweep_9000_17.out');
    assert.equal(expandOutputPattern(d.error!, ctx), 'logs/sweep_9000_17.err');
  });

  it('an MPI-style job: tasks × CPUs per task on one node, memory per CPU', () => {
    const d = parse(
      '#!/bin/bash -l',
      '#SBATCH --nodes=1',
      '#SBATCH --ntasks=16',
      '#SBATCH --cpus-per-task=2',
      '#SBATCH --mem-per-cpu=2G',
      '#SBATCH --time=12:00:00',
      'mpirun ./solver',
    );
    assert.equal(d.shebang, '/bin/bash -l');
    assert.equal(d.cpus, 32);
    assert.equal(d.ntasks, 16);
    assert.equal(d.cpusPerTask, 2);
    assert.equal(d.memPerCpuBytes, 2 * GiB);
    assert.equal(d.memBytes, 64 * GiB);
    assert.equal(d.timeLimitMs, 12 * HOUR);
  });

  it('a week-long bioinformatics pipeline step with dependencies', () => {
    const d = parse(
      '#!/usr/bin/env bash',
      '#SBATCH --partition=long',
      '#SBATCH --time=7-00:00:00',
      '#SBATCH --mem=128G',
      '#SBATCH --cpus-per-task=32',
      '#SBATCH --mail-type=ALL',
      '#SBATCH --mail-user=genomics@uni.example',
      '#SBATCH --dependency=afterok:1234:1235,afterany:1300',
      '#SBATCH --account=lab-genomics',
      'set -euo pipefail',
      'bwa mem -t $SLURM_CPUS_PER_TASK ref.fa reads.fq > out.sam',
    );
    assert.equal(d.queue, 'long');
    assert.equal(d.timeLimitMs, 7 * 24 * HOUR);
    assert.equal(d.memBytes, 128 * GiB);
    assert.deepEqual(d.mail, { begin: true, end: true, fail: true });
    assert.deepEqual(d.dependencies, [
      { jobId: 1234, type: 'ok' },
      { jobId: 1235, type: 'ok' },
      { jobId: 1300, type: 'any' },
    ]);
    assert.equal(d.account, 'lab-genomics');
  });

  it('an R job with a working directory and a clean environment', () => {
    const d = parse(
      '#!/bin/bash',
      '#SBATCH -J rjob',
      '#SBATCH -o %x-%j.out',
      '#SBATCH --export=NONE',
      '#SBATCH -D /scratch/carol/analysis',
      '#SBATCH --mem 4000',
      'Rscript analysis.R',
    );
    assert.equal(d.chdir, '/scratch/carol/analysis');
    assert.deepEqual(d.env, { inherit: 'none', names: [], set: {} });
    assert.equal(d.memBytes, 4000 * MiB, 'a bare --mem is megabytes, as in SLURM');
  });

  it('a quick test job with short options written every way', () => {
    const d = parse('#!/bin/sh', '#SBATCH -pexpress -t30:00 -n1 -c4', '#SBATCH --mem=500M', 'hostname');
    assert.equal(d.queue, 'express');
    assert.equal(d.timeLimitMs, 30 * MIN);
    assert.equal(d.cpus, 4);
    assert.equal(d.memBytes, 500 * MiB);
    const spaced = parse('#!/bin/sh', '#SBATCH -p express -t 30:00 -n 1 -c 4 --mem 500M', 'hostname');
    assert.equal(spaced.queue, d.queue);
    assert.equal(spaced.cpus, d.cpus);
    assert.equal(spaced.memBytes, d.memBytes);
    assert.equal(spaced.timeLimitMs, d.timeLimitMs);
  });

  it('a modern GPU job: typed GPUs, CPUs and memory per GPU', () => {
    const d = parse('#!/bin/bash', '#SBATCH --gpus=h200:2', '#SBATCH --cpus-per-gpu=8', '#SBATCH --mem-per-gpu=40G', '#SBATCH -t 1-12', 'torchrun --nproc_per_node=2 train.py');
    assert.equal(d.gpus, 2);
    assert.equal(d.gpuType, 'h200');
    assert.equal(d.cpus, 16);
    assert.equal(d.cpusPerGpu, 8);
    assert.equal(d.memBytes, 80 * GiB);
    assert.equal(d.memPerGpuBytes, 40 * GiB);
    assert.equal(d.timeLimitMs, 36 * HOUR);
  });

  it('GPU requests in every SLURM spelling', () => {
    assert.deepEqual([parse('#!/bin/sh', '#SBATCH --gres=gpu:a100:4', 'x')].map((d) => [d.gpus, d.gpuType])[0], [4, 'a100']);
    assert.deepEqual([parse('#!/bin/sh', '#SBATCH --gres=gpu', 'x')].map((d) => [d.gpus, d.gpuType])[0], [1, null]);
    assert.deepEqual([parse('#!/bin/sh', '#SBATCH -G 3', 'x')].map((d) => [d.gpus, d.gpuType])[0], [3, null]);
    assert.deepEqual([parse('#!/bin/sh', '#SBATCH --gpus-per-node=h200:2', 'x')].map((d) => [d.gpus, d.gpuType])[0], [2, 'h200']);
    assert.deepEqual([parse('#!/bin/sh', '#SBATCH -n 2 --gpus-per-task=1', 'x')].map((d) => [d.gpus, d.gpuType])[0], [2, null]);
    // The same request twice, once typed: compatible.
    const both = parse('#!/bin/sh', '#SBATCH --gres=gpu:h200:2', '#SBATCH --gpus=2', 'x');
    assert.deepEqual([both.gpus, both.gpuType], [2, 'h200']);
  });

  it('a delayed, held, exclusive job', () => {
    const d = parse('#!/bin/bash', '#SBATCH --begin=now+1hour', '#SBATCH --hold', '#SBATCH --exclusive', 'make -j');
    assert.deepEqual(d.beginAt, { kind: 'relative', offsetMs: HOUR });
    assert.equal(d.hold, true);
    assert.equal(d.exclusive, true);
  });

  it('quoted values, as sbatch reads them', () => {
    const d = parse(
      '#!/bin/bash',
      '#SBATCH --job-name="my analysis"',
      "#SBATCH --output='/data/with space/%j.log'",
      '#SBATCH --export=ALL,GREETING="hello world",PATH_EXTRA',
      'echo',
    );
    assert.equal(d.name, 'my analysis');
    assert.equal(d.output, '/data/with space/%j.log');
    assert.deepEqual(d.env, { inherit: 'all', names: ['PATH_EXTRA'], set: { GREETING: 'hello world' } });
  });

  it('trailing comments after directives, as sbatch allows', () => {
    const d = parse(
      '#!/bin/bash',
      '#SBATCH --mem=4G  # memory',
      '#SBATCH -c 2 # two cores # really',
      '#SBATCH -J "name#1"  # a # inside quotes is kept',
      'true',
    );
    assert.equal(d.memBytes, 4 * GiB);
    assert.equal(d.cpus, 2);
    assert.equal(d.name, 'name#1');
    assert.deepEqual(d.warnings, []);
  });

  it('tabs between the keyword and its options', () => {
    const d = parse('#!/bin/bash', '#SBATCH\t-p\tshort', '#SBATCH\t--mem=2G\t\t# tabbed comment', 'true');
    assert.equal(d.queue, 'short');
    assert.equal(d.memBytes, 2 * GiB);
  });

  it('Windows line endings: directives read, and a warning', () => {
    const text = ['#!/bin/bash', '#SBATCH -J win', '#SBATCH --mem=1G', '#SBATCH -t 10', 'echo hi', ''].join('\r\n');
    const d = parseScriptDirectives(text);
    assert.equal(d.name, 'win');
    assert.equal(d.memBytes, GiB);
    assert.equal(d.timeLimitMs, 10 * MIN);
    assert.equal(d.shebang, '/bin/bash');
    warningAt(d, 1, /CRLF.*dos2unix/);
  });

  it('directives after the first command are ignored, with a warning naming each line', () => {
    const d = parse('#!/bin/bash', '#SBATCH -c 2', '', '# a comment does not stop the scan', '#SBATCH --mem=1G', 'cd $HOME', '#SBATCH -c 64', 'echo', '#BSUB -n 9');
    assert.equal(d.cpus, 2);
    assert.equal(d.memBytes, GiB);
    warningAt(d, 7, /after the first command \(line 6\) is ignored/);
    warningAt(d, 9, /#BSUB after the first command \(line 6\)/);
  });

  it('indented commands stop the scan; indented comments do not', () => {
    const d = parse('#!/bin/bash', '   # indented comment', '#SBATCH -c 3', '  echo start', '#SBATCH -c 5');
    assert.equal(d.cpus, 3);
    warningAt(d, 5, /ignored/);
  });

  it('look-alikes are comments, with a warning; ##SBATCH silently disables a directive', () => {
    const d = parse(
      '#!/bin/bash',
      '# SBATCH --mem=64G',
      '#sbatch -c 64',
      '  #SBATCH -t 99',
      '##SBATCH --gres=gpu:8',
      '#SBATCH--mem=2G',
      '#PBS -l nodes=1',
      '#SBATCH -c 1',
      'true',
    );
    assert.equal(d.memBytes, undefined);
    assert.equal(d.gpus, undefined);
    assert.equal(d.timeLimitMs, undefined);
    assert.equal(d.cpus, 1);
    warningAt(d, 2, /comment, not a directive: write #SBATCH with no space/);
    warningAt(d, 3, /in capitals/);
    warningAt(d, 4, /first column/);
    warningAt(d, 6, /put a space after #SBATCH/);
    warningAt(d, 7, /#PBS directives are not read/);
    assert.equal(d.warnings.filter((w) => w.line === 5).length, 0);
  });

  it('a plain shell script has no directives', () => {
    const d = parse('#!/bin/bash', 'echo hello');
    assert.equal(d.dialect, 'none');
    assert.deepEqual(d.warnings, []);
    assert.deepEqual(d.lines, {});
    assert.equal(d.cpus, undefined);
  });

  it('the old #SLURM spelling still works, with a warning', () => {
    const d = parse('#!/bin/bash', '#SLURM -c 2', 'true');
    assert.equal(d.cpus, 2);
    warningAt(d, 2, /write #SBATCH/);
  });

  it('a script without #! and one with a byte-order mark', () => {
    const bare = parse('#SBATCH -c 2', 'true');
    assert.equal(bare.cpus, 2);
    assert.equal(bare.shebang, null);
    warningAt(bare, 1, /no '#!' line/);
    const bom = parseScriptDirectives('\uFEFF#!/bin/bash\n#SBATCH -c 2\ntrue\n');
    assert.equal(bom.shebang, '/bin/bash');
    assert.equal(bom.cpus, 2);
    warningAt(bom, 1, /byte-order mark/);
  });

  it('a later directive replaces an earlier one (sbatch), with a warning', () => {
    const d = parse('#!/bin/bash', '#SBATCH --mem=4G', '#SBATCH -t 10', '#SBATCH --mem=8G', '#SBATCH -t 10', 'true');
    assert.equal(d.memBytes, 8 * GiB);
    assert.equal(d.lines.memBytes, 4);
    warningAt(d, 4, /--mem replaces --mem of line 2/);
    assert.equal(d.warnings.filter((w) => w.line === 5).length, 0, 'the same value twice is no news');
  });

  it('--mail-type accumulates over lines, as sbatch ORs it', () => {
    const d = parse('#!/bin/bash', '#SBATCH --mail-type=BEGIN', '#SBATCH --mail-type=FAIL', 'true');
    assert.deepEqual(d.mail, { begin: true, end: false, fail: true });
    assert.equal(d.lines.mail, 3);
  });

  it('unique prefixes of long options, as getopt_long allows', () => {
    const d = parse('#!/bin/bash', '#SBATCH --part=debug --cpus-per-t=2', 'true');
    assert.equal(d.queue, 'debug');
    assert.equal(d.cpus, 2);
  });

  it('harmless options are warnings naming the line', () => {
    const d = parse(
      '#!/bin/bash',
      '#SBATCH --qos=normal',
      '#SBATCH --constraint=avx512',
      '#SBATCH --hint=nomultithread',
      '#SBATCH --requeue',
      '#SBATCH -N 1-4',
      '#SBATCH -p short,long',
      '#SBATCH --mail-type=TIME_LIMIT_80',
      '#SBATCH --exclusive=user',
      '#SBATCH -c 2',
      'true',
    );
    warningAt(d, 2, /--qos is ignored/);
    warningAt(d, 3, /--constraint is ignored/);
    warningAt(d, 4, /--hint is ignored/);
    warningAt(d, 5, /--requeue is ignored/);
    warningAt(d, 6, /runs on one node/);
    warningAt(d, 7, /goes to the first, 'short'/);
    warningAt(d, 8, /TIME_LIMIT_80 is not sent/);
    warningAt(d, 9, /treated as --exclusive/);
    assert.equal(d.queue, 'short');
    assert.equal(d.exclusive, true);
    assert.equal(d.cpus, 2);
  });

  it('after:N becomes afterany with a warning', () => {
    const d = parse('#!/bin/bash', '#SBATCH -d after:55', 'true');
    assert.deepEqual(d.dependencies, [{ jobId: 55, type: 'any' }]);
    warningAt(d, 2, /waits until job 55 ends/);
  });

  it('tasks per node alone set the tasks; -o none discards output', () => {
    const d = parse('#!/bin/bash', '#SBATCH -N1 --ntasks-per-node=4', '#SBATCH -o none', 'true');
    assert.equal(d.cpus, 4);
    assert.equal(d.ntasks, 4);
    assert.equal(d.output, '/dev/null');
    assert.deepEqual(d.warnings, []);
  });

  it('--mem=0 asks for all the memory the queue allows', () => {
    const d = parse('#!/bin/bash', '#SBATCH --mem=0', 'true');
    assert.equal(d.memBytes, null);
    assert.equal(d.lines.memBytes, 2);
  });

  it('time limits UNLIMITED and 0 are "no limit of its own"', () => {
    assert.equal(parse('#!/bin/bash', '#SBATCH -t UNLIMITED', 'x').timeLimitMs, null);
    assert.equal(parse('#!/bin/bash', '#SBATCH --time=infinite', 'x').timeLimitMs, null);
    assert.equal(parse('#!/bin/bash', '#SBATCH --time=0', 'x').timeLimitMs, null);
  });
});

describe('real-world LSF scripts', () => {
  it('a simulation array with rusage memory, run limit and a throttle', () => {
    const d = parse(
      '#!/bin/bash',
      '#BSUB -J "sim[1-50]%5"',
      '#BSUB -n 8',
      '#BSUB -W 4:00',
      '#BSUB -R "rusage[mem=4096]"',
      '#BSUB -R "span[hosts=1]"',
      '#BSUB -q long',
      '#BSUB -o out.%J.%I',
      '#BSUB -e err.%J.%I',
      './simulate --case $LSB_JOBINDEX',
    );
    assert.equal(d.dialect, 'lsf');
    assert.equal(d.name, 'sim');
    assert.equal(d.array?.text, '1-50%5');
    assert.equal(d.array?.indices.length, 50);
    assert.equal(d.array?.maxRunning, 5);
    assert.equal(d.cpus, 8);
    assert.equal(d.timeLimitMs, 4 * HOUR);
    assert.equal(d.memBytes, 4096 * MiB);
    assert.equal(d.queue, 'long');
    assert.equal(d.outputMode, 'append', 'LSF -o appends');
    const ctx = { jobId: 3012, jobName: 'sim', user: 'dave', arrayJobId: 3000, arrayTaskId: 12 };
    assert.equal(expandOutputPattern(d.output!, ctx), 'out.3000.12', "LSF's %J is the array's id");
    assert.equal(expandOutputPattern(d.error!, ctx), 'err.3000.12');
    assert.deepEqual(d.warnings, []);
  });

  it('a GPU job with -gpu, -M, overwriting output and mail at begin and end', () => {
    const d = parse(
      '#!/bin/bash',
      '#BSUB -q gpu',
      '#BSUB -gpu "num=2:mode=exclusive_process"',
      '#BSUB -M 16GB',
      '#BSUB -oo train.%J.log',
      '#BSUB -eo train.%J.err',
      '#BSUB -B',
      '#BSUB -N',
      '#BSUB -u erin@uni.example',
      '#BSUB -cwd /work/erin',
      'python train.py',
    );
    assert.equal(d.gpus, 2);
    assert.equal(d.gpuType, null);
    assert.equal(d.memBytes, 16 * GiB);
    assert.equal(d.output, 'train.%A.log');
    assert.equal(d.outputMode, 'truncate');
    assert.equal(d.errorMode, 'truncate');
    assert.deepEqual(d.mail, { begin: true, end: true, fail: false });
    assert.equal(d.mailUser, 'erin@uni.example');
    assert.equal(d.chdir, '/work/erin');
    assert.equal(expandOutputPattern(d.output!, { jobId: 41, jobName: 'x', user: 'erin' }), 'train.41.log');
  });

  it('-gpu forms: "-" is one GPU, gmodel names the model, bare -M is megabytes', () => {
    const one = parse('#!/bin/bash', '#BSUB -gpu -', '#BSUB -M 8000', 'x');
    assert.equal(one.gpus, 1);
    assert.equal(one.memBytes, 8000 * MiB);
    const model = parse('#!/bin/bash', '#BSUB -gpu "num=4:gmodel=NVIDIAA100_SXM4_80GB:j_exclusive=yes"', 'x');
    assert.deepEqual([model.gpus, model.gpuType], [4, 'a100-sxm4-80gb']);
    const shared = parse('#!/bin/bash', '#BSUB -gpu "num=1:mode=shared:gmem=10G"', 'x');
    warningAt(shared, 2, /mode=shared/);
    warningAt(shared, 2, /gmem=10G is ignored/);
  });

  it('a pipeline step with LSF dependencies', () => {
    const d = parse('#!/bin/bash', '#BSUB -w "done(123) && ended(456) && exit(789)"', '#BSUB -J step2', 'x');
    assert.deepEqual(d.dependencies, [
      { jobId: 123, type: 'ok' },
      { jobId: 456, type: 'any' },
      { jobId: 789, type: 'notok' },
    ]);
    assert.deepEqual(parse('#!/bin/bash', '#BSUB -w 77', 'x').dependencies, [{ jobId: 77, type: 'ok' }]);
    const started = parse('#!/bin/bash', "#BSUB -w 'started(5)'", 'x');
    assert.deepEqual(started.dependencies, [{ jobId: 5, type: 'any' }]);
    warningAt(started, 2, /waits until job 5 ends/);
  });

  it('-M and rusage[mem] both: the larger wins, with a warning when they differ', () => {
    const d = parse('#!/bin/bash', '#BSUB -M 10000', '#BSUB -R "select[mem>8000] rusage[mem=8000]"', 'x');
    assert.equal(d.memBytes, 10000 * MiB);
    warningAt(d, 3, /the job gets the larger, 10000 MB/);
    warningAt(d, 3, /select\[mem>8000\] is ignored/);
    const same = parse('#!/bin/bash', '#BSUB -M 4096 -R rusage[mem=4096]', 'x');
    assert.equal(same.memBytes, 4096 * MiB);
    assert.deepEqual(same.warnings, []);
  });

  it('attached values, exclusive, begin time, hold, -G as the account, -P as a warning, -env', () => {
    const d = parse(
      '#!/bin/bash',
      '#BSUB -n4 -qshort',
      '#BSUB -x',
      '#BSUB -b 18:30',
      '#BSUB -H',
      '#BSUB -G physics-theory',
      '#BSUB -P myproject',
      '#BSUB -env "all, OMP_NUM_THREADS=4"',
      'x',
    );
    assert.equal(d.cpus, 4);
    assert.equal(d.queue, 'short');
    assert.equal(d.exclusive, true);
    assert.deepEqual(d.beginAt, { kind: 'clock', hour: 18, minute: 30, second: 0, tomorrow: false });
    assert.equal(d.hold, true);
    assert.equal(d.account, 'physics-theory');
    assert.deepEqual(d.env, { inherit: 'all', names: [], set: { OMP_NUM_THREADS: '4' } });
    warningAt(d, 7, /#BSUB -P is ignored/);
  });

  it('an output directory gets LSF\'s file name', () => {
    const d = parse('#!/bin/bash', '#BSUB -o logs/', '#BSUB -e logs/', 'x');
    assert.equal(d.output, 'logs/%A.out');
    assert.equal(d.error, 'logs/%A.err');
    const arr = parse('#!/bin/bash', '#BSUB -J "a[1-3]"', '#BSUB -o logs/', 'x');
    assert.equal(arr.output, 'logs/%A_%a.out');
    assert.equal(arr.name, 'a');
  });

  it('an array without a name, and a range of slots', () => {
    const d = parse('#!/bin/bash', '#BSUB -J "[1-10:3]"', '#BSUB -n 4,8', 'x');
    assert.equal(d.name, undefined);
    assert.deepEqual(d.array?.indices, [1, 4, 7, 10]);
    assert.equal(d.cpus, 4);
    warningAt(d, 3, /minimum, 4/);
  });
});

describe('scripts with both #SBATCH and #BSUB', () => {
  it('a portable script whose resources agree', () => {
    const d = parse(
      '#!/bin/bash',
      '#SBATCH -n 8',
      '#SBATCH --mem=4096',
      '#SBATCH -t 4:00:00',
      '#SBATCH -J portable',
      '#SBATCH -o slurm-%j.out',
      '#BSUB -n 8',
      '#BSUB -M 4096',
      '#BSUB -W 4:00',
      '#BSUB -J portable',
      '#BSUB -o lsf-%J.out',
      './run',
    );
    assert.equal(d.dialect, 'slurm');
    assert.equal(d.cpus, 8);
    assert.equal(d.memBytes, 4096 * MiB);
    assert.equal(d.timeLimitMs, 4 * HOUR);
    assert.equal(d.output, 'slurm-%j.out', '#SBATCH wins on names');
    warningAt(d, 11, /differs from #SBATCH -o \(line 6\): the #SBATCH value is used/);
  });
  it('resources only #BSUB gives are kept', () => {
    const d = parse('#!/bin/bash', '#SBATCH -J mixed', '#BSUB -n 4', '#BSUB -gpu "num=1"', 'x');
    assert.equal(d.name, 'mixed');
    assert.equal(d.cpus, 4);
    assert.equal(d.gpus, 1);
  });
  it('different CPUs are an error naming both lines', () => {
    failsAt(script('#!/bin/bash', '#SBATCH -n 4', '#BSUB -n 8', 'x'), 3, /#SBATCH -n \(line 2\) and #BSUB -n \(line 3\) ask for different numbers of CPUs/);
    failsAt(script('#!/bin/bash', '#BSUB -W 10', '#SBATCH -t 20', 'x'), 3, /different time limits/);
    failsAt(script('#!/bin/bash', '#SBATCH --array=1-10', '#BSUB -J "a[1-20]"', 'x'), 3, /different arrays/);
  });
});

describe('errors name the line and the accepted forms', () => {
  it('contradictions inside one dialect', () => {
    failsAt(script('#!/bin/bash', '#SBATCH -c 2', '#SBATCH --mem=4G', '#SBATCH --mem-per-cpu=1G', 'x'), 4, /--mem \(line 3\) and --mem-per-cpu contradict each other: keep one/);
    failsAt(script('#!/bin/bash', '#SBATCH --mem=4G --mem-per-gpu=1G --gpus=1', 'x'), 2, /--mem and --mem-per-gpu contradict each other/);
    failsAt(script('#!/bin/bash', '#SBATCH -c 4', '#SBATCH --cpus-per-gpu=2 --gpus=1', 'x'), 3, /-c \(line 2\) and --cpus-per-gpu contradict/);
    failsAt(script('#!/bin/bash', '#SBATCH --gres=gpu:2', '#SBATCH --gpus=3', 'x'), 3, /--gres \(line 2\) and --gpus contradict each other: ask for GPUs once/);
    failsAt(script('#!/bin/bash', '#SBATCH --gres=gpu:a100:1', '#SBATCH --gpus=h200:1', 'x'), 3, /contradict/);
    failsAt(script('#!/bin/bash', '#BSUB -gpu num=2', '#BSUB -R "rusage[ngpus_physical=1]"', 'x'), 3, /contradict each other: ask for GPUs once/);
  });
  it('more than one node', () => {
    failsAt(script('#!/bin/bash', '#SBATCH -J x', '#SBATCH -N 2', 'x'), 3, /-N 2 asks for 2 nodes.*one node/);
    failsAt(script('#!/bin/bash', '#SBATCH --nodes=2-4', 'x'), 2, /asks for 2 nodes/);
    failsAt(script('#!/bin/bash', '#SBATCH --ntasks=8', '#SBATCH --ntasks-per-node=4', 'x'), 3, /needs 2 nodes/);
    failsAt(script('#!/bin/bash', '#BSUB -n 16', '#BSUB -R "span[ptile=8]"', 'x'), 3, /needs 2 hosts/);
    failsAt(script('#!/bin/bash', '#BSUB -R "span[hosts=2]"', 'x'), 2, /2 hosts/);
  });
  it('malformed values show the accepted forms', () => {
    failsAt(script('#!/bin/bash', '#SBATCH -t 2days3', 'x'), 2, /-t 2days3: '2days3' is not a time limit: write minutes \(90\).*2-00:00:00/);
    failsAt(script('#!/bin/bash', '#SBATCH --time=1:99', 'x'), 2, /not a time limit/);
    failsAt(script('#!/bin/bash', '#SBATCH --mem=lots', 'x'), 2, /--mem lots: 'lots' is not a memory size: write megabytes \(4000\)/);
    failsAt(script('#!/bin/bash', '#SBATCH -c four', 'x'), 2, /-c four: 'four' is not a number of CPUs per task/);
    failsAt(script('#!/bin/bash', '#SBATCH -c 0', 'x'), 2, /out of range/);
    failsAt(script('#!/bin/bash', '#SBATCH --array=5-1', 'x'), 2, /--array 5-1: .*ends before it starts.*1-100%10/);
    failsAt(script('#!/bin/bash', '#SBATCH --gres=gpu:h200:two', 'x'), 2, /not a GPU request: write gpu, gpu:2 or gpu:h200:2/);
    failsAt(script('#!/bin/bash', '#SBATCH --gres=tmpdisk:100', 'x'), 2, /generic resource 'tmpdisk' does not exist here/);
    failsAt(script('#!/bin/bash', '#SBATCH --gpus=2:h200', 'x'), 2, /not a GPU request/);
    failsAt(script('#!/bin/bash', '#SBATCH --mail-type=SOMETIMES', 'x'), 2, /'SOMETIMES' is not a mail type: write BEGIN, END, FAIL, ALL or NONE/);
    failsAt(script('#!/bin/bash', '#SBATCH --begin=whenever', 'x'), 2, /not a begin time: write now\+1hour/);
    failsAt(script('#!/bin/bash', '#SBATCH --open-mode=overwrite', 'x'), 2, /write append or truncate/);
    failsAt(script('#!/bin/bash', '#SBATCH --export=1BAD=x', 'x'), 2, /not an environment variable name/);
    failsAt(script('#!/bin/bash', '#SBATCH --exclusive=maybe', 'x'), 2, /--exclusive=maybe: write --exclusive/);
    failsAt(script('#!/bin/bash', '#BSUB -W 4h', 'x'), 2, /#BSUB -W 4h: '4h' is not an LSF run limit: write \[hours:\]minutes/);
    failsAt(script('#!/bin/bash', '#BSUB -W 1:75', 'x'), 2, /not an LSF run limit/);
    failsAt(script('#!/bin/bash', '#BSUB -n many', 'x'), 2, /not a number of slots/);
    failsAt(script('#!/bin/bash', '#BSUB -gpu "num=two"', 'x'), 2, /num=two: write a whole number of GPUs/);
    failsAt(script('#!/bin/bash', '#BSUB -gpu "mode=turbo"', 'x'), 2, /mode=turbo: write mode=shared or mode=exclusive_process/);
    failsAt(script('#!/bin/bash', '#BSUB -J "bad[x-y]"', 'x'), 2, /not an index or a range/);
    failsAt(script('#!/bin/bash', '#BSUB -M 0', 'x'), 2, /no memory at all/);
    failsAt(script('#!/bin/bash', '#BSUB -b 25:00', 'x'), 2, /not an LSF begin time/);
  });
  it('dependencies whose meaning cannot be kept', () => {
    failsAt(script('#!/bin/bash', '#SBATCH -d afterok:1?afterok:2', 'x'), 2, /'\?' \(any one of the dependencies\) is not supported/);
    failsAt(script('#!/bin/bash', '#SBATCH --dependency=singleton', 'x'), 2, /singleton/);
    failsAt(script('#!/bin/bash', '#SBATCH --dependency=afterok:123_4', 'x'), 2, /one array task/);
    failsAt(script('#!/bin/bash', '#SBATCH --dependency=aftercorr:12', 'x'), 2, /aftercorr/);
    failsAt(script('#!/bin/bash', '#SBATCH --dependency=afterok:12+30', 'x'), 2, /delay/);
    failsAt(script('#!/bin/bash', '#SBATCH --dependency=afterok', 'x'), 2, /not a dependency: write afterok:ID/);
    failsAt(script('#!/bin/bash', '#SBATCH --dependency=afterok:abc', 'x'), 2, /not a job id/);
    failsAt(script('#!/bin/bash', '#BSUB -w "done(1) || done(2)"', 'x'), 2, /'\|\|'/);
    failsAt(script('#!/bin/bash', '#BSUB -w "done(myjob)"', 'x'), 2, /not a job id: name jobs by number/);
    failsAt(script('#!/bin/bash', '#BSUB -w "exit(12, >2)"', 'x'), 2, /exit-code condition/);
    failsAt(script('#!/bin/bash', '#BSUB -w "numdone(12, 5)"', 'x'), 2, /numdone/);
  });
  it('unknown, ambiguous, incomplete and unsupported options', () => {
    failsAt(script('#!/bin/bash', '#SBATCH --memory=4G', 'x'), 2, /unknown #SBATCH option --memory; did you mean --mem\?/);
    failsAt(script('#!/bin/bash', '#SBATCH -y 4', 'x'), 2, /unknown #SBATCH option -y$/);
    failsAt(script('#!/bin/bash', '#SBATCH --cpus=4', 'x'), 2, /--cpus is ambiguous: it could be --cpus-per-task, --cpus-per-gpu/);
    failsAt(script('#!/bin/bash', '#SBATCH -c 2 --time', 'x'), 2, /--time needs a value/);
    failsAt(script('#!/bin/bash', '#SBATCH -J', 'x'), 2, /-J needs a value/);
    failsAt(script('#!/bin/bash', '#SBATCH --hold=yes', 'x'), 2, /--hold takes no value/);
    failsAt(script('#!/bin/bash', '#SBATCH --uid=0', 'x'), 2, /--uid is not supported: a job runs as the user who submits it/);
    failsAt(script('#!/bin/bash', '#SBATCH --wrap="echo hi"', 'x'), 2, /--wrap is not supported/);
    failsAt(script('#!/bin/bash', '#SBATCH --bb="capacity=1G"', 'x'), 2, /burst buffers/);
    failsAt(script('#!/bin/bash', '#SBATCH mem=4G', 'x'), 2, /'mem=4G' is not an option/);
    failsAt(script('#!/bin/bash', '#SBATCH hetjob', 'x'), 2, /heterogeneous jobs/);
    failsAt(script('#!/bin/bash', '#SBATCH --job-name="unclosed', 'x'), 2, /unmatched " quote/);
    failsAt(script('#!/bin/bash', '#BSUB -Z 4', 'x'), 2, /unknown #BSUB option -Z/);
    failsAt(script('#!/bin/bash', '#BSUB -gpuz 4', 'x'), 2, /unknown #BSUB option -gpuz; did you mean -gpu\?/);
    failsAt(script('#!/bin/bash', '#BSUB -Is bash', 'x'), 2, /interactive jobs are not batch jobs/);
    failsAt(script('#!/bin/bash', '#BSUB -E "./pre.sh"', 'x'), 2, /pre- and post-execution/);
    failsAt(script('#!/bin/bash', '#BSUB 8', 'x'), 2, /'8' is not an option/);
    failsAt(script('#!/bin/bash', '#BSUB -q', 'x'), 2, /-q needs a value/);
  });
  it('needs that the request cannot meet', () => {
    failsAt(script('#!/bin/bash', '#SBATCH --mem-per-gpu=10G', 'x'), 2, /--mem-per-gpu needs GPUs/);
    failsAt(script('#!/bin/bash', '#SBATCH --cpus-per-gpu=4', 'x'), 2, /--cpus-per-gpu needs GPUs/);
    failsAt(script('#!/bin/bash', '#SBATCH -n 1000000 -c 1000000', 'x'), 2, /no node has that many/);
  });
});

describe('scripts that are not scripts', () => {
  it('an empty script is refused', () => {
    for (const text of ['', '\n\n', '   \t  \n']) {
      assert.throws(() => parseScriptDirectives(text), invalid(/the script is empty/));
    }
  });
  it('binary garbage is refused, naming the line of the first NUL byte', () => {
    const garbage = String.fromCharCode(0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x0a, 0xff, 0xfe, 0x00, 0x13, 0x37);
    failsAt(garbage, 2, /NUL byte: it is not a text file/);
  });
  it('random bytes without NUL: no directives, and no crash', () => {
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 50; round++) {
      const bytes = Array.from({ length: 500 }, () => 1 + (next() % 255));
      const text = String.fromCharCode(...bytes);
      try {
        const d = parseScriptDirectives(text);
        assert.ok(['none', 'slurm', 'lsf'].includes(d.dialect));
      } catch (e) {
        assert.ok(e instanceof KeisanError && e.code === 'INVALID_INPUT', String(e));
      }
    }
  });
  it('random directive soup: every failure is INVALID_INPUT naming its line', () => {
    const options = ['-c', '-n', '-N', '-t', '--mem', '--mem-per-cpu', '--gres', '--gpus', '-G', '-J', '-o', '-a', '-d', '--mail-type', '--begin', '--export', '-p', '--exclusive', '--hold', '-q', '-W', '-M', '-R', '-gpu', '-w', '-b', '-x', '-env', '-oo', '-B'];
    const values = ['4', '0', '-1', 'gpu:2', 'h200:2', '1-10%2', 'afterok:1', 'done(3)', '"rusage[mem=1]"', '4:00', '2-00:00:00', 'x', '"a b"', "'", '#', '%%', 'now+1h', 'ALL', 'num=2', 'span[ptile=1]', '1,2', '99999999999999999999', 'NaN', '\\', '=', '-'];
    let seed = 7;
    const pick = <T,>(list: T[]): T => list[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % list.length]!;
    let parsed = 0;
    for (let round = 0; round < 2000; round++) {
      const lines = ['#!/bin/bash'];
      for (let j = 0, n = 1 + (round % 3); j < n; j++) lines.push(`${pick(['#SBATCH', '#BSUB'])} ${pick(options)} ${pick(values)} ${pick(options)}=${pick(values)}`);
      lines.push('echo done');
      try {
        parseScriptDirectives(lines.join('\n'));
        parsed++;
      } catch (e) {
        assert.ok(e instanceof KeisanError && e.code === 'INVALID_INPUT' && /^line [2-4]: /.test(e.message), `${lines.join(' | ')} → ${String(e)}`);
      }
    }
    assert.ok(parsed > 0);
  });
  it('a 1 MB script parses quickly; misplaced directives are counted, not listed forever', () => {
    const header = ['#!/bin/bash', '#SBATCH -c 4', '#SBATCH --mem=8G', 'echo start'];
    const body: string[] = [];
    let size = 0;
    while (size < 1_000_000) {
      const line = `echo "line ${body.length}: ${'x'.repeat(60)}"`;
      body.push(line);
      size += line.length + 1;
      if (body.length % 1000 === 0) body.push('#SBATCH --mem=999G');
    }
    const text = script(...header, ...body);
    assert.ok(text.length >= 1_000_000);
    const started = performance.now();
    const d = parseScriptDirectives(text);
    const elapsed = performance.now() - started;
    assert.equal(d.cpus, 4);
    assert.equal(d.memBytes, 8 * GiB);
    const late = d.warnings.filter((w) => /is ignored, as sbatch/.test(w.message));
    assert.equal(late.length, 10);
    assert.equal(late[0]!.line, 4 + 1001, 'the first misplaced directive is named by its line');
    assert.ok(d.warnings.some((w) => /more directives after the first command were ignored/.test(w.message)));
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  });
});

describe('value parsers', () => {
  it('SLURM time in every form', () => {
    assert.equal(parseSlurmTime('90'), 90 * MIN);
    assert.equal(parseSlurmTime('30:00'), 30 * MIN);
    assert.equal(parseSlurmTime('90:30'), 90 * MIN + 30_000);
    assert.equal(parseSlurmTime('48:00:00'), 48 * HOUR);
    assert.equal(parseSlurmTime('1-12'), 36 * HOUR);
    assert.equal(parseSlurmTime('1-12:30'), 36 * HOUR + 30 * MIN);
    assert.equal(parseSlurmTime('2-00:00:00'), 48 * HOUR);
    assert.equal(parseSlurmTime(' 2h '), 2 * HOUR);
    assert.equal(parseSlurmTime('1d12h'), 36 * HOUR);
    for (const unlimited of ['UNLIMITED', 'Infinite', '-1', '0', '00:00:00']) assert.equal(parseSlurmTime(unlimited), null, unlimited);
    for (const bad of ['', 'soon', '1:2:3:4', '-5', '1-', '1:60:00', '10x']) {
      assert.throws(() => parseSlurmTime(bad), invalid(/not a time limit: write minutes/), bad);
    }
  });
  it('LSF run limits', () => {
    assert.equal(parseLsfTime('90'), 90 * MIN);
    assert.equal(parseLsfTime('4:00'), 4 * HOUR);
    assert.equal(parseLsfTime('0:30'), 30 * MIN);
    assert.equal(parseLsfTime('2:30/hostA'), 150 * MIN);
    for (const bad of ['', '4h', '1:2:3', '1:60']) assert.throws(() => parseLsfTime(bad), invalid(/LSF run limit/), bad);
  });
  it('SLURM memory: bare megabytes and units', () => {
    assert.equal(parseSlurmMemory('4000'), 4000 * MiB);
    assert.equal(parseSlurmMemory('4000M'), 4000 * MiB);
    assert.equal(parseSlurmMemory('4G'), 4 * GiB);
    assert.equal(parseSlurmMemory('4GB'), 4 * GiB);
    assert.equal(parseSlurmMemory('1T'), 1024 * GiB);
    assert.equal(parseSlurmMemory('512K'), 512 * 1024);
    assert.equal(parseSlurmMemory('1.5G'), 1.5 * GiB);
    assert.equal(parseSlurmMemory('0'), null);
    for (const bad of ['', 'G', '-1', '4 X']) assert.throws(() => parseSlurmMemory(bad), invalid(/not a memory size/), bad);
  });
  it('GPU requests and model names', () => {
    assert.deepEqual(parseGpuRequest('2'), { gpus: 2, gpuType: null });
    assert.deepEqual(parseGpuRequest('h200:2'), { gpus: 2, gpuType: 'h200' });
    assert.deepEqual(parseGpuRequest('H200'), { gpus: 1, gpuType: 'h200' });
    assert.deepEqual(parseGpuRequest('gpu:a100:4'), { gpus: 4, gpuType: 'a100' });
    assert.deepEqual(parseGpuRequest('0'), { gpus: 0, gpuType: null });
    assert.deepEqual(parseGres('gpu:tesla_v100:1'), { gpus: 1, gpuType: 'v100' });
    assert.deepEqual(parseGres('none'), { gpus: 0, gpuType: null });
    assert.throws(() => parseGres('gpu:1,gpu:2'), invalid(/names gpu twice/));
    assert.throws(() => parseGpuRequest('h200:'), invalid(/not a GPU request/));
    assert.equal(normalizeGpuType('NVIDIA H200'), 'h200');
    assert.equal(normalizeGpuType('NVIDIAA100_SXM4_80GB'), 'a100-sxm4-80gb');
    assert.equal(normalizeGpuType('TeslaV100_SXM2_32GB'), 'v100-sxm2-32gb');
  });
  it('dependencies', () => {
    const warnings: string[] = [];
    assert.deepEqual(parseSlurmDependency('afterok:1:2,afternotok:3,afterok:1', (m) => warnings.push(m)), [
      { jobId: 1, type: 'ok' },
      { jobId: 2, type: 'ok' },
      { jobId: 3, type: 'notok' },
    ]);
    assert.deepEqual(warnings, []);
    assert.deepEqual(parseLsfDependency('(done(4)) && 5', () => {}), [
      { jobId: 4, type: 'ok' },
      { jobId: 5, type: 'ok' },
    ]);
  });
  it('mail types', () => {
    assert.deepEqual(parseMailTypes('begin,end', () => {}), { begin: true, end: true, fail: false });
    assert.deepEqual(parseMailTypes('ALL', () => {}), { begin: true, end: true, fail: true });
    assert.deepEqual(parseMailTypes('NONE', () => {}, { begin: true, end: true, fail: true }), { begin: false, end: false, fail: false });
    const warnings: string[] = [];
    assert.deepEqual(parseMailTypes('END,REQUEUE,ARRAY_TASKS', (m) => warnings.push(m)), { begin: false, end: true, fail: false });
    assert.equal(warnings.length, 2);
  });
  it('exports', () => {
    assert.deepEqual(parseSlurmExport('ALL'), { inherit: 'all', names: [], set: {} });
    assert.deepEqual(parseSlurmExport('NONE'), { inherit: 'none', names: [], set: {} });
    assert.deepEqual(parseSlurmExport('HOME,OMP_NUM_THREADS=4'), { inherit: 'none', names: ['HOME'], set: { OMP_NUM_THREADS: '4' } });
    assert.deepEqual(parseSlurmExport('ALL,X=a=b'), { inherit: 'all', names: [], set: { X: 'a=b' } });
  });
  it('splits directive arguments like sbatch', () => {
    assert.deepEqual(splitDirectiveArguments(' --a=1  -b "two words" \'x y\' c\\ d e"f g"h # rest'), ['--a=1', '-b', 'two words', 'x y', 'c d', 'ef gh']);
    assert.deepEqual(splitDirectiveArguments('--x=a#b'), ['--x=a']);
    assert.deepEqual(splitDirectiveArguments('--x="a#b"'), ['--x=a#b']);
    assert.deepEqual(splitDirectiveArguments('""'), ['']);
    assert.throws(() => splitDirectiveArguments("'open", 7), invalid(/^line 7: unmatched ' quote/));
  });
});

describe('begin times', () => {
  // A fixed local time: Wednesday 2030-01-16 10:00:00 in this process's time zone.
  const now = new Date(2030, 0, 16, 10, 0, 0).getTime();
  const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s).getTime();

  it('relative forms', () => {
    assert.equal(resolveBeginAt(parseBeginTime('now'), now), now);
    assert.equal(resolveBeginAt(parseBeginTime('today'), now), now);
    assert.equal(resolveBeginAt(parseBeginTime('now+60'), now), now + 60_000);
    assert.equal(resolveBeginAt(parseBeginTime('now+1hour'), now), now + HOUR);
    assert.equal(resolveBeginAt(parseBeginTime('now+30minutes'), now), now + 30 * MIN);
    assert.equal(resolveBeginAt(parseBeginTime('NOW+2days'), now), now + 48 * HOUR);
  });
  it('clock times: today, or tomorrow once past', () => {
    assert.equal(resolveBeginAt(parseBeginTime('16:00'), now), local(2030, 1, 16, 16));
    assert.equal(resolveBeginAt(parseBeginTime('4pm'), now), local(2030, 1, 16, 16));
    assert.equal(resolveBeginAt(parseBeginTime('09:30:15'), now), local(2030, 1, 17, 9, 30, 15));
    assert.equal(resolveBeginAt(parseBeginTime('midnight'), now), local(2030, 1, 17));
    assert.equal(resolveBeginAt(parseBeginTime('noon'), now), local(2030, 1, 16, 12));
    assert.equal(resolveBeginAt(parseBeginTime('teatime'), now), local(2030, 1, 16, 16));
    assert.equal(resolveBeginAt(parseBeginTime('fika'), now), local(2030, 1, 16, 15));
    assert.equal(resolveBeginAt(parseBeginTime('elevenses'), now), local(2030, 1, 16, 11));
    assert.equal(resolveBeginAt(parseBeginTime('tomorrow'), now), local(2030, 1, 17));
    assert.equal(resolveBeginAt(parseBeginTime('12am'), now), local(2030, 1, 17));
  });
  it('dates, rolling a missing year forward', () => {
    assert.equal(resolveBeginAt(parseBeginTime('2030-03-01'), now), local(2030, 3, 1));
    assert.equal(resolveBeginAt(parseBeginTime('2030-03-01T08:15'), now), local(2030, 3, 1, 8, 15));
    assert.equal(resolveBeginAt(parseBeginTime('03/01'), now), local(2030, 3, 1));
    assert.equal(resolveBeginAt(parseBeginTime('0301'), now), local(2030, 3, 1));
    assert.equal(resolveBeginAt(parseBeginTime('01.02'), now), local(2031, 1, 2), 'a past date without year is next year');
    assert.equal(resolveBeginAt(parseBeginTime('03/01/31'), now), local(2031, 3, 1));
  });
  it('LSF begin times', () => {
    assert.equal(resolveBeginAt(parseLsfBeginTime('18:30'), now), local(2030, 1, 16, 18, 30));
    assert.equal(resolveBeginAt(parseLsfBeginTime('20:8:00'), now), local(2030, 1, 20, 8));
    assert.equal(resolveBeginAt(parseLsfBeginTime('10:8:00'), now), local(2030, 2, 10, 8), 'a past day rolls to next month');
    assert.equal(resolveBeginAt(parseLsfBeginTime('2:1:8:00'), now), local(2030, 2, 1, 8));
    assert.equal(resolveBeginAt(parseLsfBeginTime('2031:2:1:8:00'), now), local(2031, 2, 1, 8));
  });
  it('refuses impossible times', () => {
    for (const bad of ['24:00', '13pm', '2030-02-30', '2030-13-01', '1300', 'next week', 'now+soon', '']) {
      assert.throws(() => parseBeginTime(bad), invalid(/not a begin time/), bad);
    }
  });
});

describe('command-line options and precedence', () => {
  const scriptDirectives = parse(
    '#!/bin/bash',
    '#SBATCH -p short',
    '#SBATCH -n 2 -c 4',
    '#SBATCH --mem-per-cpu=1G',
    '#SBATCH --gres=gpu:a100:1',
    '#SBATCH -t 1:00:00',
    '#SBATCH -J from-script',
    '#SBATCH -o script.out',
    '#SBATCH -d afterok:10',
    '#SBATCH --mail-type=ALL',
    '#SBATCH --export=ALL,A=script,B=script',
    '#SBATCH --array=1-4',
    'true',
  );

  function merged(input: CommandLineInput) {
    const { overrides, warnings } = parseCommandLineOptions(input);
    return mergeSubmitOptions(scriptDirectives, overrides, warnings);
  }

  it('without options, the script decides', () => {
    const m = merged({});
    assert.equal(m.queue, 'short');
    assert.equal(m.cpus, 8);
    assert.equal(m.ntasks, 2);
    assert.equal(m.cpusPerTask, 4);
    assert.equal(m.memBytes, 8 * GiB);
    assert.equal(m.gpus, 1);
    assert.equal(m.gpuType, 'a100');
    assert.equal(m.timeLimitMs, HOUR);
    assert.equal(m.name, 'from-script');
    assert.equal(m.output, 'script.out');
    assert.deepEqual(m.dependencies, [{ jobId: 10, type: 'ok' }]);
    assert.deepEqual(m.mail, { begin: true, end: true, fail: true });
    assert.deepEqual(m.env, { inherit: 'all', names: [], set: { A: 'script', B: 'script' } });
    assert.equal(m.array?.text, '1-4');
    assert.equal(m.outputMode, 'truncate');
    assert.equal(m.dialect, 'slurm');
  });

  it('the command line wins, as with sbatch', () => {
    const m = merged({
      queue: 'long',
      cpus: '16',
      gpus: 'h200:2',
      time: '90',
      name: 'from-cli',
      output: 'cli-%j.out',
      error: 'cli-%j.err',
      chdir: '/tmp/work',
      after: ['12', '13:any'],
      env: ['B=cli', 'C=cli', 'HOME'],
      mail: 'none',
      array: '0-9%2',
      hold: true,
    });
    assert.equal(m.queue, 'long');
    assert.equal(m.cpus, 16);
    assert.equal(m.ntasks, 1);
    assert.equal(m.cpusPerTask, 16);
    assert.equal(m.memBytes, 16 * GiB, 'memory per CPU follows the new CPU count');
    assert.deepEqual([m.gpus, m.gpuType], [2, 'h200']);
    assert.equal(m.timeLimitMs, 90 * MIN, 'a bare --time is minutes, as in sbatch');
    assert.equal(m.name, 'from-cli');
    assert.equal(m.output, 'cli-%j.out');
    assert.equal(m.error, 'cli-%j.err');
    assert.equal(m.chdir, '/tmp/work');
    assert.deepEqual(m.dependencies, [
      { jobId: 12, type: 'ok' },
      { jobId: 13, type: 'any' },
    ], '--after replaces the script dependencies');
    assert.deepEqual(m.env, { inherit: 'all', names: ['HOME'], set: { A: 'script', B: 'cli', C: 'cli' } });
    assert.deepEqual(m.mail, { begin: false, end: false, fail: false });
    assert.equal(m.array?.text, '0-9%2');
    assert.equal(m.hold, true);
  });

  it('--mem replaces memory per CPU; --gpus without a model drops the script model', () => {
    const m = merged({ mem: '4000', gpus: '3' });
    assert.equal(m.memBytes, 4000 * MiB);
    assert.deepEqual([m.gpus, m.gpuType], [3, null]);
    assert.equal(merged({ gpus: true }).gpus, 1);
    assert.equal(merged({ mem: '0' }).memBytes, null);
    assert.equal(merged({ time: 'unlimited' }).timeLimitMs, null);
  });

  it('--after forms: a bare id means ok', () => {
    assert.deepEqual(parseAfterOption('12'), [{ jobId: 12, type: 'ok' }]);
    assert.deepEqual(parseAfterOption('12:ok,13:any,14:notok'), [
      { jobId: 12, type: 'ok' },
      { jobId: 13, type: 'any' },
      { jobId: 14, type: 'notok' },
    ]);
    assert.deepEqual(parseAfterOption('afterany:5'), [{ jobId: 5, type: 'any' }]);
    assert.deepEqual(merged({ after: 7 }).dependencies, [{ jobId: 7, type: 'ok' }]);
    assert.throws(() => parseAfterOption('12:maybe'), invalid(/JOB:ok .*JOB:any/));
  });

  it('--mail forms', () => {
    assert.deepEqual(merged({ mail: true }).mail, { begin: false, end: true, fail: true });
    assert.deepEqual(merged({ mail: 'begin' }).mail, { begin: true, end: false, fail: false });
    const toAddress = merged({ mail: 'pi@uni.example' });
    assert.deepEqual(toAddress.mail, { begin: false, end: true, fail: true });
    assert.equal(toAddress.mailUser, 'pi@uni.example');
  });

  it('bad command-line values name the option and the accepted forms', () => {
    const cases: [CommandLineInput, RegExp][] = [
      [{ cpus: 'lots' }, /^--cpus lots: .*whole number/],
      [{ cpus: 0 }, /^--cpus 0: .*out of range/],
      [{ mem: 'big' }, /^--mem big: .*megabytes \(4000\)/],
      [{ gpus: 'h200:x' }, /^--gpus h200:x: .*h200:2/],
      [{ time: 'later' }, /^--time later: .*2-00:00:00/],
      [{ array: '1-' }, /^--array 1-: /],
      [{ after: 'x' }, /^--after x: /],
      [{ env: ['=x'] }, /^--env =x: .*not an environment variable name/],
      [{ mail: 'often' }, /^--mail often: .*BEGIN, END, FAIL/],
      [{ begin: 'soonish' }, /^--begin soonish: /],
      [{ queue: ' ' }, /^--queue {2}: an empty queue name/],
    ];
    for (const [input, pattern] of cases) {
      assert.throws(() => parseCommandLineOptions(input), invalid(pattern), JSON.stringify(input));
    }
  });

  it('a script without directives gets the defaults', () => {
    const m = mergeSubmitOptions(parse('#!/bin/bash', 'true'), {});
    assert.equal(m.dialect, 'none');
    assert.equal(m.cpus, 1);
    assert.equal(m.ntasks, 1);
    assert.equal(m.gpus, 0);
    assert.equal(m.gpuType, null);
    assert.equal(m.memBytes, undefined);
    assert.equal(m.timeLimitMs, undefined);
    assert.equal(m.queue, undefined);
    assert.deepEqual(m.dependencies, []);
    assert.deepEqual(m.env, { inherit: 'all', names: [], set: {} });
    assert.equal(m.exclusive, false);
    assert.equal(m.hold, false);
    assert.deepEqual(outputPatterns({ output: m.output, error: m.error, isArray: m.array !== undefined }), { stdout: 'slurm-%j.out', stderr: 'slurm-%j.out' });
  });

  it('CPUs per GPU and memory per GPU follow --gpus from the command line', () => {
    const d = parse('#!/bin/bash', '#SBATCH --gpus=1 --cpus-per-gpu=8 --mem-per-gpu=40G', 'x');
    const m = mergeSubmitOptions(d, parseCommandLineOptions({ gpus: '2' }).overrides);
    assert.equal(m.cpus, 16);
    assert.equal(m.memBytes, 80 * GiB);
    assert.throws(() => mergeSubmitOptions(d, parseCommandLineOptions({ gpus: '0' }).overrides), invalid(/CPUs per GPU \(line 2\).*give --cpus too/));
    assert.throws(() => mergeSubmitOptions(d, parseCommandLineOptions({ gpus: '0', cpus: 2 }).overrides), invalid(/memory per GPU \(line 2\).*give --mem too/));
    const fine = mergeSubmitOptions(d, parseCommandLineOptions({ gpus: '0', cpus: 2, mem: '1G' }).overrides);
    assert.deepEqual([fine.gpus, fine.cpus, fine.memBytes], [0, 2, GiB]);
  });

  it('an LSF script keeps its append mode and array under command-line changes', () => {
    const d = parse('#!/bin/bash', '#BSUB -J "sim[1-50]%5"', '#BSUB -o out.%J.%I', '#BSUB -n 8', 'x');
    const m = mergeSubmitOptions(d, parseCommandLineOptions({ queue: 'express' }).overrides);
    assert.equal(m.dialect, 'lsf');
    assert.equal(m.queue, 'express');
    assert.equal(m.outputMode, 'append');
    assert.equal(m.cpus, 8);
    assert.equal(m.array?.maxRunning, 5);
  });
});
