import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { expectCode, runKeisan } from '../cli/testing.ts';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import { openDatabase, type Db } from '../db/connection.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { loadFacilityFile } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { initTestDataDir, seedOperator } from '../server/testing.ts';
import { createMailer } from './mail.ts';
import { describeWithSmtp, TestSmtpServer } from './testing-smtp.ts';

/**
 * `keisan admin mail …` — the real CLI against a listening server whose keisan.yaml names a real
 * SMTP server, with the password file beside it (wired as `keisan server` wires it).
 */
describeWithSmtp('keisan admin mail', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-mail-cli-'));
  const data = path.join(scratch, 'data');
  const home = path.join(scratch, 'home');
  let smtp: TestSmtpServer;
  let db: Db;
  let app: KeisanApp;

  before(async () => {
    smtp = await TestSmtpServer.start();
    initTestDataDir(data, {
      mail: { from: 'Keisan <keisan@example.org>', smtp: { host: '127.0.0.1', port: smtp.port, user: 'keisan', passwordFile: 'smtp-password' } },
    });
    writeFileSync(path.join(data, 'smtp-password'), 'not used by the test server\n', { mode: 0o600 });
    const { settings } = loadFacilityFile(data);
    db = openDatabase('sqlite::memory:');
    await migrateToLatest(db);
    app = await buildApp({ settings, db, nodeSecret: 'secret', mailer: createMailer(settings.mail!, data) });
    await seedOperator(app.keisan.accounts);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    expectCode(await runKeisan(home, ['login', 'olga', '--password-stdin', '--server', url], 'olga password\n'), 0);
  });
  after(async () => {
    await app?.close();
    await db?.close();
    await smtp?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('test sends through the SMTP server of keisan.yaml and shows its answer; outbox lists what did not go out', async () => {
    await app.keisan.mail.toUser('olga', 'nobody-here@example.org', { subject: 'Job 9 (x) completed', text: 'x' });
    for (let i = 0; i < 200 && (await app.keisan.mail.outbox(SYSTEM_ACTOR, ['failed'], 1)).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const [sentRun, outboxRun] = await Promise.all([runKeisan(home, ['admin', 'mail', 'test', 'ops@example.org']), runKeisan(home, ['admin', 'mail', 'outbox'])]);
    const sent = expectCode(sentRun, 0);
    assert.match(sent.stdout, new RegExp(`^Sent to ops@example\\.org through 127\\.0\\.0\\.1:${smtp.port}\\.$`, 'm'));
    assert.match(sent.stdout, /^server said +250 2\.0\.0 OK queued as test-\d+$/m);
    await smtp.waitFor((m) => m.rcptTo.includes('ops@example.org'));

    const outbox = expectCode(outboxRun, 0);
    const [head, row, ...rest] = outbox.stdout.trim().split('\n').map((line) => line.trimEnd());
    assert.match(head ?? '', /^ID +STATE +CREATED +TO +SUBJECT +TRIES +NEXT TRY +LAST ERROR$/);
    assert.match(row ?? '', /^1 +failed +\d{4}-\d\d-\d\d \d\d:\d\d +nobody-here@example\.org +Job 9 \(x\) completed +1 +- +127\.0\.0\.1:\d+ refused the message: 550 5\.1\.1/);
    assert.deepEqual(rest, []);
  });

  it('says why, and where to look, when the SMTP server is down', async () => {
    await smtp.stop();
    const failed = expectCode(await runKeisan(home, ['admin', 'mail', 'test', 'ops@example.org']), 1);
    assert.equal(
      failed.stderr.trim(),
      `keisan: the test message to ops@example.org was not sent: could not connect to 127.0.0.1:${smtp.port}: connection refused — check mail.smtp in keisan.yaml`,
    );
  });
});
