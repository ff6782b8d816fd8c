import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { readAudit } from '../accounts/audit.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import type { AlertView } from '../monitor/alerts/model.ts';
import type { RecoveryEvent } from '../recovery/events-model.ts';
import { killInput } from '../recovery/events-testing.ts';
import { alertReport, recoveryReport } from './hooks.ts';
import { IncidentService } from './service.ts';
import { incidentsSettings } from './settings.ts';

const settings = incidentsSettings.parse({});

function event(over: Partial<RecoveryEvent> = {}): RecoveryEvent {
  // The recovery room's sample kill of job 42 (alice), as the server stores it.
  return { ...killInput({ explanation: 'memory 1.98 of 2.00 GiB', victimExplanation: 'over its request' }), id: 7, receivedAt: '2026-11-23T08:00:01.000Z', ask: null, ...over };
}

describe('what the hooks open', () => {
  it('recovery: a done kill or a kernel OOM kill opens an incident keyed by host and job; stops, throttles, failed kills and warnings do not', () => {
    const kill = recoveryReport(event(), settings.recovery)!;
    assert.deepEqual(
      { ...kill, at: kill.at.toISOString() },
      {
        source: 'recovery',
        key: 'recovery:node1:42',
        title: 'Recovery killed job 42 on node1 (memory-limit)',
        severity: 'SEV4',
        services: [{ service: 'batch', impact: 'some-jobs-aborted' }],
        message: 'Recovery killed job 42 on node1 (memory-limit) (owner alice): memory 1.98 of 2.00 GiB — keisan recovery event 7',
        at: '2026-11-23T08:00:00.000Z',
      },
    );
    const oom = recoveryReport(event({ rule: 'kernel-oom', action: 'none', outcome: 'observed' }), settings.recovery)!;
    assert.equal(oom.title, 'Kernel OOM killer killed job 42 on node1');
    assert.equal(recoveryReport(event({ jobId: null, pid: 4242 }), settings.recovery)!.key, 'recovery:node1:pid-4242');
    for (const other of [{ action: 'stop' as const }, { action: 'throttle' as const }, { outcome: 'failed' as const }, { action: 'warn' as const }]) {
      assert.equal(recoveryReport(event(other), settings.recovery), null, JSON.stringify(other));
    }
    const configured = recoveryReport(event(), incidentsSettings.parse({ recovery: { severity: 'SEV3', service: 'compute', impact: 'degraded' } }).recovery)!;
    assert.deepEqual([configured.severity, configured.services], ['SEV3', [{ service: 'compute', impact: 'degraded' }]]);
  });

  it('alerts: keyed by the fingerprint; a service label names the service', () => {
    const alert = { fingerprint: 'fp1', alertname: 'HostDown', labels: { host: 'node3', service: 'batch' }, summary: 'node3 is down', value: 0, firedAt: '2026-11-23T07:00:00.000Z', startedAt: '2026-11-23T06:59:00.000Z' } as unknown as AlertView;
    const report = alertReport(alert, settings.alerts);
    assert.deepEqual([report.key, report.title, report.severity, report.services, report.at.toISOString()], ['fp1', 'Alert HostDown on node3: node3 is down', 'SEV2', [{ service: 'batch', impact: 'degraded' }], '2026-11-23T07:00:00.000Z']);
  });
});

describeEachDatabase('openFromSource', (database) => {
  let db: Db & { dispose(): Promise<void> };
  let service: IncidentService;
  beforeEach(async () => {
    db = await database.open();
    service = new IncidentService({ db: db.kysely, clock: new ManualClock('2026-11-23T09:00:00Z'), services: [] });
  });
  afterEach(async () => {
    await db.dispose();
  });

  it('reports of the same key racing each other open one incident; the others are added to its timeline', async () => {
    const report = recoveryReport(event(), settings.recovery)!;
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => service.openFromSource({ ...report, message: `report ${i}` })));
    assert.equal(results.filter((r) => r.opened).length, 1);
    assert.equal(new Set(results.map((r) => r.incident.id)).size, 1);
    const incidents = await db.kysely.selectFrom('incidents').select(['id', 'open_key']).execute();
    assert.deepEqual(incidents.map((i) => i.open_key), ['recovery:node1:42']);
    const timeline = (await service.get({ kind: 'system', userId: 0, name: 'x', isOperator: false, workgroupAdminOf: [], subgroupAdminOf: [], address: null }, Number(incidents[0]!.id))).timeline;
    assert.deepEqual(timeline.map((t) => t.kind).sort(), ['opened', 'source', 'source', 'source', 'source']);
    const audit = await readAudit(db.kysely, { action: 'incident.', limit: 10 });
    assert.deepEqual(audit.map((a) => `${a.actor} ${a.action}`).sort(), ['keisan:recovery incident.note', 'keisan:recovery incident.note', 'keisan:recovery incident.note', 'keisan:recovery incident.note', 'keisan:recovery incident.open']);
  });

  it('a note for a key with no incident is dropped (null)', async () => {
    assert.equal(await service.noteFromSource('alert', 'never-seen', 'alert resolved', null), null);
  });
});
