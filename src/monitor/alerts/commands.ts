import { Option, type Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { formatTime } from '../../cli/output.ts';
import { KeisanError } from '../../lib/errors.ts';
import type { AlertView, NotificationEntry, RuleView, Silence } from './model.ts';
import { t } from '../../lib/i18n/index.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

function colourState(alert: AlertView): string {
  const muted = alert.silencedBy.length > 0 || alert.inhibitedBy.length > 0;
  if (alert.state === 'firing') return muted ? pc.yellow('firing (muted)') : pc.red('firing');
  if (alert.state === 'pending') return pc.yellow('pending');
  return pc.green('resolved');
}

export function registerAlertCommands(program: Command): void {
  const alerts = program
    .command('alerts')
    .description(t('alerts.alerts'))
    .option('--all', t('alerts.alerts.opt.all'))
    .addOption(new Option('--state <state>', t('alerts.alerts.opt.state')).choices(['active', 'firing', 'pending', 'resolved', 'all']))
    .option('--host <name>', t('alerts.alerts.opt.host'))
    .option('--limit <n>', t('alerts.alerts.opt.limit'), '200')
    .addHelpText('after', examples('keisan alerts', 'keisan alerts --all', 'keisan alerts --host node7', 'keisan alerts rules', "keisan alerts check-rule 'node_load1 > 2 * count without(cpu, mode) (node_cpu_seconds_total{mode=\"idle\"})'"))
    .action(async (options, command) => {
      const out = outputOf(command);
      const state = options.state ?? (options.all ? 'all' : 'active');
      const rows = await clientOf(command).request<AlertView[]>('GET', '/api/monitor/alerts', undefined, { state, host: options.host, limit: options.limit });
      out.result(rows, () =>
        out.table(
          [t('col.state'), t('col.severity'), t('col.alert'), t('col.host'), t('col.summary'), t('col.since'), t('col.silenced-by')],
          rows.map((a) => [
            colourState(a),
            a.severity === 'critical' ? pc.red(a.severity) : a.severity,
            a.alertname,
            a.labels.host ?? a.labels.instance ?? '-',
            a.summary,
            formatTime(a.state === 'resolved' ? a.resolvedAt : (a.firedAt ?? a.startedAt)),
            [...a.silencedBy.map((id) => `silence ${id}`), ...a.inhibitedBy].join(', ') || '-',
          ]),
          state === 'active' ? t('alerts.empty.alerts') : '(none)',
        ),
      );
    });

  alerts
    .command('rules')
    .description(t('alerts.alerts.rules'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rules = await clientOf(command).request<RuleView[]>('GET', '/api/monitor/rules');
      out.result(rules, () =>
        out.table(
          [t('col.rule'), t('col.severity'), t('col.for'), t('col.active'), t('col.origin'), t('col.expr'), t('col.error')],
          rules.map((r) => [r.name, r.severity, r.for, r.health.active, r.origin, r.expr.length > 80 ? `${r.expr.slice(0, 77)}...` : r.expr, r.health.lastError ?? '-']),
        ),
      );
    });

  alerts
    .command('check-rule')
    .description(t('alerts.alerts.check-rule'))
    .argument('<expr>', t('alerts.alerts.check-rule.arg.expr'))
    .option('--eval', t('alerts.alerts.check-rule.opt.eval'))
    .action(async (expr, options, command) => {
      const out = outputOf(command);
      try {
        type Checked = { ok: true; type: string; result?: { labels: Record<string, string>; value: number | null }[]; total?: number };
        const result = await clientOf(command).request<Checked>('POST', '/api/monitor/alerts/validate', { expr, evaluate: options.eval === true });
        out.result(result, () => {
          out.line(`ok: ${result.type === 'vector' ? 'an instant vector' : 'a number'} — a valid alert expression`);
          if (!result.result) return;
          out.line(result.total === 0 ? 'Now it returns nothing: a rule with it would not alert.' : `Now it returns ${result.total} series${result.total! > result.result.length ? ` (first ${result.result.length} shown)` : ''}: a rule with it would alert on each.`);
          const series = (labels: Record<string, string>) =>
            `${labels.__name__ ?? ''}{${Object.keys(labels).filter((k) => k !== '__name__').sort().map((k) => `${k}="${labels[k]}"`).join(', ')}}`;
          if (result.result.length > 0) out.table([t('col.series'), t('col.value')], result.result.map((s) => [series(s.labels), s.value]));
        });
      } catch (error) {
        if (error instanceof KeisanError && typeof error.details?.pointer === 'string' && !out.json) {
          throw new KeisanError(error.code, `${error.message}\n${error.details.pointer}`);
        }
        throw error;
      }
    });

  alerts
    .command('notifications')
    .description(t('alerts.alerts.notifications'))
    .option('--limit <n>', t('alerts.alerts.notifications.opt.limit'), '50')
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<NotificationEntry[]>('GET', '/api/monitor/alerts/notifications', undefined, { limit: options.limit });
      out.result(rows, () =>
        out.table(
          [t('col.id'), t('col.at'), t('col.channel'), t('col.to'), t('col.status'), t('col.tries'), t('col.subject'), t('col.error')],
          rows.map((n) => [n.id, formatTime(n.at), n.channel, n.target, n.status === 'failed' ? pc.red(n.status) : n.status, n.attempts, n.subject, n.error]),
        ),
      );
    });

  const silence = program.command('silence').description(t('alerts.silence'));
  silence
    .command('add')
    .description(t('alerts.silence.add'))
    .requiredOption('--match <matcher>', t('alerts.silence.add.opt.match'), collect)
    .option('--for <duration>', t('alerts.silence.add.opt.for'), '2h')
    .option('--until <time>', t('alerts.silence.add.opt.until'))
    .requiredOption('--comment <text>', t('alerts.silence.add.opt.comment'))
    .addHelpText('after', examples('keisan silence add --match host=node1 --for 2h --comment "disk swap"', 'keisan silence add --match alertname=CheckCritical --match check=process:slurmd --for 1d --comment "slurm upgrade"'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const body = { matchers: options.match, comment: options.comment, ...(options.until ? { endsAt: options.until } : { for: options.for }) };
      const created = await clientOf(command).request<Silence>('POST', '/api/monitor/silences', body);
      out.result(created, () => out.line(`Silence ${created.id} until ${formatTime(created.endsAt)}: ${created.matchers.map((m) => `${m.name}${m.op}${m.value}`).join(', ')}`));
    });
  silence
    .command('rm')
    .description(t('alerts.silence.rm'))
    .argument('<id>', t('alerts.silence.rm.arg.id'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      if (!/^\d+$/.test(id)) throw new KeisanError('INVALID_INPUT', `'${id}' is not a silence id: see keisan silence list`);
      const ended = await clientOf(command).request<Silence>('DELETE', `/api/monitor/silences/${id}`);
      out.result(ended, () => out.line(t('alerts.msg.silence-ended', { id: ended.id })));
    });
  silence
    .command('list')
    .description(t('alerts.silence.list'))
    .option('--all', t('alerts.silence.list.opt.all'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Silence[]>('GET', '/api/monitor/silences', undefined, { all: options.all ? 'true' : undefined });
      out.result(rows, () =>
        out.table(
          [t('col.id'), t('col.state'), t('col.matchers'), t('col.starts'), t('col.ends'), t('col.by'), t('col.comment')],
          rows.map((s) => [s.id, s.state, s.matchers.map((m) => `${m.name}${m.op}${m.value}`).join(', '), formatTime(s.startsAt), formatTime(s.endsAt), s.createdBy, s.comment]),
          t('alerts.empty.silences'),
        ),
      );
    });
}
