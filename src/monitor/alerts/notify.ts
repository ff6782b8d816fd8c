import { formatDuration } from '../../lib/units.ts';
import type { Notification, NotifiableAlert } from './state.ts';

/**
 * What a notification says, per channel: mail text (what and where, since when, the value, how
 * to silence), Alertmanager's webhook JSON (version 4), and a Slack-compatible `{text, blocks}`.
 */

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function where(alert: NotifiableAlert): string {
  return alert.labels.host ?? alert.labels.instance ?? '';
}

export function subjectOf(facility: string, n: Notification): string {
  const status = n.firing.length > 0 ? `FIRING:${n.firing.length}` : `RESOLVED:${n.resolved.length}`;
  const all = [...n.firing, ...n.resolved];
  const first = all[0];
  const name = n.groupLabels.alertname ?? first?.rule ?? 'alerts';
  const what = all.length === 1 && first ? first.summary || `${name} on ${where(first)}` : `${name}${n.groupLabels.host ? ` on ${n.groupLabels.host}` : ''}`;
  return `[${facility}] [${status}] ${what}`;
}

/** The command that silences just this alert: its name, host and what it is about (check, mount, GPU). */
function silenceHint(alert: NotifiableAlert): string {
  const names = ['alertname', 'host', 'check', 'mountpoint', 'gpu', 'device'].filter((name) => alert.labels[name]);
  const quote = (text: string) => (/^[A-Za-z0-9_.:/@=,+-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`);
  return `keisan silence add ${names.map((name) => `--match ${quote(`${name}=${alert.labels[name]}`)}`).join(' ')} --for 2h --comment "why"`;
}

export function mailText(n: Notification, nowMs: number): string {
  const lines: string[] = [];
  const describe = (alert: NotifiableAlert, resolved: boolean) => {
    lines.push(`* ${alert.summary || alert.rule}`);
    lines.push(`  alert:    ${alert.rule} (${alert.severity})${where(alert) ? ` on ${where(alert)}` : ''}`);
    if (resolved) lines.push(`  resolved: ${iso(alert.resolvedAt)} after ${formatDuration((alert.resolvedAt ?? nowMs) - (alert.firedAt ?? alert.startedAt))}`);
    else lines.push(`  since:    ${iso(alert.firedAt ?? alert.startedAt)} (${formatDuration(nowMs - (alert.firedAt ?? alert.startedAt))} ago)`);
    if (alert.value !== null) lines.push(`  value:    ${alert.value}`);
    const extra = Object.entries(alert.labels).filter(([k]) => !['alertname', 'severity', 'host'].includes(k));
    if (extra.length > 0) lines.push(`  labels:   ${extra.map(([k, v]) => `${k}=${v}`).join(', ')}`);
    if (alert.description) lines.push(`  ${alert.description}`);
    if (!resolved) lines.push(`  silence:  ${silenceHint(alert)}`);
    lines.push('');
  };
  if (n.firing.length > 0) {
    lines.push(`${n.firing.length} firing${n.repeat ? ' (still — a reminder)' : ''}:`, '');
    for (const alert of n.firing) describe(alert, false);
  }
  if (n.resolved.length > 0) {
    lines.push(`${n.resolved.length} resolved:`, '');
    for (const alert of n.resolved) describe(alert, true);
  }
  lines.push('See all alerts with `keisan alerts`; silences with `keisan silence list`.');
  return lines.join('\n');
}

function amAlert(alert: NotifiableAlert, status: 'firing' | 'resolved') {
  return {
    status,
    labels: alert.labels,
    annotations: { summary: alert.summary, description: alert.description },
    startsAt: iso(alert.firedAt ?? alert.startedAt),
    endsAt: status === 'resolved' ? iso(alert.resolvedAt) : '0001-01-01T00:00:00Z',
    generatorURL: '',
    fingerprint: alert.fingerprint,
  };
}

/** Alertmanager's webhook payload (version 4), so receivers written for it work unchanged. */
export function jsonPayload(facility: string, n: Notification) {
  const alerts = [...n.firing.map((a) => amAlert(a, 'firing')), ...n.resolved.map((a) => amAlert(a, 'resolved'))];
  const common = (pick: (a: NotifiableAlert) => Record<string, string>) => {
    const all = [...n.firing, ...n.resolved].map(pick);
    const first = all[0] ?? {};
    return Object.fromEntries(Object.entries(first).filter(([k, v]) => all.every((labels) => labels[k] === v)));
  };
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: 0,
    status: n.firing.length > 0 ? 'firing' : 'resolved',
    receiver: facility,
    groupLabels: n.groupLabels,
    commonLabels: common((a) => a.labels),
    commonAnnotations: common((a) => ({ summary: a.summary, description: a.description })),
    externalURL: '',
    alerts,
  };
}

/** Slack's incoming-webhook format (Mattermost and Rocket.Chat take it too). */
export function slackPayload(facility: string, n: Notification) {
  const text = subjectOf(facility, n);
  const line = (alert: NotifiableAlert, resolved: boolean) =>
    `${resolved ? ':white_check_mark:' : alert.severity === 'critical' ? ':red_circle:' : ':warning:'} *${alert.rule}*${where(alert) ? ` on \`${where(alert)}\`` : ''}: ${alert.summary}`;
  const lines = [...n.firing.map((a) => line(a, false)), ...n.resolved.map((a) => line(a, true))];
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: text.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 3000) } },
    ],
  };
}

/** Posts JSON; resolves with nothing, or throws with why (status and the start of the body). */
export async function postJson(url: string, body: unknown, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'keisan-alerts', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((error: unknown) => {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
    throw new Error(`could not reach ${url}: ${cause}`);
  });
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).slice(0, 200);
    throw new Error(`${url} answered ${response.status}${text ? `: ${text}` : ''}`);
  }
  await response.arrayBuffer().catch(() => undefined);
}
