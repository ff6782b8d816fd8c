import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, globalsOf, outputOf } from '../cli/context.ts';
import { formatTime } from '../cli/output.ts';
import { daemonConnection } from '../ops/daemon-options.ts';
import type { MailTestResult } from './service.ts';
import type { OutboxEntry } from './store.ts';

export function registerMonitorCommands(program: Command, admin: Command): void {
  program
    .command('agent')
    .description('run the node agent (metrics, health checks, jobs); one per node; `keisan up` runs it for you')
    .option('--data <dir>', 'data directory holding keisan.yaml and node-secret')
    .option('--server <url>', 'the Keisan server (default: from keisan.yaml)')
    .option('--host <name>', "the node's name in reports (default: this machine's host name)")
    .option('--roles <roles>', "the node's roles for health checks, comma-separated: login, compute, storage, server (default: compute)")
    .option('--interval <duration>', "report every this long instead of the server's monitor.interval (tests; env KEISAN_AGENT_INTERVAL)")
    .option('--metrics-port <port>', "serve /metrics on this port instead of monitor.metrics.port; 'off' serves none")
    .option('--metrics-listen <address>', 'serve /metrics on this address instead of monitor.metrics.listen')
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
          throw invalidInput(`--metrics-port '${options.metricsPort}' must be a port number (0-65535) or 'off'`);
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

  const mail = admin.command('mail').description('outgoing e-mail: test the SMTP settings, see the outbox (operators)');
  mail
    .command('test')
    .description('send a test message now through the SMTP server of keisan.yaml and show its answer')
    .argument('<address>', 'where to send it')
    .addHelpText('after', examples('keisan admin mail test ops@example.org'))
    .action(async (address, _options, command) => {
      const out = outputOf(command);
      const result = await clientOf(command).request<MailTestResult>('POST', '/api/admin/mail/test', { to: address });
      out.result(result, () => {
        out.line(`Sent to ${result.to} through ${result.server}.`);
        out.fields([
          ['from', result.from],
          ['message id', result.messageId],
          ['server said', result.response],
        ]);
      });
    });

  mail
    .command('outbox')
    .description('mail waiting to go out and mail given up on (with --all: sent mail too)')
    .option('--all', 'sent mail too')
    .option('--state <states>', 'queued, failed, sent (comma-separated)')
    .option('--limit <n>', 'at most this many', '200')
    .addHelpText('after', examples('keisan admin mail outbox', 'keisan admin mail outbox --state failed'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const state = options.all ? 'all' : options.state;
      const rows = await clientOf(command).request<OutboxEntry[]>('GET', '/api/admin/mail/outbox', undefined, { state, limit: options.limit });
      const shown = (entry: OutboxEntry) =>
        entry.state === 'sent' ? pc.green('sent') : entry.state === 'failed' ? pc.red('failed') : 'queued';
      out.result(rows, () =>
        out.table(
          ['ID', 'STATE', 'CREATED', 'TO', 'SUBJECT', 'TRIES', 'NEXT TRY', 'LAST ERROR'],
          rows.map((e) => [e.id, shown(e), formatTime(e.createdAt), e.to, e.subject, e.attempts, e.state === 'queued' ? formatTime(e.nextAttemptAt) : e.state === 'sent' ? `sent ${formatTime(e.sentAt)}` : '-', e.lastError]),
          options.all ? '(the outbox is empty)' : '(nothing queued or failed: every message went out)',
        ),
      );
    });
}
