import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, globalsOf, outputOf } from '../cli/context.ts';
import { formatTime } from '../cli/output.ts';
import { FACILITY_FILE, loadFacilityFile, resolveDataDir } from '../lib/config.ts';
import { KeisanError } from '../lib/errors.ts';
import { daemonConnection } from '../ops/daemon-options.ts';
import type { RecoveryEvent } from './events-model.ts';

function colourOutcome(event: RecoveryEvent): string {
  if (event.outcome === 'failed') return pc.red(event.outcome);
  if (event.outcome === 'observed') return pc.dim(event.outcome);
  return event.outcome;
}

const target = (event: RecoveryEvent) => (event.jobId !== null ? `job ${event.jobId}` : event.pid !== null ? `pid ${event.pid}` : 'node');
const ms = (value: number | null | undefined) => (value === null || value === undefined ? null : `${value < 10 ? value.toFixed(2) : Math.round(value)} ms`);

export function registerRecoveryCommands(program: Command): void {
  program
    .command('watchdog')
    .description('run the recovery watchdog; one per node, started first; `keisan up` runs it for you')
    .option('--data <dir>', 'data directory holding keisan.yaml and node-secret')
    .option('--server <url>', 'the Keisan server (default: from keisan.yaml)')
    .action(async (options, command) => {
      const { runWatchdogProcess } = await import('./watchdog.ts');
      // The program's global --server takes the option wherever it is written.
      const server = options.server ?? globalsOf(command).server;
      // keisan.yaml's recovery and batch.cgroupParent settings where the data directory has one (else the defaults).
      const dataDir = resolveDataDir(options.data);
      const settings = existsSync(path.join(dataDir, FACILITY_FILE)) ? loadFacilityFile(dataDir).settings : undefined;
      await runWatchdogProcess({ ...daemonConnection({ ...options, ...(server ? { server } : {}) }), settings, dataDir });
    });

  const recovery = program.command('recovery').description("what the nodes' recovery watchdogs saw and did: events (yours; operators: all)");
  recovery
    .command('events')
    .description('recovery events, newest first: your jobs and processes (operators: every one)')
    .option('--since <when>', 'only since: a duration back from now (1h, 2d) or an ISO time', '1d')
    .option('--host <name>', 'only events of this host')
    .option('--job <id>', 'only events about this job')
    .option('--limit <n>', 'at most this many', '100')
    .addHelpText('after', examples('keisan recovery events', 'keisan recovery events --since 1h --host node7', 'keisan recovery events --job 42 --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<RecoveryEvent[]>('GET', '/api/recovery/events', undefined, { since: options.since, host: options.host, job: options.job, limit: options.limit });
      out.result(rows, () =>
        out.table(
          ['ID', 'TIME', 'HOST', 'RULE', 'JOB/PID', 'USER', 'ACTION', 'OUTCOME', 'EXPLANATION'],
          rows.map((e) => [e.id, formatTime(e.at), e.host, e.rule, target(e), e.user, e.mode === 'observe' ? `${e.action} (observe)` : e.action, colourOutcome(e), e.explanation]),
          `(no recovery events since ${options.since})`,
        ),
      );
    });
  recovery
    .command('event')
    .description('one recovery event: every field, the numbers, timings and the evidence file')
    .argument('<id>', 'the event (keisan recovery events)')
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      if (!/^\d+$/.test(id)) throw new KeisanError('INVALID_INPUT', `'${id}' is not a recovery event id: see keisan recovery events`);
      const e = await clientOf(command).request<RecoveryEvent>('GET', `/api/recovery/events/${id}`);
      out.result(e, () => {
        out.fields([
          ['event', e.id],
          ['time', e.at],
          ['host', e.host],
          ['rule', `${e.rule} (${e.severity})`],
          ['job', e.jobId],
          ['pid', e.pid],
          ['user', e.user],
          ['mode', e.mode],
          ['action', e.action],
          ['outcome', e.outcome],
          ['explanation', e.explanation],
          ['victim', e.victimExplanation],
          ['decision→write', ms(e.timings?.decisionToWriteMs)],
          ['write', ms(e.timings?.writeMs)],
          ['write→empty', ms(e.timings?.writeToEmptyMs)],
          ['evidence', e.evidencePath === null ? null : `${e.evidencePath} (on ${e.host})`],
          ['error', e.error],
          ['received', e.receivedAt],
        ]);
        const metrics = Object.entries(e.metrics);
        if (metrics.length > 0) {
          out.line();
          out.table(['METRIC', 'VALUE'], metrics.map(([key, value]) => [key, value]));
        }
      });
    });
}
