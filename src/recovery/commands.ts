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
import { t } from '../lib/i18n/index.ts';

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
    .description(t('recovery.watchdog'))
    .option('--data <dir>', t('recovery.watchdog.opt.data'))
    .option('--server <url>', t('recovery.watchdog.opt.server'))
    .action(async (options, command) => {
      const { runWatchdogProcess } = await import('./watchdog.ts');
      // The program's global --server takes the option wherever it is written.
      const server = options.server ?? globalsOf(command).server;
      // keisan.yaml's recovery and batch.cgroupParent settings where the data directory has one (else the defaults).
      const dataDir = resolveDataDir(options.data);
      const settings = existsSync(path.join(dataDir, FACILITY_FILE)) ? loadFacilityFile(dataDir).settings : undefined;
      await runWatchdogProcess({ ...daemonConnection({ ...options, ...(server ? { server } : {}) }), settings, dataDir });
    });

  const recovery = program.command('recovery').description(t('recovery.recovery'));
  recovery
    .command('events')
    .description(t('recovery.recovery.events'))
    .option('--since <when>', t('recovery.recovery.events.opt.since'), '1d')
    .option('--host <name>', t('recovery.recovery.events.opt.host'))
    .option('--job <id>', t('recovery.recovery.events.opt.job'))
    .option('--limit <n>', t('recovery.recovery.events.opt.limit'), '100')
    .addHelpText('after', examples('keisan recovery events', 'keisan recovery events --since 1h --host node7', 'keisan recovery events --job 42 --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<RecoveryEvent[]>('GET', '/api/recovery/events', undefined, { since: options.since, host: options.host, job: options.job, limit: options.limit });
      out.result(rows, () =>
        out.table(
          [t('col.id'), t('col.time'), t('col.host'), t('col.rule'), t('col.job-pid'), t('col.user'), t('col.action'), t('col.outcome'), t('col.explanation')],
          rows.map((e) => [e.id, formatTime(e.at), e.host, e.rule, target(e), e.user, e.mode === 'observe' ? `${e.action} (observe)` : e.action, colourOutcome(e), e.explanation]),
          t('recovery.empty.recovery-events-since-since', { since: options.since }),
        ),
      );
    });
  recovery
    .command('event')
    .description(t('recovery.recovery.event'))
    .argument('<id>', t('recovery.recovery.event.arg.id'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      if (!/^\d+$/.test(id)) throw new KeisanError('INVALID_INPUT', `'${id}' is not a recovery event id: see keisan recovery events`);
      const e = await clientOf(command).request<RecoveryEvent>('GET', `/api/recovery/events/${id}`);
      out.result(e, () => {
        out.fields([
          [t('field.event'), e.id],
          [t('field.time'), e.at],
          [t('field.host'), e.host],
          [t('field.rule'), `${e.rule} (${e.severity})`],
          [t('field.job'), e.jobId],
          ...(e.slurmJobId != null ? [[t('field.slurm-job2'), e.slurmJobId] as [string, number]] : []),
          [t('field.pid'), e.pid],
          [t('field.user'), e.user],
          [t('field.mode'), e.mode],
          [t('field.action'), e.action],
          [t('field.outcome'), e.outcome],
          [t('field.explanation'), e.explanation],
          [t('field.victim'), e.victimExplanation],
          [t('field.decision-write'), ms(e.timings?.decisionToWriteMs)],
          [t('field.write'), ms(e.timings?.writeMs)],
          [t('field.write-empty'), ms(e.timings?.writeToEmptyMs)],
          [t('field.evidence'), e.evidencePath === null ? null : `${e.evidencePath} (on ${e.host})`],
          [t('field.error'), e.error],
          ...(e.ask
            ? ([
                [t('field.ask-key'), e.ask.key],
                [t('field.proposed'), e.ask.proposed],
                [t('field.deadline'), e.ask.deadline],
                [t('field.decision'), e.ask.decision === null ? 'pending (keisan recovery pending)' : `${e.ask.decision} by ${e.ask.decidedBy ?? '?'} at ${e.ask.decidedAt ?? '?'}`],
                [t('field.reason'), e.ask.reason],
              ] as Array<[string, string | null]>)
            : []),
          [t('field.received'), e.receivedAt],
        ]);
        const metrics = Object.entries(e.metrics);
        if (metrics.length > 0) {
          out.line();
          out.table([t('col.metric'), t('col.value')], metrics.map(([key, value]) => [key, value]));
        }
      });
    });

  recovery
    .command('pending')
    .description(t('recovery.recovery.pending'))
    .addHelpText('after', examples('keisan recovery pending', 'keisan recovery pending --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<PendingDecision[]>('GET', '/api/recovery/pending');
      const now = Date.now();
      out.result(rows, () =>
        out.table(
          [t('col.id'), t('col.host'), t('col.job-pid'), t('col.user'), t('col.rule'), t('col.frozen-for'), t('col.deadline'), t('col.proposed')],
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
    .description(t('recovery.recovery.approve'))
    .argument('<id>', t('recovery.recovery.approve.arg.id'))
    .addHelpText('after', examples('keisan recovery approve 17'))
    .action(decide('approve'));
  recovery
    .command('deny')
    .description(t('recovery.recovery.deny'))
    .argument('<id>', t('recovery.recovery.deny.arg.id'))
    .option('--reason <text>', t('recovery.recovery.deny.opt.reason'))
    .addHelpText('after', examples('keisan recovery deny 17 --reason "expected: the run peaks at the end"'))
    .action(decide('deny'));
}

function since(msAgo: number): string {
  const s = Math.max(0, Math.round(msAgo / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}
