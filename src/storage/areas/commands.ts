import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import { formatTime, type Output } from '../../cli/output.ts';
import { formatSize } from '../../lib/units.ts';
import type { Area, AreasListing, AreaUsage, LibraryWriter, SyncReport, WriterChange } from './model.ts';

const KIND_LABEL: Record<Area['kind'], string> = { home: 'home', group: 'group area', library: 'library' };

/** `1.2 GiB / 10 GiB (12 %)`, `1.2 GiB`, `not measured yet`; `≥` when the walk stopped early. */
export function usageText(usage: AreaUsage | null, quota: number | null): string {
  if (!usage) return quota === null ? 'not measured yet' : `not measured yet (quota ${formatSize(quota)})`;
  const size = `${usage.complete ? '' : '≥ '}${formatSize(usage.bytes)}`;
  const warned = usage.over ? ' — over the warning level' : '';
  return quota === null ? size : `${size} of ${formatSize(quota)} (${usage.percent} %)${warned}`;
}

function showAreas(out: Output, listing: AreasListing): void {
  if (!listing.enabled) {
    out.line(`User areas are not provisioned on this server: ${listing.reason ?? 'turned off'}.`);
    return;
  }
  if (listing.areas.length === 0) {
    out.line('(no areas)');
    return;
  }
  for (const area of listing.areas) {
    out.line(`${KIND_LABEL[area.kind]} ${area.name}${area.exists ? '' : ' (not created yet: an operator runs keisan admin areas sync)'}`);
    out.fields([
      ['  path', area.path],
      ...(area.kind === 'home'
        ? ([
            ['  private', `${area.private ?? ''}  (only ${area.name})`],
            ['  public', `${area.public ?? ''}  (everyone can read)`],
          ] as [string, string][])
        : []),
      ['  access', area.access],
      ['  you may write', area.writable ? 'yes' : 'no'],
      ['  usage', usageText(area.usage, area.quota)],
      ['  measured', area.usage ? formatTime(area.usage.measuredAt) : null],
    ]);
    out.line();
  }
}

function showUsage(out: Output, rows: AreaUsage[]): void {
  out.table(
    ['AREA', 'SIZE', 'FILES', 'QUOTA', 'USED', 'MEASURED', 'PATH'],
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
  out.line(`Checked ${report.checked} directories under ${report.root} in ${(report.durationMs / 1000).toFixed(1)} s.`);
  if (report.created.length) out.line(`Created ${report.created.length}:\n${report.created.map((p) => `  ${p}`).join('\n')}`);
  if (report.fixed.length) out.line(`Fixed ${report.fixed.length}:\n${report.fixed.map((f) => `  ${f.path}: ${f.changes.join('; ')}`).join('\n')}`);
  for (const library of report.libraries) {
    out.line(`Library ${library.path}: ${library.entries} entries updated${library.granted.length ? `, granted to uid ${library.granted.join(', ')}` : ''}${library.revoked.length ? `, revoked from uid ${library.revoked.join(', ')}` : ''}${library.complete ? '' : ' (incomplete: run sync again)'}`);
  }
  for (const writer of report.removedWriters) out.line(`Dropped writer ${writer.user} of library ${writer.workgroup} (account removed).`);
  if (report.leftInPlace.length) out.line(`Left in place (${report.leftInPlace.length}):\n${report.leftInPlace.map((o) => `  ${o.path}: ${o.reason}`).join('\n')}`);
  if (report.problems.length) out.line(`Problems (${report.problems.length}), left alone:\n${report.problems.map((p) => `  ${p.problem}`).join('\n')}`);
  if (!report.created.length && !report.fixed.length && !report.problems.length && !report.libraries.length) out.line('Everything was as it should be.');
}

export function registerAreaCommands(program: Command, admin: Command): void {
  program
    .command('areas')
    .description('your storage areas: home (private/, public/), your group areas, your workgroup libraries — paths, who can read what, usage')
    .option('-a, --all', 'also the areas you administer (operators: every area)')
    .addHelpText('after', examples('keisan areas', 'keisan areas --all', 'keisan areas --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const listing = await clientOf(command).request<AreasListing>('GET', '/api/areas', undefined, options.all ? { all: 'true' } : undefined);
      out.result(listing, () => showAreas(out, listing));
    });

  const areas = admin.command('areas').description('user areas on disk: provisioning, usage, library writers');
  areas
    .command('sync')
    .description('create missing areas and fix modes and ACLs that drifted (never deletes anything; operators)')
    .addHelpText('after', examples('keisan admin areas sync'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const report = await clientOf(command).request<SyncReport>('POST', '/api/admin/areas/sync');
      out.result(report, () => showSync(out, report));
    });
  areas
    .command('usage')
    .description('measured usage of the areas you administer (operators: all); --measure measures now (operators)')
    .option('-m, --measure', 'measure every area now and send the soft-quota notices that are due')
    .addHelpText('after', examples('keisan admin areas usage', 'keisan admin areas usage --measure'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const rows = options.measure ? await client.request<AreaUsage[]>('POST', '/api/admin/areas/usage') : await client.request<AreaUsage[]>('GET', '/api/areas/usage', undefined, { all: 'true' });
      out.result(rows, () => showUsage(out, rows));
    });

  const writer = areas.command('writer').description("who may write a workgroup's library (its workgroup admins, operators)");
  const changed = (out: Output, change: WriterChange) => out.result(change, () => out.line(`${change.message}${change.applied ? '.' : ''}`));
  writer
    .command('add')
    .description("let a user write a workgroup's library (everything already in it too)")
    .argument('<workgroup>', 'the workgroup')
    .argument('<user>', 'the user')
    .addHelpText('after', examples('keisan admin areas writer add physics alice'))
    .action(async (workgroup, user, _options, command) => {
      changed(outputOf(command), await clientOf(command).request<WriterChange>('POST', '/api/admin/areas/library-writers', { workgroup, user }));
    });
  writer
    .command('rm')
    .alias('remove')
    .description("take away a user's right to write a workgroup's library (on everything in it; what they own stays theirs)")
    .argument('<workgroup>', 'the workgroup')
    .argument('<user>', 'the user')
    .addHelpText('after', examples('keisan admin areas writer rm physics alice'))
    .action(async (workgroup, user, _options, command) => {
      changed(outputOf(command), await clientOf(command).request<WriterChange>('DELETE', `/api/admin/areas/library-writers/${encodeURIComponent(workgroup)}/${encodeURIComponent(user)}`));
    });
  writer
    .command('list')
    .alias('ls')
    .description('who writes which library')
    .argument('[workgroup]', 'only this workgroup')
    .addHelpText('after', examples('keisan admin areas writer list', 'keisan admin areas writer list physics'))
    .action(async (workgroup, _options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<LibraryWriter[]>('GET', '/api/admin/areas/library-writers', undefined, workgroup ? { workgroup } : undefined);
      out.result(rows, () =>
        out.table(['WORKGROUP', 'WRITER', 'ADDED BY', 'ADDED'], rows.map((w) => [w.workgroup, w.user, w.addedBy, formatTime(w.addedAt)]), '(no library writers: keisan admin areas writer add WORKGROUP USER)'),
      );
    });
}
