import type { FastifyBaseLogger } from 'fastify';
import type { AlertView } from '../monitor/alerts/model.ts';
import type { AlertsService } from '../monitor/alerts/service.ts';
import { victimName, type RecoveryEvent } from '../recovery/events-model.ts';
import type { RecoveryService } from '../recovery/service.ts';
import type { IncidentService, SourceReport } from './service.ts';
import type { IncidentsSettings } from './settings.ts';

/**
 * The hooks other rooms call: the recovery watchdog's kills (and the kernel's OOM kills it
 * reports) and critical alerts open incidents — or add to the open one of the same key. What
 * they open is decided here by pure functions; `wireIncidentHooks` registers them.
 */

/**
 * A recovery event that ended someone's job: the watchdog killed it (kill, done), or the kernel's
 * OOM killer did (rule kernel-oom). Stops, throttles and freezes hold work without losing it:
 * no incident. Key: recovery:HOST:JOB (recovery:HOST:slurm-ID for a SLURM job Keisan did not submit, recovery:HOST:pid-PID without a job).
 */
export function recoveryReport(event: RecoveryEvent, settings: IncidentsSettings['recovery']): SourceReport | null {
  const killed = event.action === 'kill' && event.outcome === 'done';
  const kernel = event.rule === 'kernel-oom';
  if (!killed && !kernel) return null;
  const victim = victimName(event);
  const title = kernel ? `Kernel OOM killer killed ${victim} on ${event.host}` : `Recovery killed ${victim} on ${event.host} (${event.rule})`;
  return {
    source: 'recovery',
    key: `recovery:${event.host}:${event.jobId !== null ? event.jobId : event.slurmJobId != null ? `slurm-${event.slurmJobId}` : `pid-${event.pid ?? '?'}`}`,
    title,
    severity: settings.severity,
    services: [{ service: settings.service, impact: settings.impact }],
    message: `${title}${event.user ? ` (owner ${event.user})` : ''}: ${event.explanation} — keisan recovery event ${event.id}`,
    at: new Date(event.at),
  };
}

/** A critical alert that started firing. Key: the alert's fingerprint. A `service` label names the service (degraded). */
export function alertReport(alert: AlertView, settings: IncidentsSettings['alerts']): SourceReport {
  const host = alert.labels.host;
  const service = alert.labels.service;
  const title = `Alert ${alert.alertname}${host ? ` on ${host}` : ''}${alert.summary ? `: ${alert.summary}` : ''}`;
  return {
    source: 'alert',
    key: alert.fingerprint,
    title,
    severity: settings.severity,
    services: service && /^[a-z][a-z0-9_.-]{0,31}$/.test(service) ? [{ service, impact: 'degraded' }] : [],
    message: `alert firing: ${alert.alertname}${host ? ` on ${host}` : ''}${alert.summary ? ` — ${alert.summary}` : ''}${alert.value !== null ? ` (value ${alert.value})` : ''}`,
    at: new Date(alert.firedAt ?? alert.startedAt),
  };
}

export function wireIncidentHooks(o: { incidents: IncidentService; recovery: RecoveryService; alerts: AlertsService; settings: IncidentsSettings; logger: FastifyBaseLogger }): void {
  if (o.settings.recovery.enabled) {
    o.recovery.onAction(async (event) => {
      const report = recoveryReport(event, o.settings.recovery);
      if (!report) return;
      const { incident, opened } = await o.incidents.openFromSource(report);
      o.logger.info({ incident: incident.id, key: report.key, opened }, opened ? 'incidents: opened from a recovery event' : 'incidents: recovery event added to an open incident');
    });
  }
  if (o.settings.alerts.enabled) {
    o.alerts.onCritical({
      alertFiring: async (alert) => {
        const report = alertReport(alert, o.settings.alerts);
        const { incident, opened } = await o.incidents.openFromSource(report);
        o.logger.info({ incident: incident.id, key: report.key, opened }, opened ? 'incidents: opened from a critical alert' : 'incidents: critical alert added to an open incident');
      },
      // The incident stays open: an operator confirms the fix and resolves it.
      alertResolved: async (alert) => {
        await o.incidents.noteFromSource('alert', alert.fingerprint, `alert resolved: ${alert.alertname}${alert.labels.host ? ` on ${alert.labels.host}` : ''} (the incident stays open until an operator resolves it)`, alert.resolvedAt ? new Date(alert.resolvedAt) : null);
      },
    });
  }
}
