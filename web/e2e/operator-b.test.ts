import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserSkipReason, eventually, Facility, logIn, openBrowser, screenshot, type Account } from './harness.ts';

const skip = browserSkipReason();

/** A second person at a second desk: a fresh context (its own storage, so its own ticket) in the same browser. */
async function secondDesk(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1366, height: 860 }, timezoneId: 'Asia/Tokyo' });
  context.setDefaultTimeout(15_000);
  return { context, page: await context.newPage() };
}

describe('web UI in Chromium: incidents, maintenance plans, storage tiers, group admin', { skip: skip ?? false, timeout: 300_000 }, () => {
  let facility: Facility;
  let browser: Browser;
  let page: Page;
  let people: { alice: Account; bob: Account; olga: Account };

  before(async () => {
    facility = await Facility.start();
    people = await facility.seedLab();
    await facility.admin('POST', '/api/ops/hosts', { name: 'maint-node1', roles: ['compute'] });
    await facility.admin('POST', '/api/ops/services', { name: 'webtest', critical: true, hosts: ['maint-node1'] });
    await facility.admin('POST', '/api/subgroups', { workgroup: 'lab', name: 'lab-bio' });
    await facility.admin('POST', '/api/users', { name: 'carol', fullName: 'Carol Biologist', primarySubgroup: 'lab-bio', password: 'carol password 1' });
    await facility.admin('POST', '/api/ops/runbooks', { name: 'webtest-recovery', service: 'webtest', body: 'Restart the node; check the jobs came back.' });
    const session = await openBrowser();
    browser = session.browser;
    page = session.page;
    await logIn(page, facility, facility.operator);
  });
  after(async () => {
    await browser?.close();
    await facility?.dispose();
  });

  it('a plan written and submitted by one operator is approved by a second, then run step by step with the typed host name', async () => {
    await page.getByRole('link', { name: 'Maintenance plans' }).click();
    await page.getByRole('button', { name: 'New plan' }).click();
    await page.getByLabel('Title').fill('Replace the fan of maint-node1');
    await page.getByLabel('Runbook').selectOption('webtest-recovery');
    await page.getByRole('checkbox', { name: 'maint-node1' }).check();
    await page.getByLabel('Host of step 1').selectOption('maint-node1');
    await page.getByLabel('Instruction of step 1').fill('Drain maint-node1 and power it off');
    await page.getByLabel('Expected result of step 1').fill('the node is off');
    await page.getByRole('button', { name: 'Add a step' }).click();
    await page.getByLabel('Host of step 2').selectOption('maint-node1');
    await page.getByLabel('Instruction of step 2').fill('Replace the fan, power on, undrain');
    await page.getByLabel('Expected result of step 2').fill('the node is back in service');
    await page.getByRole('button', { name: 'Create the plan (draft)' }).click();
    await page.waitForURL(/\/ops\/maint\/\d+$/);
    const planId = Number(/(\d+)$/.exec(page.url())![1]);
    await page.getByText('draft', { exact: true }).first().waitFor();
    // An edit before submitting: the form comes back with the plan's content.
    await page.getByRole('button', { name: 'Edit the plan' }).click();
    assert.equal(await page.getByLabel('Instruction of step 2').inputValue(), 'Replace the fan, power on, undrain');
    await page.getByLabel('Title').fill('Replace the fan of maint-node1 (spare from stock)');
    await page.getByRole('button', { name: 'Save the plan' }).click();
    await page.getByRole('heading', { name: `#${planId} Replace the fan of maint-node1 (spare from stock)` }).waitFor();
    await page.getByRole('button', { name: 'Submit for approval' }).click();
    await page.getByText('awaiting approval', { exact: true }).first().waitFor();
    // The author is told another operator approves, and sees no approve button…
    await page.getByText('You wrote or edited this plan: another operator must approve it.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Approve the plan' }).count(), 0);
    // …and the server refuses a self-approval anyway.
    const selfApproval = await fetch(`${facility.url}/api/ops/maint/plans/${planId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await facility.ticketOf(facility.operator)}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(selfApproval.ok, false, 'the author approved their own plan');

    // Olga, the second operator, approves at her own desk.
    const olga = await secondDesk(browser);
    try {
      await logIn(olga.page, facility, people.olga);
      await olga.page.goto(`${facility.url}/ops/maint/${planId}`);
      await olga.page.getByLabel('Comment (optional)').fill('fan model checked');
      await olga.page.getByRole('button', { name: 'Approve the plan' }).click();
      await olga.page.getByText('approved', { exact: true }).first().waitFor();
      await olga.page.getByText('fan model checked').waitFor();
    } finally {
      await olga.context.close();
    }

    // The author starts it (the page follows the plan by polling) and runs step 1.
    await page.getByRole('button', { name: 'Start the plan' }).click();
    await page.getByText('Step 1 of 2').waitFor();
    await page.getByTestId('redundancy-check').first().getByText('allowed now').waitFor();
    const run1 = page.getByRole('button', { name: 'Record step 1 as done' });
    assert.equal(await run1.isDisabled(), true, 'the step may run before the host name is typed');
    const typeHost = page.getByLabel('Type the host name (maint-node1) to run this step');
    await typeHost.fill('maint-node2');
    assert.equal(await run1.isDisabled(), true, 'a wrong host name enables the step');
    await typeHost.fill('maint-node1');
    await run1.click();
    await page.getByText('Step 2 of 2').waitFor();
    await page.getByText('1 of 2 steps').first().waitFor();
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, 'ops-maint-plan');
    await page.getByLabel('Type the host name (maint-node1) to run this step').fill('maint-node1');
    await page.getByRole('button', { name: 'Record step 2 as done' }).click();
    await page.getByText('completed', { exact: true }).first().waitFor();
    const plan = await facility.admin<{ state: string; runs: { state: string; operator: string }[] }>('GET', `/api/ops/maint/plans/${planId}`);
    assert.equal(plan.state, 'completed');
    assert.deepEqual(
      plan.runs.map((r) => [r.state, r.operator]),
      [
        ['passed', facility.operator.name],
        ['passed', facility.operator.name],
      ],
    );
  });

  it("a command step goes to the agent on the step's host and the page follows it to its output", async () => {
    const nodes = await eventually('the agent of this machine reporting', 60_000, async () => {
      const list = await facility.admin<{ host: string }[]>('GET', '/api/monitor/nodes');
      return list.length > 0 ? list : undefined;
    });
    const host = nodes[0]!.host;
    const hosts = await facility.admin<{ name: string }[]>('GET', '/api/ops/hosts');
    if (!hosts.some((h) => h.name === host)) await facility.admin('POST', '/api/ops/hosts', { name: host });
    const plan = await facility.admin<{ id: number }>('POST', '/api/ops/maint/plans', {
      title: 'Check the agent answers',
      risk: 'low',
      window: { start: new Date(Date.now() - 60_000).toISOString(), end: new Date(Date.now() + 3600_000).toISOString() },
      targets: [host],
      runbook: 'webtest-recovery',
      steps: [{ kind: 'command', host, command: 'echo hello-from-the-agent', expect: { exitCode: 0, contains: 'hello-from-the-agent' }, takesDown: false }],
    });
    await facility.admin('POST', `/api/ops/maint/plans/${plan.id}/submit`);
    await facility.request('POST', `/api/ops/maint/plans/${plan.id}/approve`, {}, people.olga);
    await facility.admin('POST', `/api/ops/maint/plans/${plan.id}/start`);

    await page.goto(`${facility.url}/ops/maint/${plan.id}`);
    await page.getByLabel(`Type the host name (${host}) to run this step`).fill(host.toUpperCase());
    await page.getByRole('button', { name: 'Run step 1 on its host' }).click();
    await page.getByText(`Step 1 is with the agent on ${host}:`).waitFor();
    await page.getByText('completed', { exact: true }).first().waitFor({ timeout: 45_000 });
    await page.getByText('Output', { exact: true }).click();
    await page.getByText('hello-from-the-agent').first().waitFor();
  });

  it('an incident is followed from the list to its page: checklist, postmortem, and the outage report downloads as a real PDF and HTML', async () => {
    const startedAt = new Date(Date.now() - 2 * 3600_000).toISOString();
    const incident = await facility.admin<{ id: number }>('POST', '/api/incidents', {
      title: 'Home file system unreachable',
      severity: 'SEV2',
      services: [{ service: 'storage-home', impact: 'all-unavailable' }],
      cause: 'hardware',
      startedAt,
      message: 'nfsd on the storage server does not answer',
    });
    await page.getByRole('link', { name: 'Incidents' }).click();
    await page.getByRole('link', { name: `#${incident.id}` }).click();
    await page.getByRole('heading', { name: `#${incident.id} Home file system unreachable` }).waitFor();
    await page.getByText('nfsd on the storage server does not answer').waitFor();

    await page.getByRole('checkbox', { name: '1. Decide the handling policy' }).check();
    await page.getByText(`by ${facility.operator.name},`).first().waitFor();

    await page.getByLabel('What happened').fill('The storage server lost its disk controller.');
    await page.getByRole('button', { name: 'Add an action' }).click();
    await page.getByLabel('Action 1', { exact: true }).fill('Keep a spare controller');
    await page.getByLabel('Owner of action 1').fill('olga');
    await page.getByRole('button', { name: 'Save the postmortem' }).click();
    await page.getByText(`Last written by ${facility.operator.name}`).waitFor();

    await page.getByRole('button', { name: 'Edit the facts' }).click();
    await page.getByLabel('Severity').selectOption('SEV1');
    await page.getByRole('button', { name: 'Save the changes' }).click();
    await page.getByText('SEV1', { exact: true }).first().waitFor();

    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Resolve' }).click();
    await page.getByText('resolved', { exact: true }).first().waitFor();
    await screenshot(page, 'ops-incident');

    const [pdf] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the report' }).click()]);
    const pdfBytes = readFileSync((await pdf.path())!);
    assert.equal(pdfBytes.subarray(0, 5).toString('latin1'), '%PDF-', 'the report is not a PDF');
    assert.match(pdf.suggestedFilename(), /^outage-report-.*\.pdf$/);

    await page.getByLabel('Format').selectOption('html');
    const [html] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the report' }).click()]);
    const text = readFileSync((await html.path())!, 'utf8');
    assert.match(text, /<html/i);
    assert.match(text, /Home file system unreachable/);
  });

  it('the storage tiers page shows the disk tier against its water marks, volumes and classes', async () => {
    await page.getByRole('link', { name: 'Storage tiers' }).click();
    await page.getByRole('heading', { name: 'Storage tiers', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Disk tier' }).waitFor();
    await page.getByRole('heading', { name: 'Classes of service' }).waitFor();
    await page.getByRole('button', { name: 'Migrate now' }).click();
    await page.getByText(/^Done/).first().waitFor({ timeout: 60_000 });
    await screenshot(page, 'ops-storage');
  });

  it('runbooks show the gap of a critical service until its runbook is marked tested; the login hosts page answers', async () => {
    await page.getByRole('link', { name: 'Runbooks' }).click();
    const gaps = page.getByRole('table', { name: 'Critical services without a recently tested runbook' });
    await gaps.getByRole('cell', { name: 'webtest', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Mark webtest-recovery tested today' }).click();
    await page.getByText(`· ${facility.operator.name}`).waitFor();
    assert.equal(await gaps.getByRole('cell', { name: 'webtest', exact: true }).count(), 0, 'the tested runbook still shows as a gap');
    await page.getByRole('link', { name: 'Login hosts' }).click();
    await page.getByRole('heading', { name: 'The login pool' }).waitFor();
    await page.getByRole('heading', { name: 'Directory (LDAP)' }).waitFor();
  });

  it('the incident, plan and storage pages fit a 375 px wide phone (no sideways scrolling), in Japanese too', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      for (const [path, heading] of [
        ['/ops/incidents/1', '#1 Home file system unreachable'],
        ['/ops/maint/1', '#1 Replace the fan of maint-node1 (spare from stock)'],
        ['/ops/maint', 'Maintenance plans'],
        ['/ops/storage', 'Storage tiers'],
      ] as const) {
        await page.goto(`${facility.url}${path}`);
        await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
        const width = await page.evaluate('document.documentElement.scrollWidth');
        assert.ok(typeof width === 'number' && width <= 375, `${path} is ${String(width)} px wide on a 375 px phone`);
      }
      // In Japanese too (the incident's own words stay as written).
      await page.goto(`${facility.url}/ops/incidents/1`);
      await page.getByLabel('Language').selectOption('ja');
      await page.getByRole('heading', { name: '対応チェックリスト' }).waitFor();
      await page.getByRole('heading', { name: '障害報告書（ポストモーテム）' }).waitFor();
      await page.getByText('解決済み', { exact: true }).first().waitFor();
      const width = await page.evaluate('document.documentElement.scrollWidth');
      assert.ok(typeof width === 'number' && width <= 375, `the Japanese incident page is ${String(width)} px wide on a 375 px phone`);
      await page.getByLabel('言語').selectOption('en');
      await page.getByRole('heading', { name: 'Response checklist' }).waitFor();
    } finally {
      await page.setViewportSize({ width: 1366, height: 860 });
    }
  });

  it('bob, the admin of workgroup lab, sees its members and usage; alice does not see the group views', async () => {
    const bob = await secondDesk(browser);
    try {
      await logIn(bob.page, facility, people.bob);
      await bob.page.getByRole('link', { name: 'Groups' }).click();
      await bob.page.getByRole('link', { name: 'lab', exact: true }).click();
      await bob.page.getByRole('heading', { name: 'Workgroup lab' }).waitFor();
      const members = bob.page.getByRole('table', { name: 'Members of lab-ml' });
      await members.getByRole('cell', { name: 'alice', exact: true }).waitFor();
      await members.getByRole('cell', { name: 'bob', exact: true }).waitFor();
      await members.getByRole('cell', { name: 'Alice Researcher' }).waitFor();
      // bob adds carol (of lab-bio) to lab-ml as an extra member, makes alice an admin of lab-ml, and takes carol out again.
      await bob.page.getByLabel('Add a member to lab-ml (user name)').fill('carol');
      await bob.page.getByRole('button', { name: 'Add to lab-ml' }).click();
      await members.getByRole('cell', { name: 'extra membership' }).waitFor();
      await bob.page.getByRole('button', { name: 'Make alice an admin' }).click();
      await bob.page.getByRole('button', { name: 'Remove alice as admin' }).waitFor();
      await bob.page.getByRole('button', { name: 'Remove carol from lab-ml' }).click();
      await members.getByRole('cell', { name: 'carol', exact: true }).waitFor({ state: 'detached' });
      const labMl = await facility.admin<{ admins: string[]; extraMembers: string[] }>('GET', '/api/subgroups/lab-ml');
      assert.deepEqual(labMl.admins, ['alice']);
      assert.deepEqual(labMl.extraMembers, []);
      await bob.page.getByRole('button', { name: 'Remove alice as admin' }).click();
      await bob.page.getByRole('button', { name: 'Make alice an admin' }).waitFor();
      await bob.page.getByRole('heading', { name: 'Compute usage (ended jobs)' }).waitFor();
      await bob.page.getByRole('heading', { name: 'Queues and shares' }).waitFor();
      await screenshot(bob.page, 'groups');
    } finally {
      await bob.context.close();
    }
    const alice = await secondDesk(browser);
    try {
      await logIn(alice.page, facility, people.alice);
      assert.equal(await alice.page.getByRole('link', { name: 'Groups' }).count(), 0, 'a researcher sees the group-admin navigation');
    } finally {
      await alice.context.close();
    }
  });
});
