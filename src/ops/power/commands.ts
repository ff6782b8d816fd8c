import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { formatDuration } from '../../lib/units.ts';
import type { PlanView, PowerStatusView } from './model.ts';
import { t } from '../../lib/i18n/index.ts';

/** `keisan power status|test`: thin — call /api/ops/power, print. */

const utc = (iso: string | null) => (iso === null ? null : `${iso.slice(0, 19).replace('T', ' ')} UTC`);

export function registerPowerCommands(program: Command): void {
  const power = program.command('power').description(t('power.power'));

  power
    .command('status')
    .description(t('power.power.status'))
    .addHelpText('after', examples('keisan power status', 'keisan power status --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const s = await clientOf(command).request<PowerStatusView>('GET', '/api/ops/power');
      out.result(s, () => {
        const phase = s.phase === 'online' ? pc.green('on line') : s.phase === 'on-battery' ? pc.yellow('ON BATTERY') : pc.red('SHUTTING DOWN');
        out.fields([
          [t('field.ups'), s.ups ?? 'not configured'],
          [t('field.monitoring'), !s.configured ? 'off (no power: section)' : s.enabled ? `on, every ${formatDuration(s.pollIntervalMs ?? 0)}` : 'off (power.enabled: false)'],
          [t('field.reachable'), s.reachable === null ? null : s.reachable ? 'yes' : pc.red(`no — ${s.lastError?.message ?? ''}`)],
          [t('field.ups-status'), s.flags.length ? `${s.flags.join(' ')} (${s.statusText})` : null],
          [t('field.battery'), [s.battery.charge !== null ? `${s.battery.charge} %` : null, s.battery.runtimeSeconds !== null ? `${formatDuration(s.battery.runtimeSeconds * 1000)} runtime` : null].filter(Boolean).join(', ') || null],
          [t('field.state'), s.configured && s.enabled ? phase : null],
          [t('field.on-battery-since'), s.onBatterySince ? `${utc(s.onBatterySince)} (${formatDuration(s.onBatteryMs ?? 0)})` : null],
          [t('field.grace-period'), s.gracePeriodMs !== null ? formatDuration(s.gracePeriodMs) : null],
          [t('field.shutdown-at'), utc(s.shutdownDueAt)],
          [t('field.incident'), s.incidentId !== null ? `#${s.incidentId} (keisan incident show ${s.incidentId})` : null],
          [t('field.dispatching'), s.dispatchPaused ? pc.red(`paused: ${s.dispatchPaused}`) : 'jobs start as scheduled'],
          [t('field.next'), s.next],
        ]);
        if (s.shutdown) {
          out.line('');
          out.line(pc.bold(`Shutdown plan started ${utc(s.shutdown.startedAt)}: ${s.shutdown.reason}${s.shutdown.done ? '' : ' (running)'}`));
          for (const step of s.shutdown.steps) out.line(`  ${step.step}. ${step.title}: ${step.ok ? pc.green('done') : pc.red('FAILED')} — ${step.message}`);
        }
      });
    });

  power
    .command('test')
    .description(t('power.power.test'))
    .addHelpText('after', examples('keisan power test', 'keisan power test --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const plan = await clientOf(command).request<PlanView>('GET', '/api/ops/power/plan');
      out.result(plan, () => {
        out.line(pc.bold(t('power.msg.dry-run-on-a-power', { ups: plan.ups })));
        for (const step of plan.steps) out.line(`  ${step.step}. ${step.title}${step.skip ? pc.dim(' (skipped)') : ''}\n     ${step.detail}`);
        out.line(pc.dim(t('power.msg.nothing-was-done')));
      });
    });
}
