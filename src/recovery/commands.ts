import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, globalsOf, outputOf } from '../cli/context.ts';
import { formatTime } from '../cli/output.ts';
import { FACILITY_FILE, loadFacilityFile, resolveDataDir } from '../lib/config.ts';
import { KeisanError } from '../lib/errors.ts';
import { daemonConnection } from '../ops/daemon-options.ts';
import { victimName, type PendingDecision, type RecoveryEvent } from './events-model.ts';

function colourOutcome(event: RecoveryEvent): string {
  if (event.outcome === 'failed') return pc.red(event.outcome);
  if (event.outcome === 'observed') return pc.dim(event.outcome);
  return event.outcome;
}

const target = (event: RecoveryEvent) => (event.jobId !== null || event.slurmJobId != null ? victimName(event) : event.pid !== null ? `pid ${event.pid}` : 'node');
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
          ...(e.slurmJobId != null ? [['SLURM job', e.slurmJobId] as [string, number]] : []),
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
          ...(e.ask
            ? ([
                ['ask key', e.ask.key],
                ['proposed', e.ask.proposed],
                ['deadline', e.ask.deadline],
                ['decision', e.ask.decision === null ? 'pending (keisan recovery pending)' : `${e.ask.decision} by ${e.ask.decidedBy ?? '?'} at ${e.ask.decidedAt ?? '?'}`],
                ['reason', e.ask.reason],
              ] as Array<[string, string | null]>)
            : []),
          ['received', e.receivedAt],
        ]);
        const metrics = Object.entries(e.metrics);
        if (metrics.length > 0) {
          out.line();
          out.table(['METRIC', 'VALUE'], metrics.map(([key, value]) => [key, value]));
        }
      });
    });

  recovery
    .command('pending')
    .description('operators: victims a watchdog froze in ask mode, waiting for approve or deny (oldest first)')
    .addHelpText('after', examples('keisan recovery pending', 'keisan recovery pending --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<PendingDecision[]>('GET', '/api/recovery/pending');
      const now = Date.now();
      out.result(rows, () =>
        out.table(
          ['ID', 'HOST', 'JOB/PID', 'USER', 'RULE', 'FROZEN FOR', 'DEADLINE', 'PROPOSED'],
          rows.map((p) => [p.id, p.host, p.jobId !== null || p.slurmJobId != null ? victimName(p) : `pid ${p.pid ?? '?'}`, p.user, p.rule, since(now - Date.parse(p.frozenAt)), formatTime(p.deadline), p.proposed]),
          '(nothing waits for a decision)',
        ),
      );
    });
  const decide = (verdict: 'approve' | 'deny') =>
    async (id: string, options: { reason?: string }, command: Command<[string], { reason?: string }>) => {
      const out = outputOf(command);
      if (!/^\d+$/.test(id)) throw new KeisanError('INVALID_INPUT', `'${id}' is not a recovery event id: see keisan recovery pending`);
      const d = await clientOf(command).request<PendingDecision>('POST', `/api/recovery/events/${id}/${verdict}`, verdict === 'deny' ? (options.reason ? { reason: options.reason } : {}) : undefined);
      const what = d.jobId !== null || d.slurmJobId != null ? victimName(d) : `pid ${d.pid ?? '?'}`;
      out.result(d, () =>
        out.line(verdict === 'approve' ? `approved: ${d.host} will ${d.proposed} ${what} at its next poll (a few seconds)` : `denied: ${d.host} will thaw ${what} and leave it alone`),
      );
    };
  recovery
    .command('approve')
    .description('operators: let the watchdog do what it proposed for a frozen victim (keisan recovery pending)')
    .argument('<id>', 'the pending event (keisan recovery pending)')
    .addHelpText('after', examples('keisan recovery approve 17'))
    .action(decide('approve'));
  recovery
    .command('deny')
    .description('operators: thaw a frozen victim and leave it alone (keisan recovery pending)')
    .argument('<id>', 'the pending event (keisan recovery pending)')
    .option('--reason <text>', 'why (kept in the audit log and the event)')
    .addHelpText('after', examples('keisan recovery deny 17 --reason "expected: the run peaks at the end"'))
    .action(decide('deny'));
}

function since(msAgo: number): string {
  const s = Math.max(0, Math.round(msAgo / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}
