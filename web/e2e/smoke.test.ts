import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { browserSkipReason, Facility, logIn, openBrowser, type BrowserSession } from './harness.ts';

const skip = browserSkipReason();

describe('web UI in Chromium: the basics', { skip: skip ?? false, timeout: 240_000 }, () => {
  let facility: Facility;
  let session: BrowserSession;

  before(async () => {
    facility = await Facility.start();
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
    const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
    assert.ok(fcp !== null, 'no first-contentful-paint entry');
    console.log(`first contentful paint of the login page: ${fcp.toFixed(0)} ms`);
    assert.ok(fcp < 1000, `first contentful paint took ${fcp} ms`);
    assert.equal(await page.getByRole('link', { name: 'Public status page' }).getAttribute('href'), '/status');
  });

  it('logs in as the first operator and keeps the session across a server restart', async () => {
    const { page } = session;
    await logIn(page, facility, facility.operator);
    assert.match(await page.getByTestId('who').innerText(), /admin/);
    await facility.restart();
    await page.reload();
    await page.getByTestId('who').waitFor();
  });
});
