import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkipReason, Facility, openBrowser, screenshot, type BrowserSession } from './harness.ts';

const skip = browserSkipReason();

/** First contentful paint of the page just loaded, in ms, as Chromium measured it. */
async function firstContentfulPaint(page: Page): Promise<number> {
  const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
  assert.ok(fcp !== null, 'no first-contentful-paint entry');
  return fcp;
}

describe('web UI in Chromium: loading, language, server restarts', { skip: skip ?? false, timeout: 300_000 }, () => {
  let facility: Facility;
  let session: BrowserSession;

  before(async () => {
    facility = await Facility.start();
    await facility.seedLab();
    session = await openBrowser();
  });
  after(async () => {
    await session?.browser.close();
    await facility?.dispose();
  });

  it('the login page paints in under a second and links the public status page', async () => {
    const { page } = session;
    await page.goto(`${facility.url}/`);
    await page.locator('input[name="user"]').waitFor();
    const fcp = await firstContentfulPaint(page);
    console.log(`first contentful paint, login page: ${fcp.toFixed(0)} ms`);
    assert.ok(fcp < 1000, `first contentful paint took ${fcp} ms`);
    assert.equal(await page.getByRole('link', { name: 'Public status page' }).getAttribute('href'), '/status');
  });

  it('sends the bundle compressed, cached for a year, and page addresses as the app (API clients get JSON)', async () => {
    const html = await (await fetch(`${facility.url}/jobs/42`, { headers: { accept: 'text/html' } })).text();
    const bundle = /src="(\/assets\/index-[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(bundle, `no bundle in ${html}`);
    const response = await fetch(`${facility.url}${bundle}`, { headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-encoding'), 'br');
    assert.match(String(response.headers.get('cache-control')), /immutable/);
    const api = await fetch(`${facility.url}/jobs/42`);
    assert.equal(api.status, 404);
    assert.match(String(api.headers.get('content-type')), /application\/json/);
  });

  it('works with the keyboard alone: log in, skip to the content, reach the navigation', async () => {
    const { page } = session;
    await page.goto(`${facility.url}/login`);
    await page.waitForFunction('document.activeElement && document.activeElement.getAttribute("name") === "user"');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    await page.keyboard.type('alice password 1');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate('document.activeElement.id'), 'main');
    await page.goto(`${facility.url}/`);
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    const labels: string[] = [];
    for (let i = 0; i < 12 && !labels.includes('Jobs'); i++) {
      await page.keyboard.press('Tab');
      labels.push(String(await page.evaluate('document.activeElement.textContent')));
    }
    assert.ok(labels.includes('Jobs'), `Tab never reached the Jobs link: ${labels.join(' | ')}`);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
    // One navigation entry is the current page, the most specific one.
    await page.goto(`${facility.url}/jobs/new`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    const current = await page.getByRole('navigation').locator('[aria-current="page"]').allInnerTexts();
    assert.deepEqual(current, ['Submit a job']);
    await page.goto(`${facility.url}/`);
  });

  it('a logged-in reload of the overview paints in under a second', async () => {
    const { page } = session;
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      await page.reload();
      await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      timings.push(await firstContentfulPaint(page));
    }
    timings.sort((a, b) => a - b);
    console.log(`first contentful paint, overview (5 reloads): ${timings.map((t) => t.toFixed(0)).join(', ')} ms`);
    assert.ok(timings[2]! < 1000, `median first contentful paint ${timings[2]} ms`);
  });

  it('switches to Japanese, remembers it across a reload, and formats for the locale', async () => {
    const { page } = session;
    await page.getByLabel('Language').first().selectOption('ja');
    await page.getByRole('heading', { name: '概要', level: 1 }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.lang'), 'ja');
    await page.reload();
    await page.getByRole('heading', { name: '概要', level: 1 }).waitFor();
    await page.getByRole('navigation').getByRole('link', { name: 'ジョブ' }).first().waitFor();
    await page.waitForTimeout(1500);
    await screenshot(page, 'ja-overview');
    await page.getByLabel('言語').first().selectOption('en');
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  });

  it('says the server is not answering while it restarts, then carries on without a new login', async () => {
    const { page } = session;
    await facility.down();
    const banner = page.getByText('The server is not answering. Retrying…');
    await banner.waitFor({ timeout: 30_000 });
    await facility.up();
    await banner.waitFor({ state: 'detached', timeout: 60_000 });
    await page.getByTestId('who').waitFor();
    assert.equal(page.url().includes('/login'), false, `sent to the login page: ${page.url()}`);
    // A new request after the restart works with the same ticket.
    await page.getByRole('navigation').getByRole('link', { name: 'Jobs' }).first().click();
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
  });

  it('fits a phone: the menu opens the navigation', async () => {
    const { page } = session;
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto(`${facility.url}/`);
    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    assert.equal(await nav.isVisible(), false);
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav.waitFor({ state: 'visible' });
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
    assert.ok(overflow <= 1, `the page is ${overflow} px wider than the phone`);
    await page.setViewportSize({ width: 1366, height: 860 });
  });
});
