import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../cli/context.ts';
import type { Output } from '../cli/output.ts';
import { parseYaml } from '../lib/config.ts';
import { invalidInput } from '../lib/errors.ts';
import { CAUSES, CHECKLIST, IMPACTS, parseServiceArg, REPORT_FORMATS, SEVERITIES, STATUSES, type Incident, type IncidentSummary, type ServiceImpact } from './model.ts';
import { formatSpan, formatUtc, impactText } from './report.ts';
import { t } from '../lib/i18n/index.ts';

/**
 * `keisan incident …`: thin — parse, call /api/incidents, print. Times are shown in UTC (as the
 * outage report does); they are given as ISO times with a zone (2026-11-03T22:40:00Z), or as
 * `YYYY-MM-DD HH:MM` in this machine's local time zone, or `now`.
 */

const collect = (value: string, previous: string[] = []) => [...previous, value];
const path = (id: string) => `/api/incidents/${encodeURIComponent(id)}`;

/** An option's time as the API wants it: ISO with a zone. */
export function timeArg(option: string, text: string, now = new Date()): string {
  const trimmed = text.trim();
  if (trimmed === 'now') return now.toISOString();
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed)) return trimmed;
  const local = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(trimmed);
  if (local) {
    const [, y, mo, d, h, mi, s] = local.map(Number) as number[];
    const date = new Date(y!, mo! - 1, d!, h!, mi!, s ?? 0);
    if (!Number.isNaN(date.getTime()) && date.getDate() === d) return date.toISOString();
  }
  throw invalidInput(t('incidents.input.write-an-iso-time-with', { option, text }));
}

function servicesArg(values: string[] | undefined): ServiceImpact[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  return values.map((v) => {
    try {
      return parseServiceArg(v);
    } catch (error) {
      throw invalidInput(error instanceof Error ? error.message : String(error));
    }
  });
}

const utc = (iso: string | null) => (iso === null ? '-' : `${formatUtc(new Date(iso))} UTC`);

function duration(incident: IncidentSummary, now = Date.now()): string {
  const end = incident.endedAt === null ? now : new Date(incident.endedAt).getTime();
  return formatSpan(end - new Date(incident.startedAt).getTime()) + (incident.endedAt === null ? ' so far' : '');
}

function showIncident(out: Output, incident: Incident): void {
  out.fields([
    [t('field.incident'), `#${incident.id} ${incident.title}`],
    [t('field.severity'), incident.severity],
    [t('field.status'), incident.status],
    [t('field.cause'), incident.cause],
    [t('field.services'), incident.services.length === 0 ? 'none named' : incident.services.map((s) => `${s.service}=${s.impact}`).join(', ')],
    [t('field.started'), utc(incident.startedAt)],
    [t('field.detected'), utc(incident.detectedAt)],
    [t('field.ended'), incident.endedAt === null ? 'still open' : utc(incident.endedAt)],
    [t('field.duration'), duration(incident)],
    [t('field.opened-by'), incident.source === 'manual' ? incident.openedBy : `${incident.openedBy} (${incident.sourceKey})`],
  ]);
  out.line();
  out.line(t('incidents.msg.checklist'));
  for (const c of incident.checklist) out.line(`  [${c.done ? 'x' : ' '}] ${c.item}. ${c.text}${c.by ? `  (${c.done ? 'done' : 'undone'} by ${c.by}, ${utc(c.at)})` : ''}`);
  out.line();
  out.line(t('incidents.msg.timeline'));
  for (const t of incident.timeline) out.line(`  ${utc(t.at)}  ${t.by}${t.status ? ` [${t.status}]` : ''}: ${t.text}`);
  if (incident.postmortem) {
    const p = incident.postmortem;
    out.line();
    out.line(t('incidents.msg.postmortem', { updatedBy: p.updatedBy, updatedAt: utc(p.updatedAt) }));
    out.line(`  What happened: ${p.whatHappened || '-'}`);
    out.line(`  Causes: ${p.causes || '-'}`);
    out.line(`  Prevention: ${p.prevention || '-'}`);
    for (const a of p.actions) out.line(`  [${a.done ? 'x' : ' '}] ${a.action} — ${a.owner}, due ${a.due}`);
  }
}

function changed(out: Output, incident: Incident, what: string): void {
  out.result(incident, () => out.line(`Incident #${incident.id} ${what}: ${incident.title} — ${incident.status}, ${incident.severity}.`));
}

export function registerIncidentCommands(program: Command): void {
  const incident = program
    .command('incident')
    .description(t('incidents.incident'));

  incident
    .command('open')
    .description(t('incidents.incident.open'))
    .requiredOption('-t, --title <text>', t('incidents.incident.open.opt.title'))
    .requiredOption('-s, --severity <sev>', `${SEVERITIES.join(', ')} (SEV1 is the worst)`)
    .option('--service <name[=impact]>', `an affected service and its impact: ${IMPACTS.join(', ')} (default degraded); repeat for more`, collect)
    .option('--cause <category>', `${CAUSES.join(', ')} (default unknown)`)
    .option('--started <time>', t('incidents.incident.open.opt.started'))
    .option('--detected <time>', t('incidents.incident.open.opt.detected'))
    .option('-m, --message <text>', t('incidents.incident.open.opt.message'))
    .addHelpText('after', examples('keisan incident open --title "Batch controller unreachable" --severity SEV2 --service batch=all-unavailable --service login=degraded --cause hardware --started "2026-11-03 22:40" -m "sbatch hangs"'))
    .action(async (options, command) => {
      const services = servicesArg(options.service);
      const created = await clientOf(command).request<Incident>('POST', '/api/incidents', {
        title: options.title,
        severity: options.severity,
        ...(services ? { services } : {}),
        ...(options.cause !== undefined ? { cause: options.cause } : {}),
        ...(options.started !== undefined ? { startedAt: timeArg('--started', options.started) } : {}),
        ...(options.detected !== undefined ? { detectedAt: timeArg('--detected', options.detected) } : {}),
        ...(options.message !== undefined ? { message: options.message } : {}),
      });
      changed(outputOf(command), created, 'opened');
    });

  incident
    .command('update')
    .description(t('incidents.incident.update'))
    .argument('<id>', t('incidents.incident.update.arg.id'))
    .option('--status <status>', STATUSES.join(', '))
    .option('-m, --message <text>', t('incidents.incident.update.opt.message'))
    .option('-s, --severity <sev>', SEVERITIES.join(', '))
    .option('--service <name[=impact]>', t('incidents.incident.update.opt.service'), collect)
    .option('--cause <category>', CAUSES.join(', '))
    .option('-t, --title <text>', t('incidents.incident.update.opt.title'))
    .option('--started <time>', t('incidents.incident.update.opt.started'))
    .option('--detected <time>', t('incidents.incident.update.opt.detected'))
    .option('--ended <time>', t('incidents.incident.update.opt.ended'))
    .addHelpText('after', examples('keisan incident update 12 --status identified -m "a failing disk in the home array" --cause hardware', 'keisan incident update 12 --service storage-home=partial-outage', 'keisan incident update 12 --status investigating -m "slow again"'))
    .action(async (id, options, command) => {
      const services = servicesArg(options.service);
      const body = {
        ...(options.status !== undefined ? { status: options.status } : {}),
        ...(options.message !== undefined ? { message: options.message } : {}),
        ...(options.severity !== undefined ? { severity: options.severity } : {}),
        ...(services ? { services } : {}),
        ...(options.cause !== undefined ? { cause: options.cause } : {}),
        ...(options.title !== undefined ? { title: options.title } : {}),
        ...(options.started !== undefined ? { startedAt: timeArg('--started', options.started) } : {}),
        ...(options.detected !== undefined ? { detectedAt: timeArg('--detected', options.detected) } : {}),
        ...(options.ended !== undefined ? { endedAt: timeArg('--ended', options.ended) } : {}),
      };
      if (Object.keys(body).length === 0) throw invalidInput(t('incidents.input.nothing-to-change-give-status'));
      changed(outputOf(command), await clientOf(command).request<Incident>('PATCH', path(id), body), 'updated');
    });

  incident
    .command('resolve')
    .description(t('incidents.incident.resolve'))
    .argument('<id>', t('incidents.incident.resolve.arg.id'))
    .option('--at <time>', t('incidents.incident.resolve.opt.at'))
    .option('-m, --message <text>', t('incidents.incident.resolve.opt.message'))
    .action(async (id, options, command) => {
      const resolved = await clientOf(command).request<Incident>('POST', `${path(id)}/resolve`, {
        ...(options.at !== undefined ? { at: timeArg('--at', options.at) } : {}),
        ...(options.message !== undefined ? { message: options.message } : {}),
      });
      changed(outputOf(command), resolved, `resolved (ended ${utc(resolved.endedAt)}, ${duration(resolved)})`);
    });

  incident
    .command('check')
    .description(t('incidents.incident.check', { items: CHECKLIST.map((c, i) => `${i + 1} ${c.key}`).join(', ') }))
    .argument('<id>', t('incidents.incident.check.arg.id'))
    .argument('<item>', t('incidents.incident.check.arg.item'))
    .option('--undo', t('incidents.incident.check.opt.undo'))
    .addHelpText('after', `\nThe checklist:\n${CHECKLIST.map((c, i) => `  ${i + 1}. ${c.key.padEnd(14)} ${c.text}`).join('\n')}\n${examples('keisan incident check 12 1', 'keisan incident check 12 tell-affected', 'keisan incident check 12 4 --undo')}`)
    .action(async (id, item, options, command) => {
      const updated = await clientOf(command).request<Incident>('POST', `${path(id)}/checklist/${encodeURIComponent(item)}`, { done: !options.undo });
      const out = outputOf(command);
      out.result(updated, () => {
        const done = updated.checklist.filter((c) => c.done).length;
        out.line(t('incidents.msg.incident-checklist-of-done', { id: updated.id, done, checklist: updated.checklist.length }));
        for (const c of updated.checklist) out.line(`  [${c.done ? 'x' : ' '}] ${c.item}. ${c.text}`);
      });
    });

  incident
    .command('postmortem')
    .description(t('incidents.incident.postmortem'))
    .argument('<id>', t('incidents.incident.postmortem.arg.id'))
    .requiredOption('-f, --file <file>', t('incidents.incident.postmortem.opt.file'))
    .addHelpText(
      'after',
      `\nThe file (YAML):\n  whatHappened: |\n    A disk of the home array failed; the rebuild slowed every read.\n  causes: No hot spare; the alert went to an old address.\n  prevention: Keep a hot spare; check alert addresses monthly.\n  actions:\n    - action: Buy two spare disks\n      owner: olga\n      due: 2026-12-20\n    - action: Fix the alert address\n      owner: omar\n      due: 2026-12-10\n      done: true\n${examples('keisan incident postmortem 12 --file pm-12.yaml')}`,
    )
    .action(async (id, options, command) => {
      let text: string;
      try {
        text = await readFile(options.file, 'utf8');
      } catch (error) {
        throw invalidInput(`--file ${options.file}: ${error instanceof Error ? error.message : String(error)}`);
      }
      const document = parseYaml(text, options.file);
      if (typeof document !== 'object' || document === null || Array.isArray(document)) throw invalidInput(t('incidents.input.expected-a-mapping-with-whathappened', { file: options.file }));
      // YAML reads 2026-12-20 as a string with the default schema; keep dates as written.
      const updated = await clientOf(command).request<Incident>('PUT', `${path(id)}/postmortem`, document);
      changed(outputOf(command), updated, `postmortem saved (${updated.postmortem?.actions.length ?? 0} actions)`);
    });

  incident
    .command('list')
    .alias('ls')
    .description(t('incidents.incident.list'))
    .option('--open', t('incidents.incident.list.opt.open'))
    .option('--since <when>', t('incidents.incident.list.opt.since'))
    .addHelpText('after', examples('keisan incident list --open', 'keisan incident list --since 30d --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<IncidentSummary[]>('GET', '/api/incidents', undefined, { ...(options.open ? { open: 'true' } : {}), ...(options.since !== undefined ? { since: options.since } : {}) });
      out.result(rows, () =>
        out.table(
          [t('col.id'), t('col.sev'), t('col.status'), t('col.started-utc'), t('col.duration'), t('col.impact'), t('col.title')],
          rows.map((i) => [i.id, i.severity, i.status, formatUtc(new Date(i.startedAt)), duration(i), impactText(i.services), i.title]),
          t('incidents.empty.incidents'),
        ),
      );
    });

  incident
    .command('show')
    .description(t('incidents.incident.show'))
    .argument('<id>', t('incidents.incident.show.arg.id'))
    .action(async (id, _options, command) => {
      const out = outputOf(command);
      const found = await clientOf(command).request<Incident>('GET', path(id));
      out.result(found, () => showIncident(out, found));
    });

  incident
    .command('report')
    .description(t('incidents.incident.report'))
    .requiredOption('--from <date>', t('incidents.incident.report.opt.from'))
    .requiredOption('--to <date>', t('incidents.incident.report.opt.to'))
    .option('--tz <zone>', t('incidents.incident.report.opt.tz'))
    .option('--format <format>', `${REPORT_FORMATS.filter((f) => f !== 'json').join(', ')} (default md; --json for the numbers)`)
    .option('-o, --out <file>', t('incidents.incident.report.opt.out'))
    .addHelpText('after', examples('keisan incident report --from 2026-11-01 --to 2026-12-01', 'keisan incident report --from 2026-11-01 --to 2026-12-01 --format pdf --out outages-2026-11.pdf', 'keisan incident report --from 2026-11-01 --to 2026-12-01 --tz Asia/Tokyo'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const format = out.json ? 'json' : (options.format ?? 'md');
      if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw invalidInput(t('incidents.input.format-use-md-html-or', { format }));
      if (format === 'pdf' && options.out === undefined && process.stdout.isTTY) throw invalidInput(t('incidents.input.a-pdf-is-not-for'));
      const response = await clientOf(command).raw('GET', '/api/incidents/report', { query: { from: options.from, to: options.to, format, ...(options.tz !== undefined ? { tz: options.tz } : {}) } });
      const body = Buffer.from(await response.arrayBuffer());
      if (options.out !== undefined) {
        await writeFile(options.out, body);
        if (!out.json) process.stderr.write(`Wrote the outage report (${format}, ${body.length} bytes) to ${options.out}.\n`);
        else out.line(JSON.stringify({ written: options.out, format, bytes: body.length }));
        return;
      }
      process.stdout.write(body);
    });
}
