import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { formatTime, type Output } from '../../cli/output.ts';
import { formatSize } from '../../lib/units.ts';
import type { Area, AreasListing, AreaUsage, LibraryWriter, SyncReport, WriterChange } from './model.ts';
import { t, type MessageKey } from '../../lib/i18n/index.ts';

const KIND_LABEL: Record<Area['kind'], MessageKey> = { home: 'areas.kind.home', group: 'areas.kind.group', library: 'areas.kind.library' };

/** `1.2 GiB / 10 GiB (12 %)`, `1.2 GiB`, `not measured yet`; `≥` when the walk stopped early. */
export function usageText(usage: AreaUsage | null, quota: number | null): string {
  if (!usage) return quota === null ? t('areas.usage.not-measured') : t('areas.usage.not-measured-quota', { quota: formatSize(quota) });
  const size = `${usage.complete ? '' : '≥ '}${formatSize(usage.bytes)}`;
  const warned = usage.over ? t('areas.usage.over-warning') : '';
  return quota === null ? size : `${size} of ${formatSize(quota)} (${usage.percent} %)${warned}`;
}

function showAreas(out: Output, listing: AreasListing): void {
  if (!listing.enabled) {
    out.line(t('areas.msg.not-provisioned', { reason: listing.reason ?? t('areas.msg.turned-off') }));
    return;
  }
  if (listing.areas.length === 0) {
    out.line(t('areas.msg.no-areas'));
    return;
  }
  for (const area of listing.areas) {
    out.line(`${t(KIND_LABEL[area.kind])} ${area.name}${area.exists ? '' : t('areas.msg.not-created-yet')}`);
    out.fields([
      [t('field.path2'), area.path],
      ...(area.kind === 'home'
        ? ([
            [t('field.private'), `${area.private ?? ''}  (only ${area.name})`],
            [t('field.public'), `${area.public ?? ''}  (everyone can read)`],
          ] as [string, string][])
        : []),
      [t('field.access'), area.access],
      [t('field.you-may-write'), area.writable ? 'yes' : 'no'],
      [t('field.usage'), usageText(area.usage, area.quota)],
      [t('field.measured'), area.usage ? formatTime(area.usage.measuredAt) : null],
    ]);
    out.line();
  }
}

function showUsage(out: Output, rows: AreaUsage[]): void {
  out.table(
    [t('col.area'), t('col.size'), t('col.files'), t('col.quota'), t('col.used'), t('col.measured'), t('col.path')],
    rows.map((u) => [
      u.area,
      `${u.complete ? '' : '≥ '}${formatSize(u.bytes)}`,
      u.files,
      u.quota === null ? '-' : formatSize(u.quota),
      u.percent === null ? '-' : `${u.percent} %${u.over ? ' !' : ''}`,
      formatTime(u.measuredAt),
      u.path,
    ]),
    '(nothing measured yet: keisan admin areas usage --measure)',
  );
}

function showSync(out: Output, report: SyncReport): void {
  out.line(t('areas.msg.checked-directories-under-in-s', { checked: report.checked, root: report.root, seconds: (report.durationMs / 1000).toFixed(1) }));
  if (report.created.length) out.line(`Created ${report.created.length}:\n${report.created.map((p) => `  ${p}`).join('\n')}`);
  if (report.fixed.length) out.line(`Fixed ${report.fixed.length}:\n${report.fixed.map((f) => `  ${f.path}: ${f.changes.join('; ')}`).join('\n')}`);
  for (const library of report.libraries) {
    out.line(`Library ${library.path}: ${library.entries} entries updated${library.granted.length ? `, granted to uid ${library.granted.join(', ')}` : ''}${library.revoked.length ? `, revoked from uid ${library.revoked.join(', ')}` : ''}${library.complete ? '' : ' (incomplete: run sync again)'}`);
  }
  for (const writer of report.removedWriters) out.line(t('areas.msg.dropped-writer-of-library-account', { user: writer.user, workgroup: writer.workgroup }));
  if (report.leftInPlace.length) out.line(`Left in place (${report.leftInPlace.length}):\n${report.leftInPlace.map((o) => `  ${o.path}: ${o.reason}`).join('\n')}`);
  if (report.problems.length) out.line(`Problems (${report.problems.length}), left alone:\n${report.problems.map((p) => `  ${p.problem}`).join('\n')}`);
  if (!report.created.length && !report.fixed.length && !report.problems.length && !report.libraries.length) out.line(t('areas.msg.everything-was-as-it-should'));
}

export function registerAreaCommands(program: Command, admin: Command): void {
  program
    .command('areas')
    .description(t('areas.areas'))
    .option('-a, --all', t('areas.areas.opt.all'))
    .addHelpText('after', examples('keisan areas', 'keisan areas --all', 'keisan areas --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const listing = await clientOf(command).request<AreasListing>('GET', '/api/areas', undefined, options.all ? { all: 'true' } : undefined);
      out.result(listing, () => showAreas(out, listing));
    });

  const areas = admin.command('areas').description(t('areas.areas2'));
  areas
    .command('sync')
    .description(t('areas.areas.sync'))
    .addHelpText('after', examples('keisan admin areas sync'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const report = await clientOf(command).request<SyncReport>('POST', '/api/admin/areas/sync');
      out.result(report, () => showSync(out, report));
    });
  areas
    .command('usage')
    .description(t('areas.areas.usage'))
    .option('-m, --measure', t('areas.areas.usage.opt.measure'))
    .addHelpText('after', examples('keisan admin areas usage', 'keisan admin areas usage --measure'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const rows = options.measure ? await client.request<AreaUsage[]>('POST', '/api/admin/areas/usage') : await client.request<AreaUsage[]>('GET', '/api/areas/usage', undefined, { all: 'true' });
      out.result(rows, () => showUsage(out, rows));
    });

  const writer = areas.command('writer').description(t('areas.areas.writer'));
  const changed = (out: Output, change: WriterChange) => out.result(change, () => out.line(`${change.message}${change.applied ? '.' : ''}`));
  writer
    .command('add')
    .description(t('areas.writer.add'))
    .argument('<workgroup>', t('areas.writer.add.arg.workgroup'))
    .argument('<user>', t('areas.writer.add.arg.user'))
    .addHelpText('after', examples('keisan admin areas writer add physics alice'))
    .action(async (workgroup, user, _options, command) => {
      changed(outputOf(command), await clientOf(command).request<WriterChange>('POST', '/api/admin/areas/library-writers', { workgroup, user }));
    });
  writer
    .command('rm')
    .alias('remove')
    .description(t('areas.writer.rm'))
    .argument('<workgroup>', t('areas.writer.rm.arg.workgroup'))
    .argument('<user>', t('areas.writer.rm.arg.user'))
    .addHelpText('after', examples('keisan admin areas writer rm physics alice'))
    .action(async (workgroup, user, _options, command) => {
      changed(outputOf(command), await clientOf(command).request<WriterChange>('DELETE', `/api/admin/areas/library-writers/${encodeURIComponent(workgroup)}/${encodeURIComponent(user)}`));
    });
  writer
    .command('list')
    .alias('ls')
    .description(t('areas.writer.list'))
    .argument('[workgroup]', t('areas.writer.list.arg.workgroup'))
    .addHelpText('after', examples('keisan admin areas writer list', 'keisan admin areas writer list physics'))
    .action(async (workgroup, _options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<LibraryWriter[]>('GET', '/api/admin/areas/library-writers', undefined, workgroup ? { workgroup } : undefined);
      out.result(rows, () =>
        out.table([t('col.workgroup'), t('col.writer'), t('col.added-by'), t('col.added')], rows.map((w) => [w.workgroup, w.user, w.addedBy, formatTime(w.addedAt)]), t('areas.empty.library-writers')),
      );
    });
}
