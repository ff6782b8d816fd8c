import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { browserSkipReason, eventually, Facility, logIn, openBrowser, screenshot, type Account, type BrowserSession } from './harness.ts';

const skip = browserSkipReason();

describe('web UI in Chromium: the researcher views', { skip: skip ?? false, timeout: 300_000 }, () => {
  let facility: Facility;
  let session: BrowserSession;
  let alice: Account;
  let olga: Account;
  let work: string;

  before(async () => {
    facility = await Facility.start();
    ({ alice, olga } = await facility.seedLab());
    // The job runs as alice's uid: its submit directory (where slurm-<id>.out goes) must be hers to write.
    work = mkdtempSync(path.join(tmpdir(), 'keisan-web-researcher-'));
    chmodSync(work, 0o777);
    session = await openBrowser();
  });
  after(async () => {
    await session?.browser.close();
    await facility?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('alice logs in and the overview shows what is free, her jobs and her notifications', async () => {
    const { page } = session;
    await logIn(page, facility, alice);
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    // The agent on this machine reports within seconds: the numbers come from its report.
    const free = page.getByTestId('free-now');
    await free.waitFor({ timeout: 30_000 });
    const text = await free.innerText();
    assert.match(text, /GPUs free right now/);
    assert.match(text, /CPUs idle/);
    assert.match(text, /Nodes up\s*\n?.*of 1/s);
    assert.equal(await page.getByTestId('running-count').innerText(), '0');
    assert.equal(await page.getByTestId('unread-count').innerText(), '0');
    await page.getByText('No current incidents.').waitFor();
  });

  it('submits a job after seeing its directives as the server parses them, and watches it finish with its output', async () => {
    const { page } = session;
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Submit a job' }).click();
    await page.getByRole('heading', { name: 'Submit a job', level: 1 }).waitFor();
    const script = page.getByLabel('Script (#SBATCH or #BSUB directives)');
    assert.match(await script.inputValue(), /#SBATCH -n 1/, 'the template is there to start from');

    // A request the facility cannot meet is refused before submitting, in the server's words.
    await script.fill('#!/bin/sh\n#SBATCH -n 4096\necho hello\n');
    await page.getByTestId('preview-refusal').waitFor();
    assert.match(await page.getByTestId('preview-refusal').innerText(), /no queue can take this job: .*asked 4096/);

    await script.fill('#!/bin/sh\n#SBATCH -J web-hello\n#SBATCH -n 1\n#SBATCH --mem=64M\n#SBATCH -t 5:00\n#SBATCH --mail-type=END\necho hello; sleep 3; echo done\n');
    await page.getByLabel('Submit directory').fill(work);
    const preview = page.getByTestId('submit-preview');
    await eventually('the preview of web-hello', 15_000, async () => ((await preview.isVisible()) && /web-hello/.test(await preview.innerText()) && (await preview.innerText()).includes(work) ? true : undefined));
    const previewText = await preview.innerText();
    assert.match(previewText, /Memory\s+64 MiB/);
    assert.match(previewText, /Time limit\s+5 min/);
    assert.match(previewText, /CPUs\s+1 \(1 tasks × 1 CPUs\)/);
    await screenshot(page, 'researcher-submit');

    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    const id = Number(new URL(page.url()).pathname.split('/').pop());
    await page.getByRole('heading', { name: `Job ${id}` }).waitFor();
    // Running, then completed: the page follows it without a reload.
    await page.locator('.job-state .badge', { hasText: 'completed' }).waitFor({ timeout: 60_000 });
    await eventually('the job output', 15_000, async () => (/hello\s+done/.test(await page.getByTestId('job-output').innerText()) ? true : undefined));
    await page.getByText('The job has ended: this is all of its output.').waitFor();
    assert.equal(readFileSync(path.join(work, `slurm-${id}.out`), 'utf8'), 'hello\ndone\n');
    await screenshot(page, 'researcher-job');

    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Jobs', exact: true }).click();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: String(id), exact: true }) });
    await row.waitFor();
    assert.match(await row.innerText(), /web-hello/);
    assert.match(await row.innerText(), /completed/);
    await screenshot(page, 'researcher-jobs');
  });

  it('an array is one row of the list with its tasks on its page; a waiting job is held, released and cancelled from its page', async () => {
    const { page } = session;
    const submit = (script: string) => facility.request<{ jobs: number[]; arrayJobId: number | null }>('POST', '/api/jobs', { script, submitDir: work, environment: { PATH: '/usr/bin:/bin' } }, alice);
    const array = await submit('#!/bin/sh\n#SBATCH -J web-array\n#SBATCH --array=1-3\n#SBATCH --mem=32M\n#SBATCH -t 1:00\necho task $SLURM_ARRAY_TASK_ID\n');
    const later = await submit('#!/bin/sh\n#SBATCH -J web-later\n#SBATCH --begin=now+1hour\n#SBATCH --mem=32M\ntrue\n');
    const laterId = later.jobs[0]!;

    await page.goto(`${facility.url}/jobs`);
    const arrayRow = page.getByRole('row').filter({ has: page.getByRole('link', { name: `${array.arrayJobId}[]` }) });
    await arrayRow.waitFor();
    assert.match(await arrayRow.innerText(), /array of 3 tasks/);
    await arrayRow.getByRole('link').click();
    const tasks = page.getByRole('table', { name: `Tasks of array ${array.arrayJobId}` });
    await tasks.waitFor();
    for (const task of [1, 2, 3]) await tasks.getByRole('link', { name: `${array.arrayJobId}_${task}` }).waitFor();

    await page.goto(`${facility.url}/jobs/${laterId}`);
    await page.getByRole('heading', { name: `Job ${laterId}` }).waitFor();
    await eventually('the why-pending text', 15_000, async () => (/not before|begin|later|eligible/i.test(await page.getByTestId('why-pending').innerText()) ? true : undefined));
    await page.getByRole('button', { name: 'Hold', exact: true }).click();
    await page.locator('.job-state .badge', { hasText: 'held' }).waitFor();
    assert.equal((await facility.request<{ held: boolean }>('GET', `/api/jobs/${laterId}`, undefined, alice)).held, true);
    await page.getByRole('button', { name: 'Release', exact: true }).click();
    await page.getByRole('button', { name: 'Hold', exact: true }).waitFor();
    assert.equal((await facility.request<{ held: boolean }>('GET', `/api/jobs/${laterId}`, undefined, alice)).held, false);

    await page.getByRole('button', { name: 'Cancel job' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel job' });
    await dialog.getByText(`Cancel job ${laterId} (web-later)?`).waitFor();
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('.job-state .badge', { hasText: 'cancelled' }).waitFor();
    assert.equal((await facility.request<{ state: string }>('GET', `/api/jobs/${laterId}`, undefined, alice)).state, 'cancelled');
    await page.getByRole('button', { name: 'Cancel job' }).waitFor({ state: 'detached' });
  });

  it('uploads a file with progress and downloads the same bytes back', async () => {
    const { page } = session;
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Files' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Location' }).getByText('lab-ml').waitFor();

    await page.getByLabel('New directory').fill('results');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('link', { name: 'results/' }).click();
    await page.locator('.breadcrumbs [aria-current="page"]', { hasText: 'results' }).waitFor();

    const bytes = randomBytes(3 * 1024 * 1024 + 123);
    await page.getByLabel('Upload files').setInputFiles({ name: 'data.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await page.getByText('Uploaded data.bin').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('.transfer progress').first().getAttribute('value'), String(bytes.length));
    await page.getByRole('cell', { name: 'data.bin', exact: true }).waitFor();

    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download data.bin' }).click();
    const download = await downloading;
    assert.equal(download.suggestedFilename(), 'data.bin');
    const saved = await download.path();
    assert.ok(saved, 'the download was saved');
    assert.ok(readFileSync(saved).equals(bytes), 'the downloaded bytes are the uploaded bytes');
    await page.getByText('Downloaded data.bin').waitFor();

    const entry = await facility.request<{ size: number; owner: string }>('GET', `/api/fs/entries?path=${encodeURIComponent('/lab/lab-ml/results/data.bin')}`, undefined, alice);
    assert.equal(entry.size, bytes.length);
    assert.equal(entry.owner, 'alice');
    await screenshot(page, 'researcher-files');
    await page.getByRole('link', { name: 'lab-ml' }).click();
    await page.getByRole('link', { name: 'results/' }).waitFor();
  });

  it('files: renames a file, adds a read entry for bob through the ACL editor, deletes it after confirming; devices: reserves one for 30 minutes and releases it, an operator ends a reservation with a reason', async () => {
    const { page } = session;
    await page.goto(`${facility.url}/files?path=${encodeURIComponent('/lab/lab-ml/results')}`);
    await page.getByRole('cell', { name: 'data.bin', exact: true }).waitFor();

    await page.getByRole('button', { name: 'Move or rename data.bin' }).click();
    const moveDialog = page.getByRole('dialog', { name: 'Move or rename data.bin' });
    await moveDialog.getByLabel('New path').fill('/lab/lab-ml/results/renamed.bin');
    await moveDialog.getByRole('button', { name: 'Move', exact: true }).click();
    await page.getByRole('cell', { name: 'renamed.bin', exact: true }).waitFor();
    await page.getByRole('cell', { name: 'data.bin', exact: true }).waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Access control of renamed.bin' }).click();
    const aclDialog = page.getByRole('dialog', { name: 'Access control of /lab/lab-ml/results/renamed.bin' });
    const entries = aclDialog.getByLabel('Entries, one per line');
    await eventually('the ACL text', 10_000, async () => ((await entries.inputValue()).includes('user::') ? true : undefined));
    await entries.fill(`${await entries.inputValue()}\nuser:bob:r-----`);
    await aclDialog.getByRole('button', { name: 'Save' }).click();
    await aclDialog.getByText('Saved.').waitFor();
    const acl = await facility.request<{ acl: string }>('GET', `/api/fs/acl?path=${encodeURIComponent('/lab/lab-ml/results/renamed.bin')}`, undefined, alice);
    assert.match(acl.acl, /user:bob:r-----/);
    await aclDialog.getByRole('button', { name: 'Close' }).click();

    await page.getByRole('row').filter({ hasText: 'renamed.bin' }).getByRole('button', { name: 'Delete' }).click();
    const deleteDialog = page.getByRole('dialog', { name: 'Delete' });
    await deleteDialog.getByText('Delete /lab/lab-ml/results/renamed.bin? This cannot be undone.').waitFor();
    await deleteDialog.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('cell', { name: 'renamed.bin', exact: true }).waitFor({ state: 'detached' });
    const listing = await facility.request<{ entries: unknown[] }>('GET', `/api/fs/children?path=${encodeURIComponent('/lab/lab-ml/results')}`, undefined, alice);
    assert.deepEqual(listing.entries, []);

    await facility.admin('POST', '/api/devices', { name: 'scope-1', kind: 'microscope', description: 'confocal', idleRelease: '20m' });
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Devices' }).click();
    const row = page.getByRole('row').filter({ hasText: 'scope-1' });
    await row.getByText('free', { exact: true }).waitFor();
    await row.getByLabel('For').fill('30m');
    await row.getByRole('button', { name: 'Reserve scope-1' }).click();
    await row.getByText('reserved', { exact: true }).waitFor();
    const held = await facility.request<{ holder: string | null; reservedUntil: string | null }>('GET', '/api/devices/scope-1', undefined, alice);
    assert.equal(held.holder, 'alice');
    assert.ok(held.reservedUntil && Math.abs(Date.parse(held.reservedUntil) - Date.now() - 30 * 60_000) < 60_000, `reserved until ${held.reservedUntil}`);
    await row.getByRole('button', { name: 'Release' }).click();
    await page.getByRole('dialog', { name: 'Release' }).getByRole('button', { name: 'Release' }).click();
    await row.getByText('free', { exact: true }).waitFor();
    assert.equal((await facility.request<{ holder: string | null }>('GET', '/api/devices/scope-1', undefined, alice)).holder, null);

    // An operator (olga) ends alice's reservation with a reason; alice sees no such form.
    await facility.request('POST', '/api/devices/scope-1/reserve', { for: '1h' }, alice);
    await row.getByText('reserved', { exact: true }).waitFor();
    assert.equal(await row.getByRole('button', { name: 'End reservation' }).count(), 0);
    const context = await session.browser.newContext({ locale: 'en-GB', viewport: { width: 1366, height: 860 } });
    try {
      const olgaPage = await context.newPage();
      await logIn(olgaPage, facility, olga);
      await olgaPage.goto(`${facility.url}/devices`);
      const olgaRow = olgaPage.getByRole('row').filter({ hasText: 'scope-1' });
      await olgaRow.getByLabel('Reason for ending the reservation').fill('the scope is needed for a calibration');
      await olgaRow.getByRole('button', { name: 'End reservation' }).click();
      await olgaRow.getByText('free', { exact: true }).waitFor();
    } finally {
      await context.close();
    }
    assert.equal((await facility.request<{ holder: string | null }>('GET', '/api/devices/scope-1', undefined, alice)).holder, null);
  });

  it('the overview counts the notice the ended job left; marking it read on the notifications page clears it', async () => {
    const { page } = session;
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Overview' }).click();
    await page.getByTestId('free-now').waitFor();
    await eventually('one unread notification', 15_000, async () => ((await page.getByTestId('unread-count').innerText()) === '1' ? true : undefined));
    assert.equal(await page.getByTestId('running-count').innerText(), '0');
    await screenshot(page, 'researcher-overview');

    await page.getByRole('link', { name: 'Open', exact: true }).click();
    await page.getByRole('heading', { name: /\(web-hello\) completed/ }).waitFor();
    await page.getByRole('button', { name: /^Mark “Job \d+ \(web-hello\) completed” read$/ }).click();
    await page.getByRole('button', { name: 'Mark all read' }).and(page.locator(':disabled')).waitFor();
    await page.getByRole('navigation', { name: 'Main navigation' }).getByRole('link', { name: 'Overview' }).click();
    await eventually('no unread notification', 15_000, async () => ((await page.getByTestId('unread-count').innerText()) === '0' ? true : undefined));
  });

  it('in Japanese on a phone (375 px): the overview, job list, submit and files pages read in Japanese and fit the screen', async () => {
    const phone = await openBrowser({ locale: 'ja-JP' });
    try {
      const { page } = phone;
      // The shell hides the user's name on a phone, and logIn waits for it: log in wide, then narrow the window.
      await logIn(page, facility, alice);
      await page.setViewportSize({ width: 375, height: 800 });
      await page.getByRole('heading', { name: '概要', level: 1 }).waitFor();
      await page.getByTestId('free-now').getByText('空き GPU').waitFor({ timeout: 30_000 });
      await page.goto(`${facility.url}/jobs`);
      await page.getByRole('heading', { name: 'ジョブ', level: 1 }).waitFor();
      await page.getByText('web-hello').waitFor();
      await page.locator('td .badge', { hasText: '完了' }).first().waitFor();
      const overflow = () => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth').then(Number);
      assert.ok((await overflow()) <= 0, `the job list is ${await overflow()} px wider than the phone's screen`);
      await page.goto(`${facility.url}/jobs/new`);
      await page.getByTestId('submit-preview').getByText('1 GiB').waitFor();
      assert.ok((await overflow()) <= 0, `the submit page is ${await overflow()} px wider than the phone's screen`);
      await page.goto(`${facility.url}/files`);
      await page.getByRole('link', { name: 'results/' }).waitFor();
      assert.ok((await overflow()) <= 0, `the files page is ${await overflow()} px wider than the phone's screen`);
    } finally {
      await phone.browser.close();
    }
  });

  it('changes her password on the account page: the new one logs in', async () => {
    const { page } = session;
    await page.goto(`${facility.url}/account`);
    await page.getByRole('heading', { name: 'My account', level: 1 }).waitFor();
    await page.getByLabel('Current password').fill(alice.password);
    await page.getByLabel('New password', { exact: true }).fill('alice password 2');
    await page.getByLabel('New password again').fill('alice password 3');
    await page.getByText('The two new passwords differ.').waitFor();
    await page.getByLabel('New password again').fill('alice password 2');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Your password has been changed.').waitFor();
    const login = await facility.request<{ ticket: string }>('POST', '/api/auth/login', { user: 'alice', password: 'alice password 2' });
    assert.ok(login.ticket);
  });
});
