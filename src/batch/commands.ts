import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command, CommandUnknownOpts } from '@commander-js/extra-typings';
import pc from 'picocolors';
import type { ApiClient } from '../cli/client.ts';
import { clientOf, examples, outputOf } from '../cli/context.ts';
import { EXIT_FAILED, formatTime } from '../cli/output.ts';
import { readStdin } from '../cli/prompt.ts';
import { releaseDevice } from '../devices/commands.ts';
import { conflict, invalidInput } from '../lib/errors.ts';
import { formatDuration, formatSize } from '../lib/units.ts';
import { FINAL_STATES, type JobState, type Queue } from './model.ts';
import type { Job } from './store.ts';
import type { SubmitInput, SubmitResult } from './submission-input.ts';
import { t } from '../lib/i18n/index.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const stateText = (job: Job) => {
  const text = job.held && job.state === 'pending' ? 'held' : job.state;
  if (job.state === 'running') return pc.green(text);
  if (job.state === 'pending') return pc.yellow(text);
  if (job.state === 'completed') return text;
  return pc.red(text);
};

const jobLabel = (job: Job) => (job.arrayJobId !== null && job.arrayTaskId !== null ? `${job.arrayJobId}_${job.arrayTaskId}` : String(job.id));

function elapsed(job: Job, now: number): string {
  if (!job.startedAt) return '-';
  const end = job.endedAt ? Date.parse(job.endedAt) : now;
  return formatDuration(end - Date.parse(job.startedAt));
}

/** 5-10004,10010 (long lists shortened). */
function compactIds(ids: number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.length > 20 ? `${parts.slice(0, 20).join(',')},…` : parts.join(',');
}

function parseJobIds(ids: string[]): number[] {
  return ids.map((id) => {
    if (!/^\d+$/.test(id)) throw invalidInput(t('batch.msg.not-a-job-id', { id }));
    return Number(id);
  });
}

async function waitForEnd(client: ApiClient, ids: number[], onEnd: (job: Job) => void): Promise<Job[]> {
  const ended = new Map<number, Job>();
  let delay = 100;
  while (ended.size < ids.length) {
    for (const id of ids) {
      if (ended.has(id)) continue;
      const job = await client.request<Job>('GET', `/api/jobs/${id}`);
      if (FINAL_STATES.has(job.state as JobState)) {
        ended.set(id, job);
        onEnd(job);
      }
    }
    if (ended.size < ids.length) await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 2000);
  }
  return ids.map((id) => ended.get(id)!);
}

/** The queue fields as `keisan admin queue add|set` options. */
function queueOptions(command: CommandUnknownOpts): CommandUnknownOpts {
  return command
    .option('-w, --workgroup <workgroup>', t('batch.root.opt.workgroup'))
    .option('-d, --description <text>', t('batch.root.opt.description'))
    .option('--priority <n>', t('batch.root.opt.priority'))
    .option('--nice <n>', t('batch.root.opt.nice'))
    .option('--wall-time <limit>', t('batch.root.opt.wall-time'))
    .option('--cpu-time <limit>', t('batch.root.opt.cpu-time'))
    .option('--default-time <limit>', t('batch.root.opt.default-time'))
    .option('--default-mem <size>', t('batch.root.opt.default-mem'))
    .option('--max-mem <size>', t('batch.root.opt.max-mem'))
    .option('--max-cpus <n>', t('batch.root.opt.max-cpus'))
    .option('--max-gpus <n>', t('batch.root.opt.max-gpus'))
    .option('--max-running-per-user <n>', t('batch.root.opt.max-running-per-user'))
    .option('--max-running-per-subgroup <n>', t('batch.root.opt.max-running-per-subgroup'))
    .option('--max-running-per-host <n>', t('batch.root.opt.max-running-per-host'))
    .option('--allow-workgroups <list>', t('batch.root.opt.allow-workgroups'))
    .option('--allow-subgroups <list>', t('batch.root.opt.allow-subgroups'))
    .option('--fair-share <mode>', t('batch.root.opt.fair-share'))
    .option('--enable', t('batch.root.opt.enable'))
    .option('--disable', t('batch.root.opt.disable'));
}

function queueBody(options: Record<string, unknown>): Record<string, unknown> {
  const integer = (name: string, value: unknown) => {
    if (typeof value !== 'string' || !/^\d+$/.test(value)) throw invalidInput(t('batch.input.must-be-a-whole-number', { name, value: String(value) }));
    return Number(value);
  };
  const limit = (name: string, value: unknown) => (value === 'none' ? null : integer(name, value));
  const names = (value: unknown) => String(value).split(',').map((s) => s.trim()).filter(Boolean);
  const body: Record<string, unknown> = {};
  const o = options;
  if (o.workgroup !== undefined) body.workgroup = o.workgroup === 'none' ? null : o.workgroup;
  if (o.description !== undefined) body.description = o.description;
  if (o.priority !== undefined) body.priority = integer('priority', o.priority);
  if (o.nice !== undefined) body.nice = integer('nice', o.nice);
  if (o.wallTime !== undefined) body.wallTime = o.wallTime;
  if (o.cpuTime !== undefined) body.cpuTime = o.cpuTime === 'none' ? null : o.cpuTime;
  if (o.defaultTime !== undefined) body.defaultTime = o.defaultTime;
  if (o.defaultMem !== undefined) body.defaultMem = o.defaultMem;
  if (o.maxMem !== undefined) body.maxMem = o.maxMem;
  if (o.maxCpus !== undefined) body.maxCpus = integer('max-cpus', o.maxCpus);
  if (o.maxGpus !== undefined) body.maxGpus = integer('max-gpus', o.maxGpus);
  if (o.maxRunningPerUser !== undefined) body.maxRunningPerUser = limit('max-running-per-user', o.maxRunningPerUser);
  if (o.maxRunningPerSubgroup !== undefined) body.maxRunningPerSubgroup = limit('max-running-per-subgroup', o.maxRunningPerSubgroup);
  if (o.maxRunningPerHost !== undefined) body.maxRunningPerHost = limit('max-running-per-host', o.maxRunningPerHost);
  if (o.allowWorkgroups !== undefined) body.allowedWorkgroups = names(o.allowWorkgroups);
  if (o.allowSubgroups !== undefined) body.allowedSubgroups = names(o.allowSubgroups);
  if (o.fairShare !== undefined) body.fairShare = o.fairShare;
  if (o.enable && o.disable) throw invalidInput(t('batch.input.give-enable-or-disable-not'));
  if (o.enable) body.enabled = true;
  if (o.disable) body.enabled = false;
  return body;
}

function printQueues(out: ReturnType<typeof outputOf>, queues: Queue[]): void {
  out.table(
    [t('col.queue'), t('col.prio'), t('col.nice'), t('col.wall'), t('col.cpu-time'), t('col.def-mem'), t('col.max-mem'), t('col.cpus'), t('col.gpus'), t('col.run-user'), t('col.workgroup'), t('col.state'), t('col.description')],
    queues.map((q) => [
      q.name,
      q.priority,
      q.nice,
      formatDuration(q.wallTimeLimitMs),
      q.cpuTimeLimitMs === null ? '-' : formatDuration(q.cpuTimeLimitMs),
      formatSize(q.defaultMemBytes),
      formatSize(q.maxMemBytes),
      q.maxCpus,
      q.maxGpus,
      q.maxRunningPerUser ?? '-',
      q.workgroup ?? '(all)',
      q.enabled ? 'open' : pc.yellow('closed'),
      q.description,
    ]),
    t('batch.empty.queues'),
  );
}

export function registerQueueCommands(program: Command, admin: Command): void {
  program
    .command('queues')
    .description(t('batch.queues'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const queues = await clientOf(command).request<Queue[]>('GET', '/api/queues');
      out.result(queues, () => printQueues(out, queues));
    });

  const queue = admin.command('queue').description(t('batch.queue'));
  queue
    .command('list')
    .alias('ls')
    .description(t('batch.queue.list'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const queues = await clientOf(command).request<Queue[]>('GET', '/api/queues');
      out.result(queues, () => printQueues(out, queues));
    });
  queueOptions(queue.command('add').description(t('batch.queue.add')).argument('<name>'))
    .addHelpText('after', examples('keisan admin queue add gpu --max-gpus 8 --wall-time 2d --priority 50', 'keisan admin queue add belle-long --workgroup belle --wall-time 3d'))
    .action(async (...args: unknown[]) => {
      const [name, options, command] = args as [string, Record<string, unknown>, CommandUnknownOpts];
      const out = outputOf(command);
      const created = await clientOf(command).request<Queue>('POST', '/api/queues', { name, ...queueBody(options) });
      out.result(created, () => out.line(t('batch.msg.added-queue-priority', { name: created.name, wallTimeLimitMs: formatDuration(created.wallTimeLimitMs), priority: created.priority })));
    });
  queueOptions(queue.command('set').description(t('batch.queue.set')).argument('<name>'))
    .addHelpText('after', examples('keisan admin queue set short --max-running-per-user 50', 'keisan admin queue set huge --disable'))
    .action(async (...args: unknown[]) => {
      const [name, options, command] = args as [string, Record<string, unknown>, CommandUnknownOpts];
      const out = outputOf(command);
      const body = queueBody(options);
      if (Object.keys(body).length === 0) throw invalidInput(t('batch.input.nothing-to-change-see-keisan'));
      const changed = await clientOf(command).request<Queue>('PATCH', `/api/queues/${encodeURIComponent(name)}`, body);
      out.result(changed, () => printQueues(out, [changed]));
    });
  queue
    .command('rm')
    .description(t('batch.queue.rm'))
    .argument('<name>')
    .option('-y, --yes', t('batch.queue.rm.opt.yes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      if (!options.yes) throw invalidInput(t('batch.input.removing-queue-needs-yes', { name }));
      await clientOf(command).request('DELETE', `/api/queues/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(t('batch.msg.removed-queue', { name })));
    });
}

export function registerBatchCommands(program: Command): void {
  program
    .command('submit')
    .description(t('batch.submit'))
    .argument('<script>', t('batch.submit.arg.script'))
    .argument('[args...]', t('batch.submit.arg.args'))
    .option('-q, --queue <queue>', t('batch.submit.opt.queue'))
    .option('-c, --cpus <n>', t('batch.submit.opt.cpus'))
    .option('-m, --mem <size>', t('batch.submit.opt.mem'))
    .option('-g, --gpus <[type:]n>', t('batch.submit.opt.gpus'))
    .option('-t, --time <limit>', t('batch.submit.opt.time'))
    .option('-J, --name <name>', t('batch.submit.opt.name'))
    .option('-a, --array <spec>', t('batch.submit.opt.array'))
    .option('--after <job[:ok|:any|:notok]>', t('batch.submit.opt.after'), collect)
    .option('-o, --output <file>', t('batch.submit.opt.output'))
    .option('-e, --error <file>', t('batch.submit.opt.error'))
    .option('-D, --chdir <dir>', t('batch.submit.opt.chdir'))
    .option('--env <KEY=VALUE>', t('batch.submit.opt.env'), collect)
    .option('--mail <events>', t('batch.submit.opt.mail'))
    .option('--mail-user <address>', t('batch.submit.opt.mail-user'))
    .option('--begin <time>', t('batch.submit.opt.begin'))
    .option('-H, --hold', t('batch.submit.opt.hold'))
    .option('-W, --wait', t('batch.submit.opt.wait'))
    .addHelpText(
      'after',
      examples(
        'keisan submit train.sh',
        'keisan submit --gpus 1 --mem 32G --time 2-00:00:00 train.sh --epochs 10',
        'keisan submit --array 1-100%10 --output "logs/%A_%a.out" sweep.sh',
        'keisan submit --after 1234:ok analyse.sh',
        'echo "hostname" | keisan submit --wait -',
      ),
    )
    .action(async (script, args, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      let text: string;
      let scriptPath: string | undefined;
      if (script === '-') {
        text = await readStdin();
      } else {
        scriptPath = path.resolve(script);
        try {
          text = readFileSync(scriptPath, 'utf8');
        } catch (error) {
          throw invalidInput(`cannot read the job script ${script}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        }
      }
      const env: Record<string, string> = {};
      for (const pair of options.env ?? []) {
        const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
        if (!match) throw invalidInput(t('batch.input.env-write-it-as-name', { pair }));
        env[match[1]!] = match[2]!;
      }
      const body: SubmitInput = {
        script: text,
        ...(scriptPath ? { scriptPath } : {}),
        args,
        submitDir: process.cwd(),
        env,
        options: {
          queue: options.queue,
          cpus: options.cpus,
          mem: options.mem,
          gpus: options.gpus,
          time: options.time,
          name: options.name,
          array: options.array,
          after: options.after,
          output: options.output,
          error: options.error,
          chdir: options.chdir ? path.resolve(options.chdir) : undefined,
          mail: options.mail,
          mailUser: options.mailUser,
          begin: options.begin,
          hold: options.hold,
        },
      };
      const result = await client.request<SubmitResult>('POST', '/api/jobs', body);
      if (!out.json) {
        for (const warning of result.warnings) process.stderr.write(`${pc.yellow('warning:')} ${warning}\n`);
        if (result.arrayJobId !== null) out.line(t('batch.msg.submitted-array-job-tasks-to', { arrayJobId: result.arrayJobId, jobs: result.jobs.length, queue: result.queue }));
        else out.line(t('batch.msg.submitted-job-to-queue', { jobs: result.jobs[0], queue: result.queue }));
      }
      if (!options.wait) {
        if (out.json) out.result(result, () => undefined);
        return;
      }
      const ended = await waitForEnd(client, result.jobs, (job) => {
        if (!out.json) out.line(`${t('batch.msg.job-state', { job: jobLabel(job), state: job.state })}${job.exitCode !== null ? t('batch.msg.exit-code', { code: job.exitCode }) : ''}${job.reason && job.state !== 'completed' ? `: ${job.reason}` : ''}`);
      });
      out.result({ ...result, ended }, () => undefined);
      const worst = ended.find((job) => job.state !== 'completed');
      if (worst) process.exitCode = worst.exitCode && worst.exitCode > 0 && worst.exitCode < 256 ? worst.exitCode : EXIT_FAILED;
    });

  program
    .command('jobs')
    .description(t('batch.jobs'))
    .option('-A, --all', t('batch.jobs.opt.all'))
    .option('-u, --user <user>', t('batch.jobs.opt.user'))
    .option('-s, --state <states>', t('batch.jobs.opt.state'))
    .option('-q, --queue <queue>', t('batch.jobs.opt.queue'))
    .option('-n, --limit <n>', t('batch.jobs.opt.limit'), '200')
    .addHelpText('after', examples('keisan jobs', 'keisan jobs --state pending', 'keisan jobs --all --queue short --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const jobs = await clientOf(command).request<Job[]>('GET', '/api/jobs', undefined, {
        all: options.all ? 'true' : undefined,
        user: options.user,
        state: options.state,
        queue: options.queue,
        limit: options.limit,
      });
      const now = Date.now();
      // Jobs run through SLURM: its job id beside Keisan's (what squeue and sacct show).
      const slurm = jobs.some((j) => j.externalId);
      out.result(jobs, () =>
        out.table(
          [t('col.jobid'), ...(slurm ? [t('col.slurm-id')] : []), t('col.name'), t('col.user'), t('col.queue'), t('col.state'), t('col.cpus'), t('col.mem'), t('col.gpus'), t('col.time'), t('col.limit'), t('col.submitted'), t('col.node-reason')],
          jobs.map((job) => [
            jobLabel(job),
            ...(slurm ? [job.externalId ?? '-'] : []),
            job.name.length > 24 ? `${job.name.slice(0, 23)}…` : job.name,
            job.user,
            job.queue,
            stateText(job),
            job.cpus,
            formatSize(job.memBytes),
            job.gpus || '-',
            elapsed(job, now),
            formatDuration(job.timeLimitMs),
            formatTime(job.submittedAt),
            job.state === 'running' ? job.node : job.state === 'pending' ? (job.held ? 'held' : 'see keisan why') : job.exitCode !== null ? `exit ${job.exitCode}` : (job.reason ?? ''),
          ]),
          t('batch.empty.jobs'),
        ),
      );
    });

  program
    .command('job')
    .description(t('batch.job'))
    .argument('<id>', t('batch.job.arg.id'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      const [jobId] = parseJobIds([id]);
      const job = await clientOf(command).request<Job>('GET', `/api/jobs/${jobId}`);
      out.result(job, () => {
        out.fields([
          [t('field.job'), `${jobLabel(job)} (${job.name})`],
          [t('field.user'), `${job.user} (subgroup ${job.subgroup}, workgroup ${job.workgroup})`],
          [t('field.queue'), job.queue],
          [t('field.state'), `${job.state}${job.held ? ' (held)' : ''}`],
          [t('field.slurm-job'), job.externalId],
          [t('field.request'), `${job.cpus} CPU, ${formatSize(job.memBytes)}${job.gpus ? `, ${job.gpus} GPU${job.gpuType ? ` (${job.gpuType})` : ''}` : ''}, ${formatDuration(job.timeLimitMs)}`],
          [t('field.dependencies'), job.dependencies.map((d) => `${d.jobId}:${d.type}`).join(', ')],
          [t('field.submitted'), formatTime(job.submittedAt)],
          [t('field.started'), formatTime(job.startedAt)],
          [t('field.ended'), formatTime(job.endedAt)],
          [t('field.node'), job.node ? `${job.node}${job.gpuIndices.length ? ` (GPU ${job.gpuIndices.join(',')})` : ''}` : null],
          [t('field.exit'), job.exitCode !== null ? `code ${job.exitCode}` : job.exitSignal ? `signal ${job.exitSignal}` : null],
          [t('field.reason'), job.reason],
          [t('field.cpu-time'), job.cpuSeconds !== null ? formatDuration(job.cpuSeconds * 1000) : null],
          [t('field.max-memory'), job.maxRssBytes !== null ? formatSize(job.maxRssBytes) : null],
          [t('field.gpu-time'), job.gpuSeconds ? formatDuration(job.gpuSeconds * 1000) : null],
          [t('field.directory'), job.chdir],
          [t('field.output'), job.output],
          [t('field.error'), job.error === job.output ? '(with the output)' : job.error],
        ]);
        out.line();
        out.line(pc.bold(t('batch.msg.history')));
        for (const t of job.transitions) out.line(`  ${formatTime(t.at)}  ${t.state}`);
      });
    });

  program
    .command('cancel')
    .description(t('batch.cancel'))
    .argument('[ids...]', t('batch.cancel.arg.ids'))
    .option('-u, --user <user>', t('batch.cancel.opt.user'))
    .addHelpText('after', examples('keisan cancel 1234', 'keisan cancel 1234 1240 1241', 'keisan cancel 5000   # an array: all its tasks', 'keisan cancel --user alice'))
    .action(async (ids, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      if ((ids.length > 0) === (options.user !== undefined)) throw invalidInput(t('batch.input.name-the-jobs-to-cancel'));
      const body = options.user !== undefined ? { user: options.user } : { ids: parseJobIds(ids) };
      const result = await client.request<{ cancelled: number[]; skipped: Array<{ id: number; state: string }> }>('POST', '/api/jobs/cancel', body);
      // Nothing cancelled because every job named had ended: an error, as for one job before.
      if (result.cancelled.length === 0 && result.skipped.length > 0) {
        throw conflict(result.skipped.map((s) => `job ${s.id} already ended (${s.state}): nothing to cancel`).join('; '));
      }
      out.result(result, () => {
        const n = result.cancelled.length;
        if (n === 1) out.line(t('batch.msg.job-cancelled', { cancelled: result.cancelled[0] }));
        else if (n > 1) out.line(t('batch.msg.jobs-cancelled', { n, cancelled: compactIds(result.cancelled) }));
        else if (result.skipped.length === 0) out.line(t('batch.msg.nothing-to-cancel-no-pending'));
        for (const s of result.skipped) out.line(t('batch.msg.job-already-ended-nothing-to', { id: s.id, state: s.state }));
      });
    });

  for (const [name, verb, route, done] of [
    ['hold', 'batch.hold', 'hold', 'batch.msg.job-held'],
  ] as const) {
    program
      .command(name)
      .description(t(verb))
      .argument('<ids...>', t('batch.cancel.arg.ids2'))
      .action(async (ids, _options, command) => {
        const out = outputOf(command);
        const client = clientOf(command);
        const results: Job[] = [];
        for (const id of parseJobIds(ids)) results.push(await client.request<Job>('POST', `/api/jobs/${id}/${route}`));
        out.result(results, () => results.forEach((job) => out.line(t(done, { job: jobLabel(job) }))));
      });
  }

  // Jobs are numbers and devices names that start with a letter, so one verb serves both.
  program
    .command('release')
    .description(t('batch.release'))
    .argument('<targets...>', t('batch.release.arg.targets'))
    .addHelpText('after', examples('keisan release 1234', 'keisan release tape0'))
    .action(async (targets, _options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const results: unknown[] = [];
      for (const target of targets) {
        if (/^\d+$/.test(target)) {
          const job = await client.request<Job>('POST', `/api/jobs/${target}/release`);
          results.push(job);
          out.done(t('batch.msg.job-released', { job: jobLabel(job) }));
        } else {
          const device = await releaseDevice(target, command);
          results.push(device);
          out.done(t('batch.msg.released-it-is-free', { name: device.name }));
        }
      }
      if (out.json) out.result(results, () => undefined);
    });

  program
    .command('why')
    .description(t('batch.why'))
    .argument('<id>', t('batch.why.arg.id'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      const [jobId] = parseJobIds([id]);
      const answer = await clientOf(command).request<{ text: string }>('GET', `/api/jobs/${jobId}/why`);
      out.result(answer, () => out.line(answer.text));
    });

  program
    .command('out')
    .description(t('batch.out'))
    .argument('<id>', t('batch.out.arg.id'))
    .option('-e, --error', t('batch.out.opt.error'))
    .option('-f, --follow', t('batch.out.opt.follow'))
    .action(async (id, options, command) => {
      const client = clientOf(command);
      const [jobId] = parseJobIds([id]);
      const stream = options.error ? 'error' : 'output';
      let offset = 0;
      for (;;) {
        const chunk = await client.request<{ text: string; offset: number; done: boolean; size: number }>('GET', `/api/jobs/${jobId}/output`, undefined, { stream, offset });
        process.stdout.write(chunk.text);
        offset = chunk.offset;
        if (!options.follow || (chunk.done && offset >= chunk.size)) break;
        if (chunk.offset >= chunk.size) await new Promise((resolve) => setTimeout(resolve, 500));
      }
    });

  program
    .command('usage')
    .description(t('batch.usage'))
    .option('-b, --by <what>', t('batch.usage.opt.by'), 'user')
    .option('--from <when>', t('batch.usage.opt.from'))
    .option('--to <when>', t('batch.usage.opt.to'))
    .addHelpText('after', examples('keisan usage', 'keisan usage --by subgroup --from 2026-11-01 --to 2026-12-01'))
    .action(async (options, command) => {
      const out = outputOf(command);
      if (!['user', 'subgroup', 'workgroup'].includes(options.by)) throw invalidInput(t('batch.input.by-use-user-subgroup-or', { by: options.by }));
      const rows = await clientOf(command).request<{ key: string; jobs: number; failed: number; wallHours: number; coreHours: number; cpuHours: number; gpuHours: number }[]>(
        'GET',
        '/api/usage',
        undefined,
        { by: options.by, from: options.from, to: options.to },
      );
      const h = (n: number) => n.toFixed(n < 10 ? 2 : 1);
      out.result(rows, () =>
        out.table([options.by.toUpperCase(), t('col.jobs'), t('col.not-ok'), t('col.wall-h'), t('col.core-h'), t('col.cpu-h'), t('col.gpu-h')], rows.map((r) => [r.key, r.jobs, r.failed, h(r.wallHours), h(r.coreHours), h(r.cpuHours), h(r.gpuHours)]), t('batch.empty.jobs-ended-in-that')),
      );
    });

  program
    .command('notifications')
    .description(t('batch.notifications'))
    .option('--unread', t('batch.notifications.opt.unread'))
    .option('--mark-read', t('batch.notifications.opt.mark-read'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const rows = await client.request<{ id: number; at: string; title: string; body: string; readAt: string | null }[]>('GET', '/api/notifications', undefined, { unread: options.unread ? 'true' : undefined });
      out.result(rows, () => out.table([t('col.time'), '', t('col.what'), t('col.detail')], rows.map((n) => [formatTime(n.at), n.readAt ? '' : pc.bold('new'), n.title, n.body]), t('batch.empty.notifications')));
      if (options.markRead) await client.request('POST', '/api/notifications/read', {});
    });
}
