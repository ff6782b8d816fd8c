import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { auditedChange, auditedRefusal } from '../../accounts/audit.ts';
import type { Actor } from '../../accounts/model.ts';
import { authorize, type AccountAction } from '../../accounts/policy.ts';
import { addNotification } from '../../batch/store.ts';
import type { Database } from '../../db/schema.ts';
import type { Clock } from '../../lib/clock.ts';
import { conflict, invalidInput, notFound } from '../../lib/errors.ts';
import { formatDuration, parseDuration } from '../../lib/units.ts';
import type { MonitorHub } from '../hub.ts';
import type { MailService } from '../service.ts';
import { asVector, evaluate, EvalError } from './evaluate.ts';
import { ExprError, parseExpr, pointAt } from './expr.ts';
import { SEVERITY_RANK, type AlertmanagerPayload, type AlertState, type AlertView, type NotificationEntry, type RuleView, type Severity, type Silence, type SilenceInput } from './model.ts';
import { jsonPayload, mailText, postJson, slackPayload, subjectOf } from './notify.ts';
import { effectiveRules, type CompiledRule } from './rules.ts';
import type { AlertsSettings } from './settings.ts';
import { matcherProblem } from './settings.ts';
import {
  alertLabels,
  compileInhibit,
  fingerprint,
  inhibitedBy,
  matchesAll,
  parseMatcher,
  planNotifications,
  silencedBy,
  stepRule,
  type Alert,
  type CompiledInhibit,
  type Group,
  type Notification,
  type NotifiableAlert,
  type SilenceWindow,
  type Transition,
} from './state.ts';
import * as store from './store.ts';
import { renderTemplate } from './template.ts';

/**
 * The incidents room (a later issue) plugs in here: called when an alert of severity critical
 * starts firing (Keisan's rules or Alertmanager's) and when it resolves.
 */
export interface IncidentHook {
  alertFiring(alert: AlertView): Promise<void>;
  alertResolved(alert: AlertView): Promise<void>;
}

export interface AlertsServiceOptions {
  db: Kysely<Database>;
  clock: Clock;
  settings: AlertsSettings;
  facility: string;
  monitor: MonitorHub;
  mail: MailService;
  logger: FastifyBaseLogger;
  /** Checks `Authorization: Node <secret>` (throws NOT_AUTHENTICATED). */
  verifyNodeSecret: (header: string | undefined) => void;
  /** Waits between webhook attempts (default 1 s, 5 s, 30 s, 60 s…); tests shorten them. */
  webhookRetryDelaysMs?: number[];
}

const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 60_000];
const CHECK_SERIES = new Set(['keisan_check_status', 'keisan_check_value']);

/**
 * Alert rules evaluated over the monitor hub's recent history every `evaluationInterval`,
 * their alerts' life cycle (state.ts), stored with their history; silences, inhibition, grouped
 * notifications by e-mail (the durable outbox), webhooks and in-app notices, each delivery
 * logged; Alertmanager's alerts received alongside; and the incident hook for critical ones.
 */
export class AlertsService {
  readonly rules: CompiledRule[];
  private readonly inhibit: CompiledInhibit[];
  /** Pending and firing alerts, and resolved ones whose resolution is still to be notified. */
  private readonly alerts = new Map<string, Alert>();
  private groups = new Map<string, Group>();
  private readonly health = new Map<string, { lastEvalAt: number | null; lastError: string | null }>();
  private readonly hooks: IncidentHook[] = [];
  private holdUntilMs: number | undefined;
  /** Alerts restored at start: held while their host has not reported since (see runPass). */
  private readonly restored = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> = Promise.resolve();
  private readonly deliveries = new Set<Promise<void>>();
  private readonly wakers = new Set<() => void>();
  private closed = false;

  constructor(private readonly o: AlertsServiceOptions) {
    this.rules = effectiveRules(o.settings.rules);
    this.inhibit = compileInhibit(o.settings.inhibit);
    for (const rule of this.rules) this.health.set(rule.name, { lastEvalAt: null, lastError: null });
  }

  private now(): number {
    return this.o.clock.now().getTime();
  }

  /** Registers the incident hook (the incidents room); by default only a log line is written. */
  onCritical(listener: IncidentHook): void {
    this.hooks.push(listener);
  }

  /** Restores the alerts of before a restart (without notifying them again) and starts evaluating. */
  async start(): Promise<void> {
    const restored = await store.activeAlerts(this.o.db);
    for (const alert of restored) {
      this.alerts.set(alert.fingerprint, alert);
      if (alert.source === 'rule') this.restored.add(alert.fingerprint);
    }
    if (restored.some((a) => a.source === 'rule')) this.holdUntilMs = this.now() + this.o.settings.restoreGrace;
    if (restored.length > 0) this.o.logger.info({ restored: restored.length }, 'alerts: restored active alerts');
    if (this.o.settings.notify.email.length > 0 && !this.o.mail.configured) {
      this.o.logger.warn({ to: this.o.settings.notify.email }, 'alerts: monitor.alerts.notify.email is set but keisan.yaml has no mail: section — alert mail is logged as not sent (keisan alerts notifications)');
    }
    this.timer = setInterval(() => void this.evaluateNow().catch((error: unknown) => this.o.logger.error({ err: error }, 'alerts: evaluation failed')), this.o.settings.evaluationInterval);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.pass.catch(() => undefined);
    for (const wake of [...this.wakers]) wake();
    await Promise.allSettled([...this.deliveries]);
  }

  /** One evaluation pass now (passes never overlap); the timer calls it, tests too. */
  evaluateNow(): Promise<void> {
    const next = this.pass.catch(() => undefined).then(() => (this.closed ? undefined : this.runPass()));
    this.pass = next;
    return next;
  }

  /** Waits for webhook deliveries under way (tests). */
  async settled(): Promise<void> {
    while (this.deliveries.size > 0) await Promise.allSettled([...this.deliveries]);
  }

  // ------------------------------------------------------------------------------ evaluation

  private results(rule: CompiledRule, nowMs: number) {
    const value = evaluate(rule.ast, { reader: this.o.monitor.reader, nowMs, lookbackMs: this.o.settings.lookback });
    return asVector(value).map((sample) => {
      const labels = alertLabels(rule, sample.labels);
      const host = sample.labels.host;
      const check = sample.labels.check;
      let summary = '';
      if (host !== undefined && check !== undefined && (sample.labels.__name__ === undefined || CHECK_SERIES.has(sample.labels.__name__))) {
        summary = this.o.monitor.check(host, check)?.summary ?? `${check} on ${host}`;
      }
      const data = { labels, value: sample.value, summary };
      return { labels, value: sample.value, summary: renderTemplate(rule.summary, data), description: renderTemplate(rule.description, data) };
    });
  }

  private async runPass(): Promise<void> {
    const nowMs = this.now();
    // After a restart the hub's history is empty: a restored alert whose condition is not seen is
    // held for restoreGrace, and beyond it while its host has not reported since the restart (a
    // host that was down before stays down, rather than "resolved" for want of data).
    const reporting = new Set(this.o.monitor.hosts(nowMs).map((h) => h.host));
    const graceOver = this.holdUntilMs === undefined || nowMs >= this.holdUntilMs;
    const hold = {
      hold: (alert: Alert) => {
        if (!this.restored.has(alert.fingerprint)) return false;
        if (!graceOver) return true;
        const host = alert.labels.host;
        if (host !== undefined && !reporting.has(host)) return true;
        this.restored.delete(alert.fingerprint);
        return false;
      },
    };
    const transitions: Transition[] = [];
    const changed = new Set<string>();
    const ruleNames = new Set(this.rules.map((r) => r.name));
    for (const rule of this.rules) {
      const last = this.health.get(rule.name)?.lastEvalAt;
      if (rule.intervalMs !== null && last !== null && last !== undefined && nowMs - last < rule.intervalMs && nowMs >= last) continue;
      const current = [...this.alerts.values()].filter((a) => a.source === 'rule' && a.rule === rule.name);
      let results;
      try {
        results = this.results(rule, nowMs);
        this.health.set(rule.name, { lastEvalAt: nowMs, lastError: null });
      } catch (error) {
        const message = error instanceof EvalError || error instanceof Error ? error.message : String(error);
        const before = this.health.get(rule.name);
        if (before?.lastError !== message) this.o.logger.warn({ rule: rule.name, error: message }, 'alerts: rule failed to evaluate');
        this.health.set(rule.name, { lastEvalAt: nowMs, lastError: message });
        continue;
      }
      const step = stepRule(rule, current, results, nowMs, hold);
      for (const alert of step.alerts) if (alert.lastEvalAt === nowMs && alert.state !== 'resolved') this.restored.delete(alert.fingerprint);
      this.apply(current, step.alerts, step.transitions, changed);
      transitions.push(...step.transitions);
    }
    // Alerts of rules no longer configured resolve (after the restore grace).
    const orphans = [...this.alerts.values()].filter((a) => a.source === 'rule' && !ruleNames.has(a.rule) && a.state !== 'resolved');
    for (const name of new Set(orphans.map((a) => a.rule))) {
      const current = orphans.filter((a) => a.rule === name);
      const step = stepRule({ name, forMs: 0, severity: 'info' }, current, [], nowMs, hold);
      this.apply(current, step.alerts, step.transitions, changed);
      transitions.push(...step.transitions);
    }
    await this.persist(changed, transitions);
    await this.callHooks(transitions);
    await this.notify(nowMs);
  }

  /** Replaces a rule's alerts in memory with the step's result; notes what to store. */
  private apply(before: readonly Alert[], after: readonly Alert[], transitions: readonly Transition[], changed: Set<string>): void {
    const previous = new Map(before.map((a) => [a.fingerprint, a]));
    for (const alert of before) this.alerts.delete(alert.fingerprint);
    for (const alert of after) {
      this.alerts.set(alert.fingerprint, alert);
      const old = previous.get(alert.fingerprint);
      if (!old || old.state !== alert.state || old.value !== alert.value || old.summary !== alert.summary) changed.add(alert.fingerprint);
    }
    for (const t of transitions) if (t.to === 'inactive') changed.add(`gone:${t.alert.fingerprint}:${t.alert.id ?? ''}`);
  }

  private async persist(changed: Set<string>, transitions: readonly Transition[]): Promise<void> {
    for (const key of changed) {
      if (key.startsWith('gone:')) {
        const id = Number(key.split(':')[2]);
        if (id) await store.deleteAlert(this.o.db, id);
        continue;
      }
      const alert = this.alerts.get(key);
      if (!alert) continue;
      const id = await store.saveAlert(this.o.db, alert);
      if (alert.id === null) this.alerts.set(key, { ...alert, id });
    }
    // Transition objects carry the alert as it was when computed: give them their row id.
    for (const t of transitions) if (t.alert.id === null) t.alert.id = this.alerts.get(t.alert.fingerprint)?.id ?? null;
  }

  private async callHooks(transitions: readonly Transition[]): Promise<void> {
    for (const t of transitions) {
      if (t.alert.severity !== 'critical') continue;
      if (t.to === 'firing') await this.fireHook(t.alert, 'firing');
      else if (t.from === 'firing' && t.to === 'resolved') await this.fireHook(t.alert, 'resolved');
    }
  }

  private async fireHook(alert: Alert, what: 'firing' | 'resolved'): Promise<void> {
    const view = this.view(alert, this.now(), [], []);
    this.o.logger.info({ alert: alert.rule, fingerprint: alert.fingerprint, host: alert.labels.host, source: alert.source, summary: alert.summary }, what === 'firing' ? 'alerts: critical alert firing (incident hook)' : 'alerts: critical alert resolved (incident hook)');
    for (const hook of this.hooks) {
      try {
        await (what === 'firing' ? hook.alertFiring(view) : hook.alertResolved(view));
      } catch (error) {
        this.o.logger.error({ err: error, alert: alert.rule }, 'alerts: the incident hook failed');
      }
    }
  }

  // ------------------------------------------------------------------------------ notification

  private async activeSilences(nowMs: number): Promise<SilenceWindow[]> {
    const rows = await store.listSilences(this.o.db, new Date(nowMs), false);
    return rows.map((row) => ({ id: Number(row.id), matchers: JSON.parse(row.matchers) as SilenceWindow['matchers'], startsAt: Date.parse(row.starts_at), endsAt: Date.parse(row.ends_at) }));
  }

  private async notify(nowMs: number): Promise<void> {
    const silences = await this.activeSilences(nowMs);
    const firing = [...this.alerts.values()].filter((a) => a.state === 'firing');
    const candidates: NotifiableAlert[] = [...this.alerts.values()]
      .filter((a) => a.source === 'rule' && a.state !== 'pending')
      .map((a) => ({ ...a, muted: silencedBy(a.labels, silences, nowMs).length > 0 || inhibitedBy(a, firing, this.inhibit).length > 0 }));
    const g = this.o.settings.group;
    const plan = planNotifications(this.groups, candidates, nowMs, { by: g.by, waitMs: g.wait, intervalMs: g.interval, repeatMs: g.repeat });
    this.groups = plan.groups;
    for (const notification of plan.notifications) {
      await this.deliver(notification, nowMs);
      for (const [list, said] of [[notification.firing, 'firing'], [notification.resolved, 'resolved']] as const) {
        for (const sent of list) {
          const alert = this.alerts.get(sent.fingerprint);
          if (!alert) continue;
          const updated: Alert = { ...alert, notified: said, notifiedAt: nowMs };
          this.alerts.set(alert.fingerprint, updated);
          await store.saveAlert(this.o.db, updated);
        }
      }
    }
    // Resolved alerts leave memory once their resolution is told (or when nobody was told they fired).
    for (const alert of [...this.alerts.values()]) {
      if (alert.state === 'resolved' && alert.notified !== 'firing') this.alerts.delete(alert.fingerprint);
    }
  }

  private async deliver(n: Notification, nowMs: number): Promise<void> {
    const { notify } = this.o.settings;
    const now = new Date(nowMs);
    const atLeast = (min: Severity) => ({
      ...n,
      firing: n.firing.filter((a) => SEVERITY_RANK[a.severity] >= SEVERITY_RANK[min]),
      resolved: n.resolved.filter((a) => SEVERITY_RANK[a.severity] >= SEVERITY_RANK[min]),
    });
    const base = { groupKey: n.groupKey };
    const counts = (m: Notification) => ({ firing: m.firing.length, resolved: m.resolved.length, fingerprints: [...m.firing, ...m.resolved].map((a) => a.fingerprint) });

    const personal = atLeast(notify.minSeverity);
    if (personal.firing.length + personal.resolved.length > 0) {
      const subject = subjectOf(this.o.facility, personal);
      const text = mailText(personal, nowMs);
      const operators = notify.operators ? await store.operators(this.o.db) : [];
      const addresses = [...new Set([...notify.email, ...operators.map((op) => op.email).filter((e): e is string => !!e)])];
      for (const address of addresses) {
        const result = await this.o.mail.toUser('keisan', address, { subject, text });
        await store.logNotification(
          this.o.db,
          { ...base, ...counts(personal), channel: 'email', target: address, subject, status: result.queued ? 'queued' : 'failed', attempts: 0, error: result.queued ? null : result.reason, deliveredAt: null },
          now,
        );
      }
      for (const op of operators) {
        await addNotification(this.o.db, op.name, personal.firing.length > 0 ? 'alert-firing' : 'alert-resolved', subject, text, now);
        await store.logNotification(this.o.db, { ...base, ...counts(personal), channel: 'in-app', target: op.name, subject, status: 'sent', attempts: 1, error: null, deliveredAt: now }, now);
      }
    }
    for (const hook of notify.webhooks) {
      const part = atLeast(hook.minSeverity);
      if (part.firing.length + part.resolved.length === 0) continue;
      const subject = subjectOf(this.o.facility, part);
      const body = hook.format === 'slack' ? slackPayload(this.o.facility, part) : jsonPayload(this.o.facility, part);
      const id = await store.logNotification(this.o.db, { ...base, ...counts(part), channel: 'webhook', target: hook.url, subject, status: 'queued', attempts: 0, error: null, deliveredAt: null }, now);
      const delivery = this.postWithRetries(id, hook.url, body, hook.headers).finally(() => this.deliveries.delete(delivery));
      this.deliveries.add(delivery);
    }
  }

  /** Waits between webhook attempts; cut short when the server closes. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakers.add(done);
    });
  }

  private async postWithRetries(id: number, url: string, body: unknown, headers: Record<string, string>): Promise<void> {
    const { webhookAttempts, webhookTimeout } = this.o.settings.notify;
    const delays = this.o.webhookRetryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    let lastError = '';
    for (let attempt = 1; attempt <= webhookAttempts; attempt++) {
      try {
        await postJson(url, body, headers, webhookTimeout);
        await store.updateNotification(this.o.db, id, { status: 'sent', attempts: attempt, error: null, deliveredAt: this.o.clock.now() });
        return;
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
        const final = attempt === webhookAttempts || this.closed;
        await store.updateNotification(this.o.db, id, { status: final ? 'failed' : 'queued', attempts: attempt, error: lastError, deliveredAt: null });
        if (final) break;
        await this.sleep(delays[Math.min(attempt - 1, delays.length - 1)]!);
        if (this.closed) {
          await store.updateNotification(this.o.db, id, { status: 'failed', attempts: attempt, error: `${lastError} (the server stopped before the next attempt)`, deliveredAt: null });
          break;
        }
      }
    }
    this.o.logger.warn({ url, error: lastError }, 'alerts: webhook not delivered');
  }

  // ------------------------------------------------------------------------------ Alertmanager

  /** Alertmanager's webhook: its alerts are recorded beside Keisan's (source alertmanager). */
  async receiveAlertmanager(payload: AlertmanagerPayload): Promise<{ firing: number; resolved: number }> {
    const nowMs = this.now();
    let firing = 0;
    let resolved = 0;
    for (const incoming of payload.alerts) {
      const rule = incoming.labels.alertname ?? 'Alertmanager';
      const labels: Record<string, string> = { ...incoming.labels, alertname: rule };
      const id = `am-${(incoming.fingerprint ?? fingerprint(rule, labels)).slice(0, 60)}`;
      const severity = severityOf(labels.severity);
      const existing = this.alerts.get(id);
      const startsAt = Date.parse(incoming.startsAt);
      if (incoming.status === 'firing') {
        firing++;
        const alert: Alert = {
          id: existing?.id ?? null,
          fingerprint: id,
          source: 'alertmanager',
          rule,
          labels,
          severity,
          state: 'firing',
          value: null,
          summary: incoming.annotations.summary ?? incoming.annotations.message ?? `${rule}${labels.instance ? ` on ${labels.instance}` : ''}`,
          description: incoming.annotations.description ?? '',
          startedAt: existing?.startedAt ?? (Number.isFinite(startsAt) ? startsAt : nowMs),
          firedAt: existing?.firedAt ?? (Number.isFinite(startsAt) ? startsAt : nowMs),
          resolvedAt: null,
          lastEvalAt: nowMs,
          notified: null,
          notifiedAt: null,
        };
        alert.id = await store.saveAlert(this.o.db, alert);
        this.alerts.set(id, alert);
        if (!existing && severity === 'critical') await this.fireHook(alert, 'firing');
      } else if (existing) {
        resolved++;
        const ends = incoming.endsAt ? Date.parse(incoming.endsAt) : NaN;
        const alert: Alert = { ...existing, state: 'resolved', resolvedAt: Number.isFinite(ends) ? ends : nowMs, lastEvalAt: nowMs };
        await store.saveAlert(this.o.db, alert);
        this.alerts.delete(id);
        if (severity === 'critical') await this.fireHook(alert, 'resolved');
      }
    }
    return { firing, resolved };
  }

  /** Alertmanager authenticates with `Bearer <monitor.alerts.alertmanagerToken>` or the node secret. */
  authenticateAlertmanager(header: string | undefined): void {
    const bearer = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    const token = this.o.settings.alertmanagerToken;
    if (bearer && token !== undefined && safeEqual(bearer[1]!, token)) return;
    // The node secret works too, as a bearer token or as `Node <secret>`.
    this.o.verifyNodeSecret(bearer ? `Node ${bearer[1]}` : header);
  }

  // ------------------------------------------------------------------------------ reading

  private view(alert: Alert, nowMs: number, silences: readonly SilenceWindow[], firing: readonly Alert[]): AlertView {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const active = alert.state !== 'resolved';
    return {
      id: alert.id,
      fingerprint: alert.fingerprint,
      source: alert.source,
      alertname: alert.rule,
      labels: alert.labels,
      severity: alert.severity,
      state: alert.state,
      value: alert.value === null || !Number.isFinite(alert.value) ? null : alert.value,
      summary: alert.summary,
      description: alert.description,
      startedAt: iso(alert.startedAt)!,
      firedAt: iso(alert.firedAt),
      resolvedAt: iso(alert.resolvedAt),
      lastEvalAt: iso(alert.lastEvalAt)!,
      silencedBy: active ? silencedBy(alert.labels, silences, nowMs) : [],
      inhibitedBy: active
        ? inhibitedBy(alert, firing, this.inhibit).map((fp) => {
            const source = this.alerts.get(fp);
            return source ? `${source.rule}${source.labels.host ? ` on ${source.labels.host}` : ''}` : fp;
          })
        : [],
      notified: alert.notified,
    };
  }

  /** Alerts by state: active (pending and firing, the default), firing, pending, resolved, or all. Any logged-in user. */
  async list(_actor: Actor, state: 'active' | AlertState | 'all', limit = 200): Promise<AlertView[]> {
    const nowMs = this.now();
    const silences = await this.activeSilences(nowMs);
    const firing = [...this.alerts.values()].filter((a) => a.state === 'firing');
    const active = [...this.alerts.values()].filter((a) => a.state !== 'resolved' && (state === 'all' || state === 'active' || a.state === state));
    const order = (a: Alert, b: Alert) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.startedAt - b.startedAt || a.fingerprint.localeCompare(b.fingerprint);
    const views = active.sort(order).map((a) => this.view(a, nowMs, silences, firing));
    if (state === 'resolved' || state === 'all') views.push(...(await store.resolvedAlerts(this.o.db, limit)).map((a) => this.view(a, nowMs, silences, firing)));
    return views.slice(0, Math.max(limit, active.length));
  }

  listRules(_actor: Actor): RuleView[] {
    const active = [...this.alerts.values()].filter((a) => a.state !== 'resolved');
    return this.rules.map((rule) => {
      const health = this.health.get(rule.name);
      return {
        name: rule.name,
        expr: rule.expr,
        for: rule.forText,
        forSeconds: rule.forMs / 1000,
        intervalSeconds: rule.intervalMs === null ? null : rule.intervalMs / 1000,
        severity: rule.severity,
        labels: rule.labels,
        summary: rule.summary,
        description: rule.description,
        origin: rule.origin,
        health: {
          lastEvalAt: health?.lastEvalAt ? new Date(health.lastEvalAt).toISOString() : null,
          lastError: health?.lastError ?? null,
          active: active.filter((a) => a.source === 'rule' && a.rule === rule.name).length,
        },
      };
    });
  }

  /** Parses an expression: its type, or INVALID_INPUT with the position and a pointer. */
  validate(expr: string): { ok: true; type: string; expr: string } {
    try {
      return { ok: true, type: parseExpr(expr).type, expr };
    } catch (error) {
      if (!(error instanceof ExprError)) throw error;
      throw invalidInput(error.message, { position: error.position, line: error.line, column: error.column, pointer: pointAt(expr, error) });
    }
  }

  /**
   * Checks an expression and evaluates it now over the recent history: what a rule with it would
   * alert on (operators: an expression may read hours of every series).
   */
  async evaluateExpr(actor: Actor, expr: string, limit: number): Promise<{ ok: true; type: string; expr: string; result: { labels: Record<string, string>; value: number | null }[]; total: number }> {
    const checked = this.validate(expr);
    await this.require(actor, { kind: 'alerts.admin' }, 'alerts.evaluate', 'expression');
    let samples;
    try {
      samples = asVector(evaluate(parseExpr(expr).ast, { reader: this.o.monitor.reader, nowMs: this.now(), lookbackMs: this.o.settings.lookback }));
    } catch (error) {
      if (error instanceof EvalError) throw invalidInput(`the expression is valid but could not be evaluated: ${error.message}`);
      throw error;
    }
    const result = samples.slice(0, limit).map((s) => ({ labels: s.labels, value: Number.isFinite(s.value) ? s.value : null }));
    return { ...checked, result, total: samples.length };
  }

  async notifications(actor: Actor, limit: number): Promise<NotificationEntry[]> {
    await this.require(actor, { kind: 'alerts.admin' }, 'alerts.notifications', 'log');
    return store.listNotifications(this.o.db, limit);
  }

  // ------------------------------------------------------------------------------ silences

  private async require(actor: Actor, action: AccountAction, what: string, target: string): Promise<void> {
    const decision = authorize(actor, action);
    if (!decision.allowed) throw await auditedRefusal(this.o.db, { actor, action: what, targetType: 'silence', target }, decision.reason, this.o.clock.now());
  }

  async listSilences(_actor: Actor, all: boolean): Promise<Silence[]> {
    const nowMs = this.now();
    return (await store.listSilences(this.o.db, new Date(nowMs), all)).map((row) => store.toSilence(row, nowMs));
  }

  async addSilence(actor: Actor, input: SilenceInput): Promise<Silence> {
    await this.require(actor, { kind: 'alerts.admin' }, 'silence.add', input.matchers.join(','));
    const matchers = input.matchers.map((text) => {
      const problem = matcherProblem(text);
      if (problem) throw invalidInput(`--match ${problem}`);
      return parseMatcher(text)!;
    });
    // As Alertmanager: at least one matcher must not match an absent label, or the silence could mute everything.
    if (matchers.every((m) => matchesAll([m], {}))) {
      throw invalidInput('these matchers would also match alerts without those labels (every alert): give at least one that needs a value, e.g. host=node1 or alertname=HostDown');
    }
    const nowMs = this.now();
    const startsAt = input.startsAt ? Date.parse(input.startsAt) : nowMs;
    if (input.endsAt !== undefined && input.for !== undefined) throw invalidInput('give either for (a duration) or endsAt, not both');
    let endsAt: number;
    if (input.endsAt !== undefined) endsAt = Date.parse(input.endsAt);
    else {
      let forMs: number;
      try {
        forMs = parseDuration(input.for ?? '2h');
      } catch (error) {
        throw invalidInput(`for: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (forMs <= 0) throw invalidInput('for must be longer than 0s');
      endsAt = startsAt + forMs;
    }
    if (endsAt <= nowMs) throw invalidInput('the silence would already be over: give an end in the future');
    if (endsAt <= startsAt) throw invalidInput('the silence must end after it starts');
    const id = await auditedChange(
      this.o.db,
      { actor, action: 'silence.add', targetType: 'silence', target: input.matchers.join(','), detail: { matchers: input.matchers, startsAt: new Date(startsAt).toISOString(), endsAt: new Date(endsAt).toISOString(), for: formatDuration(endsAt - startsAt), comment: input.comment } },
      () => this.o.clock.now(),
      (tx) => store.insertSilence(tx, { matchers, startsAt: new Date(startsAt), endsAt: new Date(endsAt), createdBy: actor.name, comment: input.comment }, new Date(nowMs)),
      'the silence was changed at the same time; try again',
    );
    return store.toSilence((await store.findSilence(this.o.db, id))!, nowMs);
  }

  async removeSilence(actor: Actor, id: number): Promise<Silence> {
    await this.require(actor, { kind: 'alerts.admin' }, 'silence.remove', String(id));
    const row = await store.findSilence(this.o.db, id);
    if (!row) throw notFound('silence', id);
    const nowMs = this.now();
    if (Date.parse(row.ends_at) <= nowMs) throw conflict(`silence ${id} has already expired (at ${row.ends_at})`);
    await auditedChange(
      this.o.db,
      { actor, action: 'silence.remove', targetType: 'silence', target: String(id), detail: { matchers: JSON.parse(row.matchers) as unknown, createdBy: row.created_by } },
      () => this.o.clock.now(),
      (tx) => store.expireSilence(tx, id, actor.name, new Date(nowMs)),
      'the silence was changed at the same time; try again',
    );
    return store.toSilence((await store.findSilence(this.o.db, id))!, nowMs);
  }
}

function severityOf(label: string | undefined): Severity {
  const value = (label ?? '').toLowerCase();
  if (['critical', 'page', 'error', 'emergency', 'alert'].includes(value)) return 'critical';
  if (['info', 'informational', 'none', 'notice'].includes(value)) return 'info';
  return 'warning';
}

function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
