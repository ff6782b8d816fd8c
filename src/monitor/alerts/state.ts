import { createHash } from 'node:crypto';
import { compileMatcher, labelKey } from '../series.ts';
import { MATCHER, type AlertSource, type AlertState, type Matcher, type Severity } from './model.ts';
import type { InhibitRule } from './settings.ts';
import { unquote } from './settings.ts';

/**
 * The alert life cycle, silences, inhibition and notification grouping as pure functions of
 * their inputs and the time (`nowMs`): the service holds the state, stores it, and acts on what
 * these return.
 *
 *   inactive ──condition──► pending ──held for `for`──► firing ──condition gone──► resolved
 *       ▲                      │ condition gone                                      │
 *       └──────────────────────┴─────────────────────────────── condition again ◄────┘ (a new alert)
 */

export interface Alert {
  /** The stored row, once stored. */
  id: number | null;
  fingerprint: string;
  source: AlertSource;
  rule: string;
  /** Every label: the series', the rule's, `alertname` and `severity`. */
  labels: Record<string, string>;
  severity: Severity;
  state: AlertState;
  value: number | null;
  summary: string;
  description: string;
  startedAt: number;
  firedAt: number | null;
  resolvedAt: number | null;
  lastEvalAt: number;
  /** What the last notification about it said, and when. */
  notified: 'firing' | 'resolved' | null;
  notifiedAt: number | null;
}

/** One series for which a rule's condition holds now. */
export interface RuleResult {
  labels: Record<string, string>;
  value: number;
  summary: string;
  description: string;
}

export interface Transition {
  alert: Alert;
  from: AlertState | 'inactive';
  to: AlertState | 'inactive';
}

/** Same rule and same labels = the same alert. */
export function fingerprint(rule: string, labels: Record<string, string>): string {
  return createHash('sha256').update(`${rule}\u0000${labelKey(labels)}`).digest('hex').slice(0, 16);
}

/** The labels of the alert a rule result raises: the series' (no metric name), the rule's, alertname, severity. */
export function alertLabels(rule: { name: string; severity: Severity; labels: Record<string, string> }, series: Record<string, string>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [name, value] of Object.entries(series)) if (name !== '__name__') labels[name] = value;
  return { ...labels, ...rule.labels, alertname: rule.name, severity: rule.severity };
}

export interface StepOptions {
  /** Until then, an active alert whose condition is not seen stays as it is (after a restart). */
  holdUntilMs?: number;
  /** An active alert whose condition is not seen stays as it is while this says so. */
  hold?: (alert: Alert) => boolean;
}

/**
 * One evaluation of one rule: `current` are the rule's pending and firing alerts, `results` the
 * series for which its condition holds now (their labels already alert labels). Returns the
 * rule's alerts afterwards (the resolved ones included, for notification) and what changed.
 */
export function stepRule(
  rule: { name: string; forMs: number; severity: Severity },
  current: readonly Alert[],
  results: readonly RuleResult[],
  nowMs: number,
  options: StepOptions = {},
): { alerts: Alert[]; transitions: Transition[] } {
  const byFingerprint = new Map(current.filter((a) => a.state !== 'resolved').map((a) => [a.fingerprint, a]));
  const next = new Map<string, Alert>();
  const transitions: Transition[] = [];
  for (const result of results) {
    const id = fingerprint(rule.name, result.labels);
    if (next.has(id)) continue; // deduplicated: one alert per fingerprint
    const existing = byFingerprint.get(id);
    if (existing) {
      const alert: Alert = { ...existing, value: result.value, summary: result.summary, description: result.description, lastEvalAt: nowMs, severity: rule.severity };
      if (alert.state === 'pending' && nowMs - alert.startedAt >= rule.forMs) {
        alert.state = 'firing';
        alert.firedAt = nowMs;
        transitions.push({ alert, from: 'pending', to: 'firing' });
      }
      next.set(id, alert);
      continue;
    }
    const fires = rule.forMs <= 0;
    const alert: Alert = {
      id: null,
      fingerprint: id,
      source: 'rule',
      rule: rule.name,
      labels: result.labels,
      severity: rule.severity,
      state: fires ? 'firing' : 'pending',
      value: result.value,
      summary: result.summary,
      description: result.description,
      startedAt: nowMs,
      firedAt: fires ? nowMs : null,
      resolvedAt: null,
      lastEvalAt: nowMs,
      notified: null,
      notifiedAt: null,
    };
    transitions.push({ alert, from: 'inactive', to: alert.state });
    next.set(id, alert);
  }
  for (const [id, alert] of byFingerprint) {
    if (next.has(id)) continue;
    if ((options.holdUntilMs !== undefined && nowMs < options.holdUntilMs) || options.hold?.(alert)) {
      next.set(id, alert);
      continue;
    }
    if (alert.state === 'pending') {
      transitions.push({ alert: { ...alert, lastEvalAt: nowMs }, from: 'pending', to: 'inactive' });
      continue;
    }
    const resolved: Alert = { ...alert, state: 'resolved', resolvedAt: nowMs, lastEvalAt: nowMs };
    transitions.push({ alert: resolved, from: 'firing', to: 'resolved' });
    next.set(id, resolved);
  }
  // Alerts resolved earlier stay until their resolution is notified (the service drops them),
  // unless the condition came back: then the new alert takes the fingerprint.
  for (const alert of current) if (alert.state === 'resolved' && !next.has(alert.fingerprint)) next.set(alert.fingerprint, alert);
  return { alerts: [...next.values()], transitions };
}

// ------------------------------------------------------------------------------- matchers

/** Parses `label=value` (also !=, =~, !~; the value may be quoted); null if it is not one. */
export function parseMatcher(text: string): Matcher | null {
  const match = MATCHER.exec(text);
  if (!match) return null;
  return { name: match[1]!, op: match[2] as Matcher['op'], value: unquote(match[3]!) };
}

export function matchesAll(matchers: readonly Matcher[], labels: Record<string, string>): boolean {
  return matchers.every((matcher) => compileMatcher(matcher)(labels));
}

// ------------------------------------------------------------------------------- silences

export interface SilenceWindow {
  id: number;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
}

export function silenceState(silence: Pick<SilenceWindow, 'startsAt' | 'endsAt'>, nowMs: number): 'pending' | 'active' | 'expired' {
  if (nowMs >= silence.endsAt) return 'expired';
  return nowMs < silence.startsAt ? 'pending' : 'active';
}

/** The ids of the silences that mute an alert with these labels now. */
export function silencedBy(labels: Record<string, string>, silences: readonly SilenceWindow[], nowMs: number): number[] {
  return silences.filter((s) => silenceState(s, nowMs) === 'active' && matchesAll(s.matchers, labels)).map((s) => s.id);
}

// ------------------------------------------------------------------------------- inhibition

export interface CompiledInhibit {
  source: Matcher[];
  target: Matcher[];
  equal: string[];
}

export function compileInhibit(rules: readonly InhibitRule[]): CompiledInhibit[] {
  return rules.map((rule) => ({ source: rule.source.map((m) => parseMatcher(m)!), target: rule.target.map((m) => parseMatcher(m)!), equal: rule.equal }));
}

/**
 * The firing alerts that inhibit `alert` (as Alertmanager: a firing source alert meeting a rule's
 * source matchers, the alert meeting its target matchers, the `equal` labels the same on both;
 * an alert never inhibits itself).
 */
export function inhibitedBy(alert: Pick<Alert, 'fingerprint' | 'labels'>, firing: readonly Pick<Alert, 'fingerprint' | 'labels' | 'state'>[], rules: readonly CompiledInhibit[]): string[] {
  const sources = new Set<string>();
  for (const rule of rules) {
    if (!matchesAll(rule.target, alert.labels)) continue;
    for (const source of firing) {
      if (source.state !== 'firing' || source.fingerprint === alert.fingerprint) continue;
      if (!matchesAll(rule.source, source.labels)) continue;
      if (rule.equal.every((name) => (source.labels[name] ?? '') === (alert.labels[name] ?? ''))) sources.add(source.fingerprint);
    }
  }
  return [...sources];
}

// ------------------------------------------------------------------------------- grouping

export interface GroupSettings {
  by: string[];
  waitMs: number;
  intervalMs: number;
  repeatMs: number;
}

export interface Group {
  key: string;
  labels: Record<string, string>;
  /** The next time the group may notify. */
  nextFlushAt: number;
}

/** An alert as the notifier sees it: muted = silenced or inhibited. */
export interface NotifiableAlert extends Alert {
  muted: boolean;
}

export interface Notification {
  groupKey: string;
  groupLabels: Record<string, string>;
  firing: NotifiableAlert[];
  resolved: NotifiableAlert[];
  /** Nothing new: the group is still firing after the repeat interval. */
  repeat: boolean;
}

export function groupLabelsOf(labels: Record<string, string>, by: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of by) if (labels[name] !== undefined) picked[name] = labels[name];
  return picked;
}

/**
 * Alertmanager's grouping: alerts with the same values of the `by` labels form a group. A new
 * group waits `wait` for company, then notifies; afterwards changes (a newly firing alert, a
 * resolved one that had been notified) go out at most every `interval`, and a group still firing
 * with nothing new is sent again after `repeat`. Muted alerts send nothing; an alert resolved
 * without having been notified sends nothing either. What was notified is kept on each alert
 * (`notified`, `notifiedAt`), so a restart neither forgets nor repeats it.
 */
export function planNotifications(groups: ReadonlyMap<string, Group>, alerts: readonly NotifiableAlert[], nowMs: number, settings: GroupSettings): { groups: Map<string, Group>; notifications: Notification[] } {
  const members = new Map<string, { labels: Record<string, string>; alerts: NotifiableAlert[] }>();
  for (const alert of alerts) {
    const labels = groupLabelsOf(alert.labels, settings.by);
    const key = labelKey(labels);
    let member = members.get(key);
    if (!member) {
      member = { labels, alerts: [] };
      members.set(key, member);
    }
    member.alerts.push(alert);
  }
  const next = new Map<string, Group>();
  const notifications: Notification[] = [];
  for (const [key, { labels, alerts: inGroup }] of members) {
    const firing = inGroup.filter((a) => a.state === 'firing' && !a.muted);
    const resolved = inGroup.filter((a) => a.state === 'resolved' && a.notified === 'firing');
    const stillFiring = inGroup.some((a) => a.state === 'firing');
    let group = groups.get(key);
    if (!group) {
      if (firing.length === 0 && resolved.length === 0) continue;
      group = { key, labels, nextFlushAt: nowMs + settings.waitMs };
    }
    if (nowMs >= group.nextFlushAt) {
      const fresh = firing.some((a) => a.notified !== 'firing');
      const lastNotified = Math.max(-Infinity, ...firing.filter((a) => a.notifiedAt !== null).map((a) => a.notifiedAt!));
      const repeat = !fresh && resolved.length === 0 && firing.length > 0 && nowMs - lastNotified >= settings.repeatMs;
      if (fresh || resolved.length > 0 || repeat) {
        notifications.push({ groupKey: key, groupLabels: labels, firing, resolved, repeat });
        group = { ...group, nextFlushAt: nowMs + settings.intervalMs };
      }
    }
    // A group lives while it has firing alerts (muted ones too) or resolved ones to report.
    const pendingResolved = resolved.length > 0 && !notifications.some((n) => n.groupKey === key);
    if (stillFiring || pendingResolved) next.set(key, group);
  }
  return { groups: next, notifications };
}
