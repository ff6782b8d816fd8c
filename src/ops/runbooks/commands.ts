import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { conflict, invalidInput } from '../../lib/errors.ts';
import { opsCommand } from '../inventory/commands.ts';
import type { Runbook, RunbookGap } from './model.ts';
import { t } from '../../lib/i18n/index.ts';

const days = (value: string) => {
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1) throw invalidInput(t('runbooks.input.days-give-a-whole-number', { value }));
  return Number(value);
};

/** `keisan ops runbooks [--gaps]` and `keisan ops runbook add|show|tested NAME`. */
export function registerRunbookCommands(program: Command): void {
  const ops = opsCommand(program);

  ops
    .command('runbooks')
    .description(t('runbooks.ops.runbooks'))
    .option('-g, --gaps', t('runbooks.ops.runbooks.opt.gaps'))
    .option('-d, --days <n>', t('runbooks.ops.runbooks.opt.days'), days)
    .addHelpText('after', examples('keisan ops runbooks', 'keisan ops runbooks --gaps', 'keisan ops runbooks --gaps --days 180'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      if (options.gaps) {
        const answer = await client.request<{ days: number; gaps: RunbookGap[] }>('GET', '/api/ops/runbooks/gaps', undefined, { days: options.days });
        out.result(answer, () => {
          if (answer.gaps.length === 0) out.line(pc.green(t('runbooks.msg.every-critical-service-has-a', { days: answer.days })));
          else out.table([t('col.service'), t('col.gap'), t('col.runbooks')], answer.gaps.map((g) => [g.service, g.reason, g.runbooks.map((r) => r.name).join(',') || '-']));
        });
        if (answer.gaps.length > 0) throw conflict(`${answer.gaps.length} critical service${answer.gaps.length === 1 ? '' : 's'} without a runbook tested within ${answer.days} days (above)`);
        return;
      }
      if (options.days !== undefined) throw invalidInput(t('runbooks.input.days-goes-with-gaps'));
      const rows = await client.request<Runbook[]>('GET', '/api/ops/runbooks');
      out.result(rows, () =>
        out.table(
          [t('col.runbook'), t('col.service'), t('col.last-tested'), t('col.by'), t('col.where')],
          rows.map((r) => [r.name, r.service, r.lastTestedAt?.slice(0, 10) ?? pc.yellow('never'), r.testedBy, r.location ?? '(text)']),
          t('runbooks.empty.runbooks'),
        ),
      );
    });

  const runbook = ops.command('runbook').description(t('runbooks.ops.runbook'));
  runbook
    .command('add')
    .description(t('runbooks.runbook.add'))
    .argument('<name>', t('runbooks.runbook.add.arg.name'))
    .requiredOption('-s, --service <service>', t('runbooks.runbook.add.opt.service'))
    .option('-f, --file <file>', t('runbooks.runbook.add.opt.file'))
    .option('-b, --body <text>', t('runbooks.runbook.add.opt.body'))
    .option('-l, --location <path-or-url>', t('runbooks.runbook.add.opt.location'))
    .option('--tested <time>', t('runbooks.runbook.add.opt.tested'))
    .addHelpText('after', examples('keisan ops runbook add management-recovery --service management --file runbooks/management.md', 'keisan ops runbook add auth-recovery --service authentication --location https://wiki.example.org/auth-recovery'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      if (options.file !== undefined && options.body !== undefined) throw invalidInput(t('runbooks.input.give-the-procedure-with-file'));
      let body = options.body ?? '';
      if (options.file !== undefined) {
        try {
          body = await readFile(options.file, 'utf8');
        } catch (error) {
          throw invalidInput(`--file ${options.file}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      const added = await clientOf(command).request<Runbook>('POST', '/api/ops/runbooks', {
        name,
        service: options.service,
        body,
        ...(options.location !== undefined ? { location: options.location } : {}),
        ...(options.tested !== undefined ? { testedAt: options.tested } : {}),
      });
      out.result(added, () => out.line(`Added runbook ${added.name} for ${added.service}${added.lastTestedAt ? `, last tested ${added.lastTestedAt}` : ' (never tested: record a test with keisan ops runbook tested ' + added.name + ')'}.`));
    });
  runbook
    .command('show')
    .description(t('runbooks.runbook.show'))
    .argument('<name>', t('runbooks.runbook.show.arg.name'))
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const r = await clientOf(command).request<Runbook>('GET', `/api/ops/runbooks/${encodeURIComponent(name)}`);
      out.result(r, () => {
        out.fields([
          [t('field.runbook'), r.name],
          [t('field.service'), r.service],
          [t('field.last-tested'), r.lastTestedAt ? `${r.lastTestedAt} by ${r.testedBy ?? '?'}` : 'never'],
          [t('field.location'), r.location],
          [t('field.added'), `${r.createdAt} by ${r.createdBy}`],
        ]);
        if (r.body.trim() !== '') {
          out.line();
          out.line(r.body.trimEnd());
        }
      });
    });
  runbook
    .command('tested')
    .description(t('runbooks.runbook.tested'))
    .argument('<name>', t('runbooks.runbook.tested.arg.name'))
    .option('--at <time>', t('runbooks.runbook.tested.opt.at'))
    .option('-n, --note <text>', t('runbooks.runbook.tested.opt.note'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const r = await clientOf(command).request<Runbook>('POST', `/api/ops/runbooks/${encodeURIComponent(name)}/tested`, {
        ...(options.at !== undefined ? { at: options.at } : {}),
        ...(options.note !== undefined ? { note: options.note } : {}),
      });
      out.result(r, () => out.line(t('runbooks.msg.runbook-tested-by', { name: r.name, lastTestedAt: r.lastTestedAt, testedBy: r.testedBy })));
    });
}
