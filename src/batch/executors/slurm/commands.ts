import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../../cli/context.ts';
import type { Output } from '../../../cli/output.ts';
import { invalidInput, KeisanError } from '../../../lib/errors.ts';
import type { ImportResult } from './accounting.ts';
import type { SyncPlan, SyncChange } from './sync-plan.ts';
import type { SyncResult } from './sync.ts';
import { t } from '../../../lib/i18n/index.ts';

/** `keisan admin slurm …`: thin — call /api/admin/slurm, print. */

function printChanges(out: Output, changes: readonly SyncChange[]): void {
  changes.forEach((change, index) => {
    out.line(`  ${String(index + 1).padStart(3)}. ${change.summary}`);
    out.line(`       ${change.command}`);
  });
}

function printCannotExpress(out: Output, lines: readonly string[]): void {
  if (lines.length === 0) return;
  out.line();
  out.line(`SLURM cannot express ${lines.length === 1 ? 'this' : `these ${lines.length}`} (do it by hand where a command is given, or accept the difference):`);
  for (const line of lines) out.line(`  - ${line}`);
}

export function registerSlurmCommands(admin: Command): void {
  const slurm = admin.command('slurm').description(t('slurm.slurm'));
  slurm
    .command('sync')
    .description(t('slurm.slurm.sync'))
    .option('--apply', t('slurm.slurm.sync.opt.apply'))
    .option('--conf <slurm.conf>', t('slurm.slurm.sync.opt.conf'))
    .addHelpText('after', examples('keisan admin slurm sync', 'keisan admin slurm sync --apply', 'keisan admin slurm sync --conf /etc/slurm/slurm.conf --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      if (options.apply) {
        if (options.conf !== undefined) throw invalidInput(t('slurm.input.conf-previews-only-apply-changes'));
        const result = await client.request<SyncResult>('POST', '/api/admin/slurm/sync');
        out.result(result, () => {
          if (result.applied.length === 0) out.line(t('slurm.msg.slurm-cluster-already-matched-keisan', { cluster: result.cluster }));
          else {
            out.line(`Applied ${result.applied.length} change${result.applied.length === 1 ? '' : 's'} to SLURM cluster ${result.cluster}:`);
            printChanges(out, result.applied);
          }
          out.line();
          if (result.remaining.length === 0) out.line(t('slurm.msg.read-slurm-again-nothing-is'));
          else {
            out.line(`Read SLURM again: ${result.remaining.length} change${result.remaining.length === 1 ? ' is' : 's are'} still left (SLURM did not take ${result.remaining.length === 1 ? 'it' : 'them'}):`);
            printChanges(out, result.remaining);
          }
          printCannotExpress(out, result.cannotExpress);
        });
        if (result.remaining.length > 0) throw new KeisanError('CONFLICT', `SLURM still differs from Keisan in ${result.remaining.length} place${result.remaining.length === 1 ? '' : 's'} after the sync (listed above): see what sacctmgr says when you run those lines by hand`);
        return;
      }
      const plan = await client.request<SyncPlan>('GET', '/api/admin/slurm/sync', undefined, { conf: options.conf });
      out.result(plan, () => {
        if (plan.changes.length === 0) out.line(t('slurm.msg.slurm-cluster-matches-keisan-root', { cluster: plan.cluster, rootAccount: plan.rootAccount }));
        else {
          out.line(`SLURM cluster ${plan.cluster} (root account ${plan.rootAccount}): ${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'} to make — nothing changed; run with --apply to make ${plan.changes.length === 1 ? 'it' : 'them'}:`);
          printChanges(out, plan.changes);
        }
        printCannotExpress(out, plan.cannotExpress);
      });
    });
  slurm
    .command('import-usage')
    .description(t('slurm.slurm.import-usage'))
    .option('--from <time>', t('slurm.slurm.import-usage.opt.from'))
    .option('--to <time>', t('slurm.slurm.import-usage.opt.to'))
    .addHelpText('after', examples('keisan admin slurm import-usage', 'keisan admin slurm import-usage --from 2026-11-01 --to 2026-12-01'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const body = { ...(options.from !== undefined ? { from: options.from } : {}), ...(options.to !== undefined ? { to: options.to } : {}) };
      const result = await clientOf(command).request<ImportResult>('POST', '/api/admin/slurm/import-usage', body);
      out.result(result, () => {
        out.line(`Imported ${result.imported} job${result.imported === 1 ? '' : 's'} run outside Keisan on SLURM cluster ${result.cluster} that ended from ${result.from} to ${result.to}.`);
        out.line(`sacct listed ${result.seen} job${result.seen === 1 ? '' : 's'} that ended in the window; ${result.keisanJobs} of them ${result.keisanJobs === 1 ? 'was' : 'were'} Keisan's own (Keisan accounts for those itself).`);
      });
    });
}
