import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_FACILITY_FILE } from '../../src/server/facility.ts';
import { browserSkipReason, eventually, Facility, logIn, openBrowser, type BrowserSession } from './harness.ts';

const skip = browserSkipReason();

/** A critical rule that fires as soon as the agent reports: critical alerts open incidents. */
const CONFIG = `${DEFAULT_FACILITY_FILE}
monitor:
  interval: 2s
  alerts:
    evaluationInterval: 1s
    rules:
      - name: HomeFilesystemSlow
        expr: node_load1 >= 0
        for: 0s
        severity: critical
        summary: "home file system answers slowly on {{ $labels.host }}"
`;

interface IncidentRow {
  id: number;
  title: string;
  source: string;
}

describe("web UI in Chromium: an operator's morning — an alert, its incident, the outage report", { skip: skip ?? false, timeout: 240_000 }, () => {
  let facility: Facility;
  let session: BrowserSession;

  before(async () => {
    facility = await Facility.start({ config: CONFIG });
    session = await openBrowser();
  });
  after(async () => {
    await session?.browser.close();
    await facility?.dispose();
  });

  it('sees the alert on the operations overview, follows it to its incident and downloads the outage report as a PDF', async () => {
    const incident = await eventually('the critical alert to open an incident', 90_000, async () => {
      const list = await facility.admin<IncidentRow[]>('GET', '/api/incidents');
      return list.find((i) => i.source === 'alert');
    });
    const { page } = session;
    await logIn(page, facility, facility.operator);
    await page.getByRole('navigation').getByRole('link', { name: 'Operations overview' }).click();
    await page.getByText('HomeFilesystemSlow').first().waitFor();
    await page.getByRole('link', { name: 'All alerts and silences' }).click();
    await page.getByRole('heading', { level: 1, name: /Alerts/ }).waitFor();
    await page.getByRole('link', { name: `incident #${incident.id}` }).first().click();
    await page.waitForURL(new RegExp(`/ops/incidents/${incident.id}$`));
    await page.getByRole('heading', { level: 1 }).filter({ hasText: incident.title }).waitFor();
    const [pdf] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the report' }).click()]);
    const bytes = readFileSync((await pdf.path())!);
    assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-', 'the outage report is not a PDF');
    assert.ok(bytes.length > 1000, `a ${bytes.length}-byte PDF`);
  });
});
