import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAvailability, formatSpan, lengthOf, outageReport, periodText, unionOf, type ReportIncident } from './report.ts';
import { renderHtml, renderMarkdown, renderPdf } from './render.ts';

const H = 3_600_000;
const at = (iso: string) => new Date(iso);

function incident(id: number, over: Partial<ReportIncident> & Pick<ReportIncident, 'startedAt' | 'endedAt'>): ReportIncident {
  return { id, title: `incident ${id}`, severity: 'SEV3', status: over.endedAt ? 'resolved' : 'investigating', cause: 'unknown', services: [{ service: 'batch', impact: 'all-unavailable' }], ...over };
}

/**
 * A month like the centre's (November 2026, UTC): one crossing midnight, two overlapping on the
 * batch service, one begun in October, one still open at the end of the month, one with no
 * service impact, and one in December (left out).
 */
const NOVEMBER: ReportIncident[] = [
  incident(1, { title: 'login nodes unreachable (switch firmware)', cause: 'network', services: [{ service: 'login', impact: 'all-unavailable' }], startedAt: at('2026-11-03T22:40:00Z'), endedAt: at('2026-11-04T01:10:00Z') }),
  incident(2, { title: 'batch controller disk failed', cause: 'hardware', services: [{ service: 'batch', impact: 'all-unavailable' }], startedAt: at('2026-11-10T09:00:00Z'), endedAt: at('2026-11-10T12:00:00Z') }),
  incident(3, {
    title: 'scheduler restart aborted jobs',
    cause: 'software-defect',
    services: [
      { service: 'batch', impact: 'some-jobs-aborted' },
      { service: 'storage-home', impact: 'degraded' },
    ],
    startedAt: at('2026-11-10T11:00:00Z'),
    endedAt: at('2026-11-10T13:30:00Z'),
  }),
  incident(4, { title: 'home server RAID rebuild', cause: 'hardware', services: [{ service: 'storage-home', impact: 'partial-outage' }], startedAt: at('2026-10-31T22:00:00Z'), endedAt: at('2026-11-01T02:00:00Z') }),
  incident(5, { title: 'queue backlog', cause: 'capacity', services: [{ service: 'batch', impact: 'degraded' }], startedAt: at('2026-11-29T20:00:00Z'), endedAt: null }),
  incident(6, { title: 'web certificate warning', cause: 'human-error', services: [{ service: 'web', impact: 'none' }], startedAt: at('2026-11-15T10:00:00Z'), endedAt: at('2026-11-15T11:00:00Z') }),
  incident(7, { title: 'December outage', startedAt: at('2026-12-02T10:00:00Z'), endedAt: at('2026-12-02T11:00:00Z') }),
];

describe('outage report arithmetic', () => {
  it('unions intervals: overlapping and touching ones once, empty ones not at all', () => {
    assert.deepEqual(unionOf([[5, 10], [0, 3], [3, 4], [8, 12], [20, 20]]), [[0, 4], [5, 12]]);
    assert.equal(lengthOf([[0, 10], [5, 15], [20, 25]]), 20);
    assert.equal(lengthOf([]), 0);
  });

  it('a month like the centre\'s: rows numbered by start, clipped at both ends, totals that add up', () => {
    const report = outageReport({ incidents: NOVEMBER, from: at('2026-11-01T00:00:00Z'), to: at('2026-12-01T00:00:00Z'), now: at('2026-12-05T08:00:00Z'), services: ['login', 'batch', 'storage-home', 'authentication'] });
    assert.deepEqual(report.rows.map((r) => r.id), [4, 1, 2, 3, 6, 5], 'by start; December left out');
    assert.deepEqual(report.rows.map((r) => r.number), [1, 2, 3, 4, 5, 6]);

    const [r4, r1, r2, r3, r6, r5] = report.rows;
    // Begun in October: clipped to the window's start, 2 h in November.
    assert.equal(r4!.clippedStart, true);
    assert.equal(r4!.start.toISOString(), '2026-11-01T00:00:00.000Z');
    assert.equal(r4!.durationMs, 2 * H);
    // Crossing midnight: one row spanning two dates, 2 h 30 min.
    assert.equal(r1!.spansDates, true);
    assert.equal(r1!.durationMs, 2.5 * H);
    assert.equal(periodText(r1!), '2026-11-03 22:40 – 2026-11-04 01:10');
    assert.equal(periodText(r2!), '2026-11-10 09:00 – 12:00');
    assert.equal(r2!.spansDates, false);
    // Still open: ends at the window's end (now is later), ongoing, 28 h in November.
    assert.equal(r5!.ongoing, true);
    assert.equal(r5!.clippedEnd, true);
    assert.equal(r5!.end.toISOString(), '2026-12-01T00:00:00.000Z');
    assert.equal(r5!.durationMs, 28 * H);
    // No service impact: a row, but not in the totals.
    assert.equal(r6!.counts, false);
    assert.equal(r3!.counts, true);

    // 2 + 2.5 + 3 + 2.5 + 28 = 38 h; incidents 2 and 3 overlap 1 h: 37 h of service impact.
    assert.deepEqual(report.totals, { incidents: 5, sumOfRowsMs: 38 * H, impactMs: 37 * H, overlapMs: 1 * H });
    assert.equal(report.totals.sumOfRowsMs - report.totals.overlapMs, report.totals.impactMs);

    const byService = Object.fromEntries(report.services.map((s) => [s.service, s]));
    assert.deepEqual(Object.keys(byService), ['authentication', 'batch', 'login', 'storage-home', 'web']);
    // batch: 09:00–13:30 on the 10th (4.5 h, once) + 28 h backlog; unavailable only incident 2's 3 h.
    assert.equal(byService.batch!.impactMs, 32.5 * H);
    assert.equal(byService.batch!.unavailableMs, 3 * H);
    assert.equal(byService.batch!.incidents, 3);
    assert.equal(byService.login!.unavailableMs, 2.5 * H);
    // storage-home: partial outage counts as unavailable (2 h); degraded does not.
    assert.equal(byService['storage-home']!.impactMs, 4.5 * H);
    assert.equal(byService['storage-home']!.unavailableMs, 2 * H);
    assert.equal(byService.authentication!.availability, 1);
    assert.equal(byService.web!.impactMs, 0);
    assert.equal(report.periodMs, 720 * H);
    assert.equal(formatAvailability(byService.login!.availability), '99.653 %');
    assert.equal(formatAvailability(byService.batch!.availability), '99.583 %');

    // Causes: count and the union of their incidents' time.
    assert.deepEqual(
      report.causes.map((c) => [c.cause, c.incidents, c.timeMs / H]),
      [['human-error', 1, 1], ['software-defect', 1, 2.5], ['hardware', 2, 5], ['capacity', 1, 28], ['network', 1, 2.5]],
    );
  });

  it('a still-open incident in a window reaching past now ends now, not at the window\'s end; availability is over the elapsed part', () => {
    const report = outageReport({ incidents: NOVEMBER, from: at('2026-11-01T00:00:00Z'), to: at('2026-12-01T00:00:00Z'), now: at('2026-11-30T02:00:00Z') });
    const open = report.rows.find((r) => r.id === 5)!;
    assert.equal(open.end.toISOString(), '2026-11-30T02:00:00.000Z');
    assert.equal(open.durationMs, 6 * H);
    assert.equal(open.clippedEnd, false);
    assert.equal(open.ongoing, true);
    assert.equal(report.periodEnd.toISOString(), '2026-11-30T02:00:00.000Z');
    assert.equal(report.periodMs, (29 * 24 + 2) * H);
  });

  it('a window inside one incident: clipped at both ends; a window between incidents: empty, availability 100 %', () => {
    const long = [incident(9, { startedAt: at('2026-11-10T20:00:00Z'), endedAt: at('2026-11-12T04:00:00Z') })];
    const day = outageReport({ incidents: long, from: at('2026-11-11T00:00:00Z'), to: at('2026-11-12T00:00:00Z'), now: at('2026-12-01T00:00:00Z') });
    assert.equal(day.rows.length, 1);
    assert.equal(day.rows[0]!.clippedStart && day.rows[0]!.clippedEnd, true);
    assert.equal(day.rows[0]!.durationMs, 24 * H);
    assert.equal(day.services[0]!.availability, 0);
    const empty = outageReport({ incidents: long, from: at('2026-11-13T00:00:00Z'), to: at('2026-11-14T00:00:00Z'), now: at('2026-12-01T00:00:00Z'), services: ['batch'] });
    assert.equal(empty.rows.length, 0);
    assert.equal(empty.totals.impactMs, 0);
    assert.equal(empty.services[0]!.availability, 1);
    // An incident ending exactly at the window's start is not in it.
    const edge = outageReport({ incidents: long, from: at('2026-11-12T04:00:00Z'), to: at('2026-11-13T00:00:00Z'), now: at('2026-12-01T00:00:00Z') });
    assert.equal(edge.rows.length, 0);
    assert.throws(() => outageReport({ incidents: [], from: at('2026-11-02T00:00:00Z'), to: at('2026-11-01T00:00:00Z'), now: at('2026-12-01T00:00:00Z') }));
  });

  it("in a site's time zone: its midnights bound the month, rows cross its midnights, and every time is on its clock", () => {
    // Asia/Tokyo is UTC+9: November there runs 2026-10-31T15:00Z ≤ t < 2026-11-30T15:00Z.
    const report = outageReport({ incidents: NOVEMBER, from: at('2026-10-31T15:00:00Z'), to: at('2026-11-30T15:00:00Z'), now: at('2026-12-05T08:00:00Z'), timeZone: 'Asia/Tokyo' });
    assert.equal(report.timeZone, 'Asia/Tokyo');
    const byId = new Map(report.rows.map((r) => [r.id, r]));
    // 22:40–01:10 UTC is 07:40–10:10 in Tokyo: the same day there.
    assert.equal(byId.get(1)!.spansDates, false);
    assert.equal(periodText(byId.get(1)!, 'Asia/Tokyo'), '2026-11-04 07:40 – 10:10');
    // 20:00 UTC 29 November, still open, runs to the end of Tokyo's November, 19 h: ending at its midnight is no crossing.
    assert.equal(byId.get(5)!.spansDates, false);
    assert.equal(byId.get(5)!.durationMs, 19 * H);
    assert.equal(periodText(byId.get(5)!, 'Asia/Tokyo'), '2026-11-30 05:00 – 2026-12-01 00:00');
    // The RAID rebuild began at 07:00 on 1 November in Tokyo: inside the window, not clipped.
    assert.equal(byId.get(4)!.clippedStart, false);
    const md = renderMarkdown(report, { facility: 'Keisan' });
    assert.match(md, /outage report 2026-11-01 00:00 – 2026-12-01 00:00 Asia\/Tokyo/);
    assert.match(md, /Period \(Asia\/Tokyo\)/);
    assert.doesNotMatch(md, /UTC/);
  });

  it('prints durations like "3 h 25 min"', () => {
    assert.equal(formatSpan(0), '0 min');
    assert.equal(formatSpan(20_000), '< 1 min');
    assert.equal(formatSpan(45 * 60_000), '45 min');
    assert.equal(formatSpan(3 * H + 25 * 60_000), '3 h 25 min');
    assert.equal(formatSpan(3 * H), '3 h');
    assert.equal(formatSpan(50 * H + 60_000), '2 d 2 h 1 min');
  });

  it('renders Markdown, HTML (escaped) and a PDF', async () => {
    const incidents = [...NOVEMBER, incident(8, { title: '<script>alert(1)</script> | pipe', startedAt: at('2026-11-20T10:00:00Z'), endedAt: at('2026-11-20T10:30:00Z') })];
    const report = outageReport({ incidents, from: at('2026-11-01T00:00:00Z'), to: at('2026-12-01T00:00:00Z'), now: at('2026-12-05T08:00:00Z') });
    const md = renderMarkdown(report, { facility: 'Testlab' });
    assert.match(md, /^# Testlab: outage report 2026-11-01 00:00 – 2026-12-01 00:00 UTC$/m);
    assert.match(md, /^\| 2 \| login nodes unreachable \(switch firmware\) \(#1, SEV3, network\) \| 2026-11-03 22:40 – 2026-11-04 01:10 \| 2 h 30 min \| login: all-unavailable \|$/m);
    assert.match(md, /2026-11-01 00:00 – 02:00 \(began 2026-10-31 22:00, before the report\)/);
    assert.match(md, /28 h|1 d 4 h so far/);
    assert.match(md, /ongoing, continues after the report/);
    assert.match(md, /the total service-impact time is 1 d 13 h 30 min/);
    assert.match(md, /\\\| pipe/);
    const html = renderHtml(report, { facility: 'Testlab' });
    assert.ok(!html.includes('<script>'));
    assert.match(html, /&lt;script&gt;/);
    assert.match(html, /<td>99\.653 %<\/td>/);
    const pdf = await renderPdf(report, { facility: 'Testlab' });
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    assert.ok(pdf.length > 1000);
  });
});
