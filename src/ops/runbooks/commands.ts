import { readFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { conflict, invalidInput } from '../../lib/errors.ts';
import { opsCommand } from '../inventory/commands.ts';
import type { Runbook, RunbookGap } from './model.ts';

const days = (value: string) => {
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1) throw invalidInput(`--days ${value}: give a whole number of days, e.g. --days 365`);
  return Number(value);
};

/** `keisan ops runbooks [--gaps]` and `keisan ops runbook add|show|tested NAME`. */
export function registerRunbookCommands(program: Command): void {
  const ops = opsCommand(program);

  ops
    .command('runbooks')
    .description('recovery runbooks per service and when they were last tested; --gaps: critical services without a recently tested one')
    .option('-g, --gaps', 'list the critical services without a runbook tested within --days (exit code 1 when there are some)')
    .option('-d, --days <n>', 'how recent a test must be (default keisan.yaml maintenance.runbookTestedWithinDays, 365)', days)
    .addHelpText('after', examples('keisan ops runbooks', 'keisan ops runbooks --gaps', 'keisan ops runbooks --gaps --days 180'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      if (options.gaps) {
        const answer = await client.request<{ days: number; gaps: RunbookGap[] }>('GET', '/api/ops/runbooks/gaps', undefined, { days: options.days });
        out.result(answer, () => {
          if (answer.gaps.length === 0) out.line(pc.green(`Every critical service has a runbook tested within ${answer.days} days.`));
          else out.table(['SERVICE', 'GAP', 'RUNBOOKS'], answer.gaps.map((g) => [g.service, g.reason, g.runbooks.map((r) => r.name).join(',') || '-']));
        });
        if (answer.gaps.length > 0) throw conflict(`${answer.gaps.length} critical service${answer.gaps.length === 1 ? '' : 's'} without a runbook tested within ${answer.days} days (above)`);
        return;
      }
      if (options.days !== undefined) throw invalidInput('--days goes with --gaps');
      const rows = await client.request<Runbook[]>('GET', '/api/ops/runbooks');
      out.result(rows, () =>
        out.table(
          ['RUNBOOK', 'SERVICE', 'LAST TESTED', 'BY', 'WHERE'],
          rows.map((r) => [r.name, r.service, r.lastTestedAt?.slice(0, 10) ?? pc.yellow('never'), r.testedBy, r.location ?? '(text)']),
          '(no runbooks: add one with keisan ops runbook add NAME --service SERVICE --file PROCEDURE.md)',
        ),
      );
    });

  const runbook = ops.command('runbook').description('one recovery runbook: add, show, record a test');
  runbook
    .command('add')
    .description('add a runbook for an inventory service (audited)')
    .argument('<name>', 'runbook name, e.g. management-recovery')
    .requiredOption('-s, --service <service>', 'the inventory service it recovers')
    .option('-f, --file <file>', 'the procedure text (Markdown or plain text)')
    .option('-b, --body <text>', 'the procedure text, given inline')
    .option('-l, --location <path-or-url>', 'where the procedure lives: an absolute path or an http(s) URL')
    .option('--tested <time>', 'when it was last tested, if before now (ISO time such as 2026-10-02T14:00:00Z)')
    .addHelpText('after', examples('keisan ops runbook add management-recovery --service management --file runbooks/management.md', 'keisan ops runbook add auth-recovery --service authentication --location https://wiki.example.org/auth-recovery'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      if (options.file !== undefined && options.body !== undefined) throw invalidInput('give the procedure with --file or --body, not both');
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
    .description('a runbook with its procedure')
    .argument('<name>', 'the runbook')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const r = await clientOf(command).request<Runbook>('GET', `/api/ops/runbooks/${encodeURIComponent(name)}`);
      out.result(r, () => {
        out.fields([
          ['runbook', r.name],
          ['service', r.service],
          ['last tested', r.lastTestedAt ? `${r.lastTestedAt} by ${r.testedBy ?? '?'}` : 'never'],
          ['location', r.location],
          ['added', `${r.createdAt} by ${r.createdBy}`],
        ]);
        if (r.body.trim() !== '') {
          out.line();
          out.line(r.body.trimEnd());
        }
      });
    });
  runbook
    .command('tested')
    .description('record that the runbook was tested (now, or --at), by you (audited)')
    .argument('<name>', 'the runbook')
    .option('--at <time>', 'when the test was done (ISO time); default now')
    .option('-n, --note <text>', 'how it went')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const r = await clientOf(command).request<Runbook>('POST', `/api/ops/runbooks/${encodeURIComponent(name)}/tested`, {
        ...(options.at !== undefined ? { at: options.at } : {}),
        ...(options.note !== undefined ? { note: options.note } : {}),
      });
      out.result(r, () => out.line(`Runbook ${r.name} tested ${r.lastTestedAt} by ${r.testedBy}.`));
    });
}
