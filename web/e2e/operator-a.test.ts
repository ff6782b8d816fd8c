import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_FACILITY_FILE, NODE_SECRET_FILE } from '../../src/server/facility.ts';
import { browserSkipReason, eventually, Facility, logIn, openBrowser, screenshot, type Account, type BrowserSession } from './harness.ts';

const skip = browserSkipReason();

/** Agents report every 2 s (the node charts get points quickly) and one rule always fires. */
const CONFIG = `${DEFAULT_FACILITY_FILE}
monitor:
  interval: 2s
  alerts:
    evaluationInterval: 1s
    rules:
      - name: WebE2eLoadSeen
        expr: node_load1 >= 0
        for: 0s
        severity: warning
        summary: "load average seen on {{ $labels.host }}"
`;

/** The part of a canvas the test reads (the server's tsconfig has no DOM types). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

interface NodeRow {
  host: string;
  up: boolean;
}

describe('web UI in Chromium: operator views (part A)', { skip: skip ?? false, timeout: 240_000 }, () => {
  let facility: Facility;
  let session: BrowserSession;
  let host: string;
  let alice: Account;
  const pendingIds: number[] = [];

  /** A POST as a node (its secret), as agents and watchdogs send. */
  async function asNode(route: string, body: Record<string, unknown>): Promise<string> {
    const secret = readFileSync(path.join(facility.dataDir, NODE_SECRET_FILE), 'utf8').trim();
    const response = await fetch(`${facility.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Node ${secret}` }, body: JSON.stringify(body) });
    const text = await response.text();
    assert.ok(response.ok, `${route} answered ${response.status}: ${text}`);
    return text;
  }

  /** What a node's watchdog would send: one ask-mode event waiting for an operator, or a done kill. */
  async function reportRecovery(body: Record<string, unknown>): Promise<number> {
    return (JSON.parse(await asNode('/api/recovery/events', body)) as { id: number }).id;
  }

  before(async () => {
    facility = await Facility.start({ config: CONFIG });
    ({ alice } = await facility.seedLab());
    const nodes = await eventually('the agent of this machine to report twice', 60_000, async () => {
      const list = await facility.admin<NodeRow[]>('GET', '/api/monitor/nodes');
      const metrics = list[0] ? await facility.admin<{ series: { points: unknown[] }[] }>('GET', `/api/monitor/nodes/${encodeURIComponent(list[0].host)}/metrics?names=node_load1`) : null;
      return metrics && (metrics.series[0]?.points.length ?? 0) >= 2 ? list : undefined;
    });
    host = nodes[0]!.host;
    const now = Date.now();
    const event = (extra: Record<string, unknown>) => ({
      host,
      at: new Date(now).toISOString(),
      rule: 'memory-limit',
      severity: 'act',
      jobId: null,
      pid: 4242,
      user: 'alice',
      explanation: 'the process used 31.5 GiB of its 32 GiB memory limit and kept growing',
      victimExplanation: 'the largest process of the job',
      metrics: { memoryBytes: 33_822_867_456 },
      timings: null,
      evidencePath: null,
      error: null,
      ...extra,
    });
    await reportRecovery(event({ mode: 'automatic', action: 'kill', outcome: 'done', at: new Date(now - 3_600_000).toISOString(), timings: { decisionToWriteMs: 1, writeMs: 1, writeToEmptyMs: 40 } }));
    for (const pid of [4243, 4244]) {
      const ask = { key: randomUUID(), deadline: new Date(now + 3_600_000).toISOString(), proposed: 'kill', decision: null, decidedBy: null, decidedAt: null, reason: null };
      pendingIds.push(await reportRecovery(event({ pid, mode: 'ask', action: 'freeze', outcome: 'pending', ask })));
    }
    session = await openBrowser();
    await logIn(session.page, facility, facility.operator);
  });
  after(async () => {
    await session?.browser.close();
    await facility?.dispose();
  });

  it('the overview shows the firing alert and the recovery decisions waiting, each linking on', async () => {
    const { page } = session;
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Operations overview' }).click();
    await page.getByRole('heading', { level: 1, name: 'Operations overview' }).waitFor();
    const alerts = page.locator('section.card', { has: page.getByRole('heading', { name: 'Firing alerts' }) });
    await alerts.getByText('WebE2eLoadSeen').waitFor();
    const recovery = page.locator('section.card', { has: page.getByRole('heading', { name: 'Recovery decisions waiting' }) });
    await recovery.getByText(`kill on ${host} (user alice)`).first().waitFor();
    assert.equal(await recovery.getByRole('listitem').count(), 2);
    await page.getByRole('status').filter({ hasText: 'need attention' }).waitFor();
    const storage = page.locator('section.card', { has: page.getByRole('heading', { name: 'Storage over its water mark' }) });
    await storage.locator('.badge').first().waitFor();
    await screenshot(page, 'ops-dashboard');
    await recovery.getByRole('link', { name: 'Decide on the recovery page' }).click();
    await page.getByRole('heading', { level: 1, name: 'Recovery' }).waitFor();
  });

  it('lists the node of this machine and draws its charts, with the latest values in a table', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Nodes', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Nodes' }).waitFor();
    const row = page.getByRole('row', { name: new RegExp(host) });
    await row.getByText('up', { exact: true }).waitFor();
    await screenshot(page, 'ops-nodes');
    await row.getByRole('link', { name: host }).click();
    await page.getByRole('heading', { level: 1, name: `Node ${host}` }).waitFor();
    for (const chart of ['cpu', 'memory', 'psi']) await page.locator(`[data-chart="${chart}"] canvas`).first().waitFor();
    const table = page.getByTestId('latest-values');
    const cpu = await eventually('a CPU value in the text table', 20_000, async () => {
      const text = (await table.getByRole('row', { name: /CPU busy busy/ }).locator('td').nth(2).innerText()).trim();
      return /^\d+(\.\d+)?\s?%$/.test(text) ? text : undefined;
    });
    console.log(`CPU busy on ${host} as the table shows it: ${cpu}`);
    const memory = (await table.getByRole('row', { name: /Memory total/ }).locator('td').nth(2).innerText()).trim();
    assert.match(memory, /^\d+(\.\d+)? (MiB|GiB|TiB)$/);
    // The canvas is drawn on: some pixel of the CPU chart is not transparent.
    const painted = await page.locator('[data-chart="cpu"] canvas').first().evaluate((element) => {
      const c = element as unknown as CanvasLike;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) return true;
      return false;
    });
    assert.ok(painted, 'the CPU chart canvas is blank');
    // Live: new samples arrive every 2 s and the page asks every 5 s.
    const pointsShown = async () => Number(/up to (\d+) points/.exec(await page.getByText(/points per series/).innerText())?.[1]);
    const before = await pointsShown();
    await eventually('the charts to take in new samples', 20_000, async () => ((await pointsShown()) > before ? true : undefined));
    await screenshot(page, 'ops-node');
  });

  it('draws GPU utilisation and memory charts for a node with GPUs', async () => {
    const { page } = session;
    // This machine has no GPU: a node with two reports as an agent on a GPU node would send them.
    for (const [step, util] of [0.25, 0.75].entries()) {
      const gpu = (index: number, name: string, value: number) => ({ name, labels: { gpu: String(index), uuid: `GPU-e2e-${index}`, name: 'NVIDIA H100 80GB HBM3' }, value });
      await asNode('/api/monitor/report', {
        host: 'gpu-e2e',
        at: new Date().toISOString(),
        samples: [
          { name: 'node_time_seconds', value: Date.now() / 1000 },
          { name: 'node_memory_MemTotal_bytes', value: 512 * 2 ** 30 },
          { name: 'node_memory_MemAvailable_bytes', value: (400 - step * 100) * 2 ** 30 },
          gpu(0, 'keisan_gpu_utilization_ratio', util),
          gpu(1, 'keisan_gpu_utilization_ratio', 0),
          gpu(0, 'keisan_gpu_memory_used_bytes', 40 * 2 ** 30),
          gpu(1, 'keisan_gpu_memory_used_bytes', 0),
          gpu(0, 'keisan_gpu_processes', 1),
          gpu(1, 'keisan_gpu_processes', 0),
        ],
      });
      if (step === 0) await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    await page.goto(`${facility.url}/ops/nodes/gpu-e2e`);
    await page.getByRole('heading', { level: 1, name: 'Node gpu-e2e' }).waitFor();
    for (const chart of ['gpuUtil', 'gpuMemory']) await page.locator(`[data-chart="${chart}"] canvas`).first().waitFor();
    const table = page.getByTestId('latest-values');
    const cells = async (name: RegExp) => (await table.getByRole('row', { name }).locator('td').allInnerTexts()).slice(2).map((v) => v.trim());
    assert.deepEqual(await cells(/GPU utilisation GPU 0/), ['75%', '25%', '75%']);
    assert.deepEqual(await cells(/GPU memory used GPU 0/), ['40 GiB', '40 GiB', '40 GiB']);
    assert.deepEqual(await cells(/GPU utilisation GPU 1/), ['0%', '0%', '0%']);
    await page.locator('.stat', { hasText: 'GPUs' }).getByText('1 / 2 free').waitFor();
  });

  it('creates a silence for the firing alert (a bad matcher shows the server’s message), then expires it', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Alerts', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Alerts and silences' }).waitFor();
    const alertRow = page.getByRole('row', { name: /WebE2eLoadSeen/ });
    await alertRow.getByText('firing').waitFor();
    await page.getByText('No silence is in force.').waitFor();

    const form = page.locator('#silence-form');
    await form.getByLabel('Matchers').fill('alertname WebE2eLoadSeen');
    await form.getByLabel('Duration').fill('1h');
    await form.getByLabel('Comment').fill('e2e: testing the silence form');
    await form.getByRole('button', { name: 'Create silence' }).click();
    await form.getByRole('alert').getByText(/is not a matcher/).waitFor();

    await alertRow.getByRole('button', { name: 'Silence…' }).click();
    assert.equal(await form.getByLabel('Matchers').inputValue(), `alertname=WebE2eLoadSeen\nhost=${host}`);
    await form.getByLabel('Comment').fill('e2e: testing the silence form');
    await form.getByRole('button', { name: 'Create silence' }).click();
    await form.getByText(/Silence #\d+ created\./).waitFor();
    const silenceRow = page.getByRole('row', { name: /e2e: testing the silence form/ });
    await silenceRow.getByText('active').waitFor();
    await alertRow.getByText(/silenced by #\d+/).waitFor();
    await page.getByRole('heading', { level: 1 }).scrollIntoViewIfNeeded();
    await screenshot(page, 'ops-alerts');

    await silenceRow.getByRole('button', { name: 'Expire' }).click();
    const dialog = page.getByRole('dialog', { name: 'Expire' });
    await dialog.getByRole('button', { name: 'Expire' }).click();
    await page.getByText('No silence is in force.').waitFor();
    const silences = await facility.admin<{ state: string; removedBy: string | null }[]>('GET', '/api/monitor/silences?all=true');
    assert.deepEqual(
      silences.map((s) => [s.state, s.removedBy]),
      [['expired', facility.operator.name]],
    );
  });

  it('approves one frozen job and denies the other with a reason', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Recovery', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Recovery' }).waitFor();
    const pending = page.locator('section.card', { has: page.getByRole('heading', { name: 'Waiting for a decision' }) });
    await pending.getByRole('row', { name: /process 4243/ }).waitFor();
    const history = page.locator('section.card', { has: page.getByRole('heading', { name: 'What the watchdogs did' }) });
    await history.getByRole('row', { name: /process 4242.*kill \(automatic mode\)/ }).waitFor();
    await screenshot(page, 'ops-recovery');

    await pending.getByRole('row', { name: /process 4243/ }).getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('dialog', { name: 'Approve' }).getByRole('button', { name: 'Approve' }).click();
    await pending.getByRole('row', { name: /process 4243/ }).waitFor({ state: 'detached' });

    await pending.getByRole('row', { name: /process 4244/ }).getByRole('button', { name: 'Deny' }).click();
    const deny = page.getByRole('dialog', { name: 'Deny' });
    await deny.getByLabel('Reason (optional)').fill('the user is saving a checkpoint');
    await deny.getByRole('button', { name: 'Deny' }).click();
    await page.getByText('No frozen job waits for a decision.').waitFor();
    const audit = await facility.admin<{ action: string; detail: Record<string, unknown> }[]>('GET', '/api/audit?action=recovery.');
    assert.ok(audit.some((e) => JSON.stringify(e.detail).includes('the user is saving a checkpoint')), JSON.stringify(audit));
  });

  it('filters the audit log by what was done and pages through it', async () => {
    const { page } = session;
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    await page.getByRole('row', { name: /silence\.remove/ }).waitFor();
    await page.getByLabel('What').fill('silence.');
    await page.getByRole('button', { name: 'Show' }).click();
    await eventually('only silence entries', 10_000, async () => {
      const actions = await page.locator('tbody tr td:nth-child(3)').allInnerTexts();
      return actions.length === 2 && actions.every((a) => a.startsWith('silence.')) ? actions : undefined;
    });
    await page.getByLabel('What').fill('');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('row', { name: /recovery\.deny/ }).waitFor();
    await screenshot(page, 'ops-audit');
    assert.equal(await page.getByRole('button', { name: 'Newer' }).isDisabled(), true);

    // 60 more entries: the newest 50 on page 1, the rest older.
    const silences: { id: number }[] = [];
    for (let i = 0; i < 30; i++) silences.push(await facility.admin<{ id: number }>('POST', '/api/monitor/silences', { matchers: [`alertname=Paging${i}`], for: '1m', comment: `paging ${i}` }));
    for (const silence of silences) await facility.admin('DELETE', `/api/monitor/silences/${silence.id}`);
    await page.getByLabel('What').fill('silence.');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('page 1').waitFor();
    await eventually('a full first page', 10_000, async () => ((await page.locator('tbody tr').count()) === 50 ? true : undefined));
    await page.getByRole('button', { name: 'Older' }).click();
    await page.getByText('page 2').waitFor();
    await eventually('the older page (62 silence entries in all)', 10_000, async () => ((await page.locator('tbody tr').count()) === 12 ? true : undefined));
    assert.equal(await page.getByRole('button', { name: 'Older' }).isDisabled(), true);
    await page.getByRole('row', { name: /silence\.add.*WebE2eLoadSeen/ }).waitFor();
    await page.getByRole('button', { name: 'Newer' }).click();
    await page.getByText('page 1').waitFor();
  });

  it('shows the inventory and power, and fits a phone screen', async () => {
    const { page } = session;
    await facility.admin('POST', '/api/ops/hosts', { name: 'web-e2e-a', roles: ['login'] });
    await facility.admin('POST', '/api/ops/hosts', { name: 'web-e2e-b', roles: ['login'] });
    await facility.admin('POST', '/api/ops/groups', { name: 'login-pool', members: ['web-e2e-a', 'web-e2e-b'], minHealthy: 1 });
    await page.getByRole('link', { name: 'Inventory' }).click();
    await page.getByRole('heading', { level: 1, name: 'Inventory' }).waitFor();
    await page.getByRole('row', { name: /^login-pool / }).waitFor();
    await page.getByText('Power monitoring is not set up').waitFor();
    await screenshot(page, 'ops-inventory');
    await page.setViewportSize({ width: 375, height: 800 });
    for (const [route, title] of [
      [`/ops/nodes/${host}`, `Node ${host}`],
      ['/ops/nodes', 'Nodes'],
      ['/ops/alerts', 'Alerts and silences'],
      ['/ops/recovery', 'Recovery'],
      ['/ops/inventory', 'Inventory'],
      ['/ops/audit', 'Audit log'],
      ['/ops', 'Operations overview'],
    ] as const) {
      await page.goto(`${facility.url}${route}`);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      await page.getByRole('table').or(page.locator('.card')).first().waitFor();
      const overflow = await page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
        return root.scrollWidth - root.clientWidth;
      });
      const widest = overflow <= 1 ? '' : await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getBoundingClientRect(): { right: number }; tagName: string; className: string }> } }).document;
        return Array.from(doc.querySelectorAll('main *')).filter((e) => e.getBoundingClientRect().right > 376).map((e) => `${e.tagName}.${e.className}`).slice(-3).join(', ');
      });
      assert.ok(overflow <= 1, `${route} is ${overflow} px wider than a phone (${widest})`);
    }
    await page.getByLabel('Language').selectOption('ja');
    await page.getByRole('heading', { level: 1, name: '運用の概要' }).waitFor();
    await page.getByRole('heading', { name: '発報中のアラート' }).waitFor();
    await page.getByLabel('言語').selectOption('en');
  });

  it('a researcher has no Operations section, and an operator page’s address tells her it is for operators', async () => {
    const { page } = session;
    await page.setViewportSize({ width: 1366, height: 860 });
    await page.getByRole('button', { name: 'Log out' }).click();
    await logIn(page, facility, alice);
    assert.equal(await page.getByRole('link', { name: 'Operations overview' }).count(), 0);
    await page.goto(`${facility.url}/ops/alerts`);
    await page.getByRole('heading', { level: 1, name: 'For operators' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create silence' }).count(), 0);
  });
});
