import { readFileSync } from 'node:fs';
import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import type { Output } from '../../cli/output.ts';
import { invalidInput } from '../../lib/errors.ts';
import { formatDuration, formatSize } from '../../lib/units.ts';
import type { ClassView, FamilyView, RepackJobView, StageRequestView } from './model.ts';
import type { HsmStatus } from './service.ts';
import type { MigrationReport, PurgeReport } from './migrate.ts';
import { t } from '../../lib/i18n/index.ts';

const size = (n: number | null | undefined) => (n === null || n === undefined ? '-' : formatSize(n));
const pct = (text: string, what: string): number => {
  const n = Number(text.replace('%', '').trim());
  if (!Number.isFinite(n) || n < 0 || n > 100) throw invalidInput(t('hsm.input.must-be-a-percentage-from', { what, text }));
  return n;
};

/** A child command by name, created when missing (another room may have made `fs` or `admin storage`). */
function childOf(parent: Command, name: string, description: string): Command {
  const found = parent.commands.find((c) => c.name() === name) as Command | undefined;
  return found ?? parent.command(name).description(description);
}

function showStage(out: Output, r: StageRequestView): void {
  const summary = Object.entries(r.summary).map(([k, v]) => `${v} ${k}`).join(', ');
  out.fields([
    [t('field.request'), r.id],
    [t('field.state'), r.state],
    [t('field.files'), summary],
    [t('field.created'), r.createdAt],
    [t('field.completed'), r.completedAt],
  ]);
  out.line();
  out.table(
    [t('col.path'), t('col.state'), t('col.size'), t('col.done'), t('col.volume'), t('col.queue'), t('col.eta'), t('col.error')],
    r.files.map((f) => [
      f.path,
      f.state,
      size(f.size),
      f.size > 0 ? `${Math.floor((f.bytesDone / f.size) * 100)}%` : '100%',
      f.volume,
      f.queuePosition,
      f.estimatedSeconds === null ? null : formatDuration(f.estimatedSeconds * 1000),
      f.error,
    ]),
  );
}

function showClass(out: Output, c: ClassView): void {
  out.fields([
    [t('field.class'), c.name],
    [t('field.migration-delay'), formatDuration(c.migrationDelaySeconds * 1000)],
    [t('field.copies'), c.copies],
    [t('field.purge'), `from ${c.purgeHighPct}% down to ${c.purgeLowPct}% of the disk tier`],
    [t('field.staging'), c.staging],
    [t('field.containers'), c.aggregateBelowBytes > 0 ? `files below ${size(c.aggregateBelowBytes)} packed into containers of up to ${size(c.containerSizeBytes)}` : 'off (every file its own archive entry)'],
    [t('field.workgroups'), c.name === 'default' ? `${c.workgroups.join(', ') || ''}${c.workgroups.length ? ', ' : ''}every workgroup no other class names` : c.workgroups.join(', ')],
  ]);
}

function showFamily(out: Output, f: FamilyView): void {
  out.fields([
    [t('field.family'), f.name],
    [t('field.tree'), f.tree],
    [t('field.archive-usage'), `${size(f.usageBytes)} in ${f.usageFiles} file(s)`],
    [t('field.warning-level'), size(f.quotaWarnBytes)],
    [t('field.limit'), size(f.quotaLimitBytes)],
    [t('field.quota-state'), f.quotaState],
  ]);
}

function showRepack(out: Output, jobs: RepackJobView[]): void {
  out.table(
    [t('col.id'), t('col.volume'), t('col.state'), t('col.files'), t('col.bytes'), t('col.by'), t('col.updated'), t('col.error')],
    jobs.map((j) => [j.id, j.volume, j.state, `${j.filesDone}/${j.filesTotal}`, `${size(j.bytesDone)}/${size(j.bytesTotal)}`, j.createdBy, j.updatedAt, j.error]),
    t('hsm.empty.repack-jobs'),
  );
}

export function registerHsmCommands(program: Command, admin: Command): void {
  // ---------------------------------------------------------------- users: keisan fs stage
  const fs = childOf(program, 'fs', t('hsm.fs'));
  fs.command('stage')
    .description(t('hsm.fs.stage'))
    .argument('[paths...]', t('hsm.fs.stage.arg.paths'))
    .option('--from-file <list>', t('hsm.fs.stage.opt.from-file'))
    .option('--wait', t('hsm.fs.stage.opt.wait'))
    .addHelpText('after', examples('keisan fs stage /phys/ana/run1.dat /phys/ana/run2.dat', 'keisan fs stage --from-file runs.txt --wait', 'keisan fs stage-status stg-0123456789abcdef'))
    .action(async (paths, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const all = [...paths];
      if (options.fromFile !== undefined) {
        const text = readFileSync(options.fromFile === '-' ? 0 : options.fromFile, 'utf8');
        all.push(...text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
      }
      if (all.length === 0) throw invalidInput(t('hsm.input.name-files-to-stage-or'));
      let request = await client.request<StageRequestView>('POST', '/api/fs/stage', { paths: all });
      if (!options.wait) {
        out.result(request, () => out.line(t('hsm.msg.stage-request-file-s-see', { id: request.id, all: all.length })));
        return;
      }
      if (!out.json) process.stderr.write(`Stage request ${request.id}: ${all.length} file(s)\n`);
      const deadline = Date.now() + 7 * 86_400_000;
      let last = '';
      while (request.state !== 'COMPLETED' && request.state !== 'FAILED' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        request = await client.request<StageRequestView>('GET', `/api/fs/stage/${encodeURIComponent(request.id)}`);
        const done = request.files.filter((f) => f.state === 'ON_DISK').length;
        const bytes = request.files.reduce((s, f) => s + f.bytesDone, 0);
        const total = request.files.reduce((s, f) => s + f.size, 0);
        const etas = request.files.map((f) => f.estimatedSeconds).filter((s): s is number => s !== null);
        const line = `${done}/${request.files.length} on disk, ${formatSize(bytes)} of ${formatSize(total)}${etas.length ? `, about ${formatDuration(Math.max(...etas) * 1000)} left` : ''}`;
        if (!out.json && line !== last) process.stderr.write(`  ${line}\n`);
        last = line;
      }
      out.result(request, () => showStage(out, request));
      if (request.state === 'FAILED') process.exitCode = 1;
    });
  fs.command('stage-status')
    .description(t('hsm.fs.stage-status'))
    .argument('<id>', t('hsm.fs.stage-status.arg.id'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      const request = await clientOf(command).request<StageRequestView>('GET', `/api/fs/stage/${encodeURIComponent(id)}`);
      out.result(request, () => showStage(out, request));
    });

  fs.command('stage-release')
    .description(t('hsm.fs.stage-release'))
    .argument('<id>', t('hsm.fs.stage-release.arg.id'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      const request = await clientOf(command).request<StageRequestView>('POST', `/api/fs/stage/${encodeURIComponent(id)}/release`, {});
      out.result(request, () => out.line(t('hsm.msg.released-stage-request', { id: request.id })));
    });

  // ---------------------------------------------------------------- operators: keisan hsm
  const hsm = program.command('hsm').description(t('hsm.hsm'));
  hsm
    .command('status')
    .description(t('hsm.hsm.status'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const s = await clientOf(command).request<HsmStatus>('GET', '/api/hsm/status');
      out.result(s, () => {
        out.fields([
          [t('field.disk-tier'), `${size(s.disk.usedBytes)} used of ${size(s.disk.capacityBytes)}${s.disk.usedPct !== null ? ` (${s.disk.usedPct}%)` : ''}; purge from ${s.disk.highWaterPct}% to ${s.disk.lowWaterPct}%`],
          [t('field.not-yet-migrated'), `${s.files.dirty.files} file(s), ${size(s.files.dirty.bytes)}`],
          [t('field.on-disk-and-archived'), `${s.files.migratedOnDisk.files} file(s), ${size(s.files.migratedOnDisk.bytes)}`],
          [t('field.archive-only'), `${s.files.archiveOnly.files} file(s), ${size(s.files.archiveOnly.bytes)}`],
          [t('field.being-staged'), `${s.files.staging.files} file(s) (${s.activeStages} active)`],
          [t('field.stage-queue'), Object.entries(s.stageQueue).map(([k, v]) => `${v} ${k}`).join(', ') || 'empty'],
          [t('field.next-migration'), s.nextMigrationAt],
          [t('field.repack'), s.repack.map((j) => `${j.volume} ${j.state} ${j.filesDone}/${j.filesTotal}`).join('; ') || 'none'],
          [t('field.containers'), s.containers ? `${s.containers.members} small file copies in ${s.containers.entries} container(s), ${size(s.containers.bytes)}` : 'none'],
          [t('field.damaged-copies'), s.damagedCopies.length ? s.damagedCopies.map((d) => `file ${d.fileId} copy ${d.copy} on ${d.volume}${d.repairedAt ? ' (repaired)' : ''}`).join('; ') : 'none'],
        ]);
        out.line();
        out.table([t('col.run'), t('col.kind'), t('col.state'), t('col.files'), t('col.bytes'), t('col.started'), t('col.ended')], s.recentRuns.map((r) => [r.id, r.kind, r.state, r.files, size(r.bytes), r.startedAt, r.endedAt]), t('hsm.empty.runs-yet'));
      });
    });
  hsm
    .command('volumes')
    .description(t('hsm.hsm.volumes'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const volumes = await clientOf(command).request<Array<{ name: string; family: string; copy: number; capacityBytes: number | null; usedBytes: number; liveBytes: number; liveEntries: number; holesBytes: number; holesPct: number; containers?: number; state: string; mountedIn: string | null; problem?: string }>>('GET', '/api/hsm/volumes');
      out.result(volumes, () =>
        out.table(
          [t('col.volume'), t('col.family'), t('col.copy'), t('col.state'), t('col.used'), t('col.capacity'), t('col.live'), t('col.entries'), t('col.containers'), t('col.holes'), t('col.drive'), t('col.problem')],
          volumes.map((v) => [v.name, v.family, v.copy, v.state, size(v.usedBytes), size(v.capacityBytes), size(v.liveBytes), v.liveEntries, v.containers ?? 0, `${v.holesPct}%`, v.mountedIn, v.problem]),
          t('hsm.empty.volumes-yet'),
        ),
      );
    });
  hsm
    .command('drives')
    .description(t('hsm.hsm.drives'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const drives = await clientOf(command).request<Array<{ name: string; state: string; volume: string | null; activity: string | null; since: number }>>('GET', '/api/hsm/drives');
      out.result(drives, () => out.table([t('col.drive'), t('col.state'), t('col.volume'), t('col.activity'), t('col.since')], drives.map((d) => [d.name, d.state, d.volume, d.activity, new Date(d.since).toISOString()])));
    });
  hsm
    .command('migrate')
    .description(t('hsm.hsm.migrate'))
    .requiredOption('--now', t('hsm.hsm.migrate.opt.now'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const r = await clientOf(command).request<MigrationReport>('POST', '/api/hsm/migrate', {});
      out.result(r, () => {
        out.line(t('hsm.msg.migrated', { files: r.files, size: formatSize(r.bytes), copies: t(r.copiesWritten === 1 ? 'hsm.msg.archive-copy' : 'hsm.msg.archive-copies', { n: r.copiesWritten }), batches: r.batches }));
        for (const f of r.failed) out.line(t('hsm.msg.failed-file-copy', { fileId: f.fileId, copy: f.copy, error: f.error }));
        if (r.failed.length) process.exitCode = 1;
      });
    });
  hsm
    .command('purge')
    .description(t('hsm.hsm.purge'))
    .requiredOption('--now', t('hsm.hsm.purge.opt.now'))
    .option('--to <percent>', t('hsm.hsm.purge.opt.to'))
    .addHelpText('after', examples('keisan hsm purge --now', 'keisan hsm purge --now --to 0%'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const r = await clientOf(command).request<PurgeReport>('POST', '/api/hsm/purge', options.to !== undefined ? { to: pct(options.to, '--to') } : {});
      out.result(r, () => {
        out.line(t('hsm.msg.purged', { files: r.purgedFiles, freed: formatSize(r.freedBytes), holds: r.capacity ? t('hsm.msg.of-capacity', { used: formatSize(r.usageAfter), capacity: formatSize(r.capacity) }) : formatSize(r.usageAfter) }));
        if (r.ranOut) {
          const kept = Object.entries(r.kept).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ');
          out.line(t('hsm.msg.nothing-more-purgeable', { kept: kept || t('hsm.msg.not-purgeable') }));
        }
      });
    });
  hsm
    .command('repack')
    .description(t('hsm.hsm.repack'))
    .argument('[volume]', t('hsm.hsm.repack.arg.volume'))
    .option('--holes <percent>', t('hsm.hsm.repack.opt.holes'))
    .addHelpText('after', examples('keisan hsm repack VOL000012', 'keisan hsm repack --holes 50%', 'keisan hsm repack-status'))
    .action(async (volume, options, command) => {
      const out = outputOf(command);
      if ((volume === undefined) === (options.holes === undefined)) throw invalidInput(t('hsm.input.name-a-volume-or-give'));
      const jobs = await clientOf(command).request<RepackJobView[]>('POST', '/api/hsm/repack', volume !== undefined ? { volume } : { holes: pct(options.holes!, '--holes') });
      out.result(jobs, () => {
        if (jobs.length === 0) out.line(t('hsm.msg.no-volume-qualifies'));
        else out.line(t('hsm.msg.repacking', { volumes: jobs.map((j) => t('hsm.msg.repack-volume', { volume: j.volume, id: j.id, files: j.filesTotal, size: formatSize(j.bytesTotal) })).join(', ') }));
      });
    });
  hsm
    .command('repack-status')
    .description(t('hsm.hsm.repack-status'))
    .option('--all', t('hsm.hsm.repack-status.opt.all'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const jobs = await clientOf(command).request<RepackJobView[]>('GET', '/api/hsm/repack', undefined, { all: options.all ? 'true' : undefined });
      out.result(jobs, () => showRepack(out, jobs));
    });
  for (const verb of ['pause', 'resume'] as const) {
    hsm
      .command(verb)
      .description(t(verb === 'pause' ? 'hsm.hsm.pause' : 'hsm.hsm.resume'))
      .argument('[job]', t('hsm.hsm.repack-status.arg.job'))
      .action(async (job, _options, command) => {
        const out = outputOf(command);
        const id = job === undefined ? undefined : Number(job);
        if (id !== undefined && !Number.isInteger(id)) throw invalidInput(t('hsm.input.is-not-a-repack-job', { job }));
        const jobs = await clientOf(command).request<RepackJobView[]>('POST', `/api/hsm/repack/${verb}`, id === undefined ? {} : { id });
        out.result(jobs, () => showRepack(out, jobs));
      });
  }

  // ---------------------------------------------------------------- operators: classes and families
  const storage = childOf(admin, 'storage', t('hsm.storage'));
  const cls = storage.command('class').description(t('hsm.storage.class'));
  const classOptions = (c: Command<[string]>) =>
    c
      .option('--migration-delay <duration>', t('hsm.storage.class.opt.migration-delay'))
      .option('--copies <n>', t('hsm.storage.class.opt.copies'))
      .option('--purge-high <percent>', t('hsm.storage.class.opt.purge-high'))
      .option('--purge-low <percent>', t('hsm.storage.class.opt.purge-low'))
      .option('--staging <mode>', t('hsm.storage.class.opt.staging'))
      .option('--workgroups <list>', t('hsm.storage.class.opt.workgroups'))
      .option('--aggregate-below <size>', t('hsm.storage.class.opt.aggregate-below'))
      .option('--container-size <size>', t('hsm.storage.class.opt.container-size'));
  const classBody = (o: Record<string, string | undefined>) => ({
    ...(o.migrationDelay !== undefined ? { migrationDelay: o.migrationDelay } : {}),
    ...(o.copies !== undefined ? { copies: Number(o.copies) } : {}),
    ...(o.purgeHigh !== undefined ? { purgeHigh: o.purgeHigh } : {}),
    ...(o.purgeLow !== undefined ? { purgeLow: o.purgeLow } : {}),
    ...(o.staging !== undefined ? { staging: o.staging } : {}),
    ...(o.workgroups !== undefined ? { workgroups: o.workgroups.split(',').map((w) => w.trim()).filter(Boolean) } : {}),
    ...(o.aggregateBelow !== undefined ? { aggregateBelow: o.aggregateBelow } : {}),
    ...(o.containerSize !== undefined ? { containerSize: o.containerSize } : {}),
  });
  cls.command('list').description(t('hsm.cls.list')).action(async (_o, command) => {
    const out = outputOf(command);
    const list = await clientOf(command).request<ClassView[]>('GET', '/api/hsm/classes');
    out.result(list, () =>
      out.table([t('col.class'), t('col.delay'), t('col.copies'), t('col.purge'), t('col.staging'), t('col.workgroups')], list.map((c) => [c.name, formatDuration(c.migrationDelaySeconds * 1000), c.copies, `${c.purgeHighPct}% → ${c.purgeLowPct}%`, c.staging, c.name === 'default' ? `${c.workgroups.join(', ')}${c.workgroups.length ? ', ' : ''}(all others)` : c.workgroups.join(', ')])),
    );
  });
  classOptions(cls.command('add').description(t('hsm.cls.add')).argument('<name>', t('hsm.cls.add.arg.name')))
    .addHelpText('after', examples('keisan admin storage class add physics --migration-delay 10m --copies 2 --purge-high 90% --purge-low 60% --workgroups phys'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const c = await clientOf(command).request<ClassView>('POST', '/api/hsm/classes', { name, ...classBody(options as Record<string, string | undefined>) });
      out.result(c, () => showClass(out, c));
    });
  classOptions(cls.command('set').description(t('hsm.cls.set')).argument('<name>', t('hsm.cls.set.arg.name'))).action(async (name, options, command) => {
    const out = outputOf(command);
    const body = classBody(options as Record<string, string | undefined>);
    if (Object.keys(body).length === 0) throw invalidInput(t('hsm.input.nothing-to-change-give-at'));
    const c = await clientOf(command).request<ClassView>('PATCH', `/api/hsm/classes/${encodeURIComponent(name)}`, body);
    out.result(c, () => showClass(out, c));
  });
  cls.command('rm').description(t('hsm.cls.rm')).argument('<name>', t('hsm.cls.rm.arg.name')).action(async (name, _o, command) => {
    const out = outputOf(command);
    await clientOf(command).request('DELETE', `/api/hsm/classes/${encodeURIComponent(name)}`);
    out.result({ ok: true }, () => out.line(t('hsm.msg.removed-class', { name })));
  });

  const fam = storage.command('family').description(t('hsm.storage.family'));
  const familyOptions = (c: Command<[string]>) =>
    c
      .option('--tree <path>', t('hsm.storage.family.opt.tree'))
      .option('--quota-warn <size>', t('hsm.storage.family.opt.quota-warn'))
      .option('--quota-limit <size>', t('hsm.storage.family.opt.quota-limit'));
  const familyBody = (o: Record<string, string | undefined>) => ({
    ...(o.tree !== undefined ? { tree: o.tree } : {}),
    ...(o.quotaWarn !== undefined ? { quotaWarn: o.quotaWarn === 'none' ? null : o.quotaWarn } : {}),
    ...(o.quotaLimit !== undefined ? { quotaLimit: o.quotaLimit === 'none' ? null : o.quotaLimit } : {}),
  });
  fam.command('list').description(t('hsm.fam.list')).action(async (_o, command) => {
    const out = outputOf(command);
    const list = await clientOf(command).request<FamilyView[]>('GET', '/api/hsm/families');
    out.result(list, () =>
      out.table([t('col.family'), t('col.tree'), t('col.usage'), t('col.files'), t('col.warn'), t('col.limit'), t('col.state')], list.map((f) => [f.name, f.tree, size(f.usageBytes), f.usageFiles, size(f.quotaWarnBytes), size(f.quotaLimitBytes), f.quotaState]), t('hsm.empty.families-yet')),
    );
  });
  familyOptions(fam.command('add').description(t('hsm.fam.add')).argument('<name>', t('hsm.fam.add.arg.name')))
    .addHelpText('after', examples('keisan admin storage family add ana-raw --tree /phys/ana/raw --quota-warn 800G --quota-limit 1T', 'keisan admin storage family set phys.ana --quota-limit 2T'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const f = await clientOf(command).request<FamilyView>('POST', '/api/hsm/families', { name, ...familyBody(options as Record<string, string | undefined>) });
      out.result(f, () => showFamily(out, f));
    });
  familyOptions(fam.command('set').description(t('hsm.fam.set')).argument('<name>', t('hsm.fam.set.arg.name'))).action(async (name, options, command) => {
    const out = outputOf(command);
    const body = familyBody(options as Record<string, string | undefined>);
    if (Object.keys(body).length === 0) throw invalidInput(t('hsm.input.nothing-to-change-give-tree'));
    const f = await clientOf(command).request<FamilyView>('PATCH', `/api/hsm/families/${encodeURIComponent(name)}`, body);
    out.result(f, () => showFamily(out, f));
  });
  fam.command('rm').description(t('hsm.fam.rm')).argument('<name>', t('hsm.fam.rm.arg.name')).action(async (name, _o, command) => {
    const out = outputOf(command);
    await clientOf(command).request('DELETE', `/api/hsm/families/${encodeURIComponent(name)}`);
    out.result({ ok: true }, () => out.line(t('hsm.msg.removed-family', { name })));
  });
}
