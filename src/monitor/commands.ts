import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, globalsOf, outputOf } from '../cli/context.ts';
import { formatTime } from '../cli/output.ts';
import { daemonConnection } from '../ops/daemon-options.ts';
import type { MailTestResult } from './service.ts';
import type { OutboxEntry } from './store.ts';
import { t } from '../lib/i18n/index.ts';

export function registerMonitorCommands(program: Command, admin: Command): void {
  program
    .command('agent')
    .description(t('monitor.agent'))
    .option('--data <dir>', t('monitor.agent.opt.data'))
    .option('--server <url>', t('monitor.agent.opt.server'))
    .option('--host <name>', t('monitor.agent.opt.host'))
    .option('--roles <roles>', t('monitor.agent.opt.roles'))
    .option('--interval <duration>', t('monitor.agent.opt.interval'))
    .option('--metrics-port <port>', t('monitor.agent.opt.metrics-port'))
    .option('--metrics-listen <address>', t('monitor.agent.opt.metrics-listen'))
    .action(async (options, command) => {
      const { runAgentProcess } = await import('./agent.ts');
      // The program's global --server takes the option wherever it is written.
      const server = options.server ?? globalsOf(command).server;
      const { parseDuration } = await import('../lib/units.ts');
      const { resolveDataDir } = await import('../lib/config.ts');
      const { invalidInput } = await import('../lib/errors.ts');
      let metricsPort: number | false | undefined;
      if (options.metricsPort !== undefined) {
        metricsPort = options.metricsPort === 'off' ? false : Number(options.metricsPort);
        if (metricsPort !== false && !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65535)) {
          throw invalidInput(t('monitor.input.metrics-port-must-be-a', { metricsPort: options.metricsPort }));
        }
      }
      await runAgentProcess({
        ...daemonConnection({ ...options, ...(server ? { server } : {}) }),
        dataDir: resolveDataDir(options.data),
        ...(options.host ? { host: options.host } : {}),
        ...(options.roles ? { roles: options.roles.split(',').map((r) => r.trim()).filter(Boolean) } : {}),
        ...(options.interval ? { intervalMs: Math.max(100, parseDuration(options.interval)) } : {}),
        ...(metricsPort !== undefined ? { metricsPort } : {}),
        ...(options.metricsListen ? { metricsListen: options.metricsListen } : {}),
      });
    });

  const mail = admin.command('mail').description(t('monitor.mail'));
  mail
    .command('test')
    .description(t('monitor.mail.test'))
    .argument('<address>', t('monitor.mail.test.arg.address'))
    .addHelpText('after', examples('keisan admin mail test ops@example.org'))
    .action(async (address, _options, command) => {
      const out = outputOf(command);
      const result = await clientOf(command).request<MailTestResult>('POST', '/api/admin/mail/test', { to: address });
      out.result(result, () => {
        out.line(t('monitor.msg.sent-to-through', { to: result.to, server: result.server }));
        out.fields([
          [t('field.from'), result.from],
          [t('field.message-id'), result.messageId],
          [t('field.server-said'), result.response],
        ]);
      });
    });

  mail
    .command('outbox')
    .description(t('monitor.mail.outbox'))
    .option('--all', t('monitor.mail.outbox.opt.all'))
    .option('--state <states>', t('monitor.mail.outbox.opt.state'))
    .option('--limit <n>', t('monitor.mail.outbox.opt.limit'), '200')
    .addHelpText('after', examples('keisan admin mail outbox', 'keisan admin mail outbox --state failed'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const state = options.all ? 'all' : options.state;
      const rows = await clientOf(command).request<OutboxEntry[]>('GET', '/api/admin/mail/outbox', undefined, { state, limit: options.limit });
      const shown = (entry: OutboxEntry) =>
        entry.state === 'sent' ? pc.green('sent') : entry.state === 'failed' ? pc.red('failed') : 'queued';
      out.result(rows, () =>
        out.table(
          [t('col.id'), t('col.state'), t('col.created'), t('col.to'), t('col.subject'), t('col.tries'), t('col.next-try'), t('col.last-error')],
          rows.map((e) => [e.id, shown(e), formatTime(e.createdAt), e.to, e.subject, e.attempts, e.state === 'queued' ? formatTime(e.nextAttemptAt) : e.state === 'sent' ? `sent ${formatTime(e.sentAt)}` : '-', e.lastError]),
          options.all ? '(the outbox is empty)' : '(nothing queued or failed: every message went out)',
        ),
      );
    });
}
