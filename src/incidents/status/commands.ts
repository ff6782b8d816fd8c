import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import type { Output } from '../../cli/output.ts';
import { invalidInput } from '../../lib/errors.ts';
import { formatAvailability, formatUtc } from '../report.ts';
import type { ComponentState, Explanation, History, PublicIncident, PublicMaintenance, StatusPage } from './model.ts';
import { t, type MessageKey } from '../../lib/i18n/index.ts';

/**
 * `keisan status`: the public status page in the terminal — no login needed (GET /api/status).
 * `--explain` (operators) adds why each component is in its state (GET /api/status/explain).
 */

const utc = (iso: string) => `${formatUtc(new Date(iso))} UTC`;

const STATE_KEYS: Record<ComponentState, MessageKey> = {
  operational: 'status.state.operational',
  degraded: 'status.state.degraded',
  'partial-outage': 'status.state.partial-outage',
  'major-outage': 'status.state.major-outage',
  'under-maintenance': 'status.state.under-maintenance',
};
/** A component state as the CLI's language writes it (the server's page and API keep STATE_LABELS). */
const stateLabel = (state: ComponentState) => t(STATE_KEYS[state]);

function incidentLines(out: Output, incidents: readonly PublicIncident[], updates: number): void {
  for (const i of incidents) {
    const affected = i.components.map((c) => `${c.displayName}: ${stateLabel(c.state).toLowerCase()}`).join(', ');
    out.line(`  #${i.id} ${i.title} — ${i.status}; ${affected}; ${i.endedAt ? `${utc(i.startedAt)} – ${utc(i.endedAt)}` : t('status.msg.since', { time: utc(i.startedAt) })}`);
    for (const u of i.updates.slice(0, updates)) out.line(`      ${utc(u.at)}  [${u.status}] ${u.text}`);
    if (i.updates.length > updates) out.line(t('status.msg.earlier-update-s-keisan-status', { updates: i.updates.length - updates }));
  }
}

function maintenanceLines(out: Output, list: readonly PublicMaintenance[]): void {
  for (const m of list) {
    const components = m.components.map((c) => c.displayName).join(', ') || t('status.msg.no-listed-component');
    out.line(`  #${m.id} ${m.title} — ${t(m.inProgress ? (m.state === 'halted' ? 'status.maint.halted' : 'status.maint.in-progress') : m.state === 'pending-approval' ? 'status.maint.not-approved' : 'status.maint.scheduled')}; ${utc(m.windowStart)} – ${utc(m.windowEnd)}; ${components}`);
  }
}

export function printStatus(out: Output, page: StatusPage, options: { allUpdates?: boolean } = {}): void {
  out.line(`${page.title} — ${page.overall.text} (${utc(page.generatedAt)})`);
  out.line();
  out.table(
    [t('col.component'), t('col.state'), t('col.since-utc'), t('status.col.uptime', { days: page.components[0]?.uptime.days ?? 90 })],
    page.components.map((c) => [c.displayName, stateLabel(c.state), c.since ? formatUtc(new Date(c.since)) : '-', c.uptime.fraction === null ? t('status.msg.no-data') : formatAvailability(c.uptime.fraction)]),
    t('status.empty.components'),
  );
  out.line();
  const updates = options.allUpdates ? Infinity : 3;
  if (page.incidents.current.length === 0) out.line(t('status.msg.no-current-incidents'));
  else {
    out.line(t('status.msg.current-incidents'));
    incidentLines(out, page.incidents.current, updates);
  }
  const maintenance = [...page.maintenance.inProgress, ...page.maintenance.scheduled];
  if (maintenance.length === 0) out.line(t('status.msg.no-maintenance-in-progress-or'));
  else {
    out.line(t('status.msg.maintenance'));
    maintenanceLines(out, maintenance);
  }
  if (page.incidents.recent.length > 0) {
    out.line(t('status.msg.resolved-in-the-last-days', { recentDays: page.incidents.recentDays }));
    incidentLines(out, page.incidents.recent, options.allUpdates ? Infinity : 1);
  }
}

function printExplanation(out: Output, explanation: Explanation): void {
  out.line();
  out.line(t('status.msg.why-operators'));
  if (explanation.unavailable.length > 0) out.line(`  Could not read ${explanation.unavailable.join(', ')}: these states were decided without them (and not recorded).`);
  for (const c of explanation.components) {
    out.line(`  ${c.name}: ${stateLabel(c.state)} (checks and alerts alone: ${stateLabel(c.checksState)}); services ${c.services.join(', ') || '-'}; hosts ${c.hosts.join(', ') || '-'}`);
    for (const s of c.signals) out.line(`      ${s.source}: ${stateLabel(s.state)} — ${s.reason}`);
    if (c.maintenance.length > 0) out.line(`      maintenance in progress: ${c.maintenance.map((id) => `#${id}`).join(', ')}`);
  }
}

export function registerStatusCommands(program: Command): void {
  program
    .command('status')
    .description(t('status.status'))
    .option('--explain', t('status.status.opt.explain'))
    .option('--all-updates', t('status.status.opt.all-updates'))
    .option('--history [since]', t('status.status.opt.history'))
    .option('--component <name>', t('status.status.opt.component'))
    .addHelpText('after', examples('keisan status', 'keisan status --json', 'keisan status --explain', 'keisan status --history 30d --component batch'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      if (options.history !== undefined) {
        const since = typeof options.history === 'string' ? options.history : undefined;
        const rows = await client.request<History>('GET', '/api/status/history', undefined, { since, component: options.component });
        out.result(rows, () =>
          out.table(
            [t('col.at-utc'), t('col.component'), t('col.state'), t('col.checks'), t('col.reason')],
            rows.map((r) => [formatUtc(new Date(r.at)), r.component, stateLabel(r.state), stateLabel(r.checksState), r.reason]),
            t('status.empty.state-changes-recorded-in'),
          ),
        );
        return;
      }
      if (options.component !== undefined) throw invalidInput(t('status.input.component-goes-with-history'));
      const page = await client.request<StatusPage>('GET', '/api/status');
      if (options.explain) {
        const explanation = await client.request<Explanation>('GET', '/api/status/explain');
        out.result({ ...page, explanation }, () => {
          printStatus(out, page, options);
          printExplanation(out, explanation);
        });
        return;
      }
      out.result(page, () => printStatus(out, page, options));
    });
}
