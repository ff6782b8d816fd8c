import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { ManualClock } from '../lib/clock.ts';
import { parseSettings, parseYaml, type MailSettings } from '../lib/config.ts';
import { DEFAULT_FACILITY_FILE } from '../server/facility.ts';
import { createMailer, type MailError, type Mailer } from './mail.ts';
import { FIRST_RETRY_MS, GIVE_UP_AFTER_MS, MailOutbox, MAX_RETRY_MS, nextAttempt } from './outbox.ts';
import { freePort } from '../lib/net.ts';
import { describeWithSmtp, TestSmtpServer } from './testing-smtp.ts';

const FROM = 'Keisan Test <keisan@example.org>';
const mailSettings = (port: number, extra: Partial<MailSettings['smtp']> = {}): MailSettings =>
  parseSettings({ mail: { from: FROM, smtp: { host: '127.0.0.1', port, ...extra } } }, 'test').mail!;
const silent = pino({ level: 'silent' });

describe('mail settings', () => {
  const parse = (mail: unknown) => parseSettings({ mail }, 'keisan.yaml');
  const refused = (mail: unknown) => {
    try {
      parse(mail);
    } catch (error) {
      return (error as Error).message;
    }
    assert.fail(`accepted ${JSON.stringify(mail)}`);
  };

  it('is optional, and fills in the defaults', () => {
    assert.equal(parseSettings({}, 'keisan.yaml').mail, undefined);
    assert.deepEqual(parse({ from: 'keisan@example.org', smtp: { host: 'smtp.example.org' } }).mail, {
      from: 'keisan@example.org',
      smtp: { host: 'smtp.example.org', port: 25, secure: false, requireTls: false },
    });
  });

  it("the facility file template's commented example is valid once uncommented", () => {
    const [head, tail] = DEFAULT_FACILITY_FILE.split('# mail:\n');
    assert.ok(tail, 'the template shows a mail: section');
    const text = `${head}mail:\n${tail.split('\n').map((line) => line.replace(/^# /, '')).join('\n')}`;
    const mail = parseSettings(parseYaml(text, 'keisan.yaml'), 'keisan.yaml').mail;
    assert.equal(mail?.smtp.requireTls, true);
    assert.equal(mail?.smtp.passwordFile, 'smtp-password');
  });

  it('refuses bad sections, naming the field and what to write', () => {
    assert.match(refused({ from: 'keisan', smtp: { host: 'h' } }), /^keisan\.yaml: mail\.from: not an e-mail address: write keisan@example\.org/);
    assert.match(refused({ from: 'Keisan <keisan@example.org>' }), /mail\.smtp: missing: the SMTP server to send through/);
    assert.match(refused({ from: 'k@example.org', smtp: { host: 'h', port: 0 } }), /mail\.smtp\.port: a TCP port: 1 to 65535/);
    assert.match(refused({ from: 'k@example.org', smtp: { host: 'h', password: 'hunter2' } }), /mail\.smtp\.password: a password never goes in keisan\.yaml: .*passwordFile/);
    assert.match(refused({ from: 'k@example.org', smtp: { host: 'h', secure: true, requireTls: true } }), /mail\.smtp\.requireTls: secure .* and requireTls .* exclude each other/);
    assert.match(refused({ from: 'k@example.org', smtp: { host: 'h', user: 'keisan' } }), /mail\.smtp\.passwordFile: user 'keisan' needs a passwordFile/);
    assert.match(refused({ from: 'k@example.org', smtp: { host: 'h', passwordFile: 'pw' } }), /mail\.smtp\.user: passwordFile is given but no user/);
    assert.match(refused({ from: 'k@example.org', smtp: { host: 'h', hots: 'x' } }), /mail\.smtp: unknown field 'hots'/);
    assert.match(refused({ from: 'k@example.org', smtp: { host: 'h' }, relay: true }), /mail: unknown field 'relay'/);
  });

  it('reads the password file (relative to the data directory) when the mailer is made, and says when it cannot', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keisan-mail-'));
    try {
      const settings = mailSettings(2525, { user: 'keisan', passwordFile: 'smtp-password' });
      assert.throws(() => createMailer(settings, dir), (error: Error) => {
        assert.equal(error.message, `mail.smtp.passwordFile: cannot read ${path.join(dir, 'smtp-password')} (no such file): create it with the SMTP password for 'keisan', mode 0600`);
        return true;
      });
      writeFileSync(path.join(dir, 'smtp-password'), '\n');
      assert.throws(() => createMailer(settings, dir), /is empty: it should hold the SMTP password for 'keisan'/);
      writeFileSync(path.join(dir, 'smtp-password'), 'secret\n', { mode: 0o600 });
      const mailer = createMailer(settings, dir);
      assert.equal(mailer.server, '127.0.0.1:2525');
      mailer.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the retry decision', () => {
  const created = new Date('2026-01-01T00:00:00Z');
  const at = (ms: number) => new Date(created.getTime() + ms);

  it('waits 30 s after the first failure, doubling up to an hour', () => {
    assert.equal(nextAttempt(1, created, created, false)?.getTime(), at(FIRST_RETRY_MS).getTime());
    assert.equal(nextAttempt(2, created, at(1000), false)?.getTime(), at(1000 + 2 * FIRST_RETRY_MS).getTime());
    assert.equal(nextAttempt(3, created, at(1000), false)?.getTime(), at(1000 + 4 * FIRST_RETRY_MS).getTime());
    assert.equal(nextAttempt(12, created, at(1000), false)?.getTime(), at(1000 + MAX_RETRY_MS).getTime());
    assert.equal(nextAttempt(60, created, at(1000), false)?.getTime(), at(1000 + MAX_RETRY_MS).getTime());
  });

  it('gives up on a permanent refusal at once, and on anything after 24 h', () => {
    assert.equal(nextAttempt(1, created, created, true), null);
    assert.ok(nextAttempt(30, created, at(GIVE_UP_AFTER_MS - 1), false));
    assert.equal(nextAttempt(30, created, at(GIVE_UP_AFTER_MS), false), null);
  });
});

describeWithSmtp('mail through a real SMTP server', () => {
  let smtp: TestSmtpServer;
  before(async () => {
    smtp = await TestSmtpServer.start();
  });
  after(async () => {
    await smtp?.stop();
  });

  it('the mailer delivers a message and returns the server\'s answer', async () => {
    const mailer = createMailer(mailSettings(smtp.port), tmpdir());
    try {
      const sent = await mailer.send({ to: 'alice@example.org', subject: 'Job 7 (träin) completed', text: 'exit code 0\nwall time 3s\n' });
      assert.match(sent.response, /^250 2\.0\.0 OK queued as test-\d+$/);
      const delivered = await smtp.waitFor((m) => m.messageId === sent.messageId);
      assert.deepEqual(delivered.rcptTo, ['alice@example.org']);
      assert.equal(delivered.mailFrom, 'keisan@example.org');
      assert.equal(delivered.from, FROM);
      assert.equal(delivered.subject, 'Job 7 (träin) completed');
      assert.equal(delivered.text, 'exit code 0\nwall time 3s\n');
    } finally {
      mailer.close();
    }
  });

  it('says in words why a message was not sent, and whether trying again can help', async () => {
    const port = await freePort();
    const down = createMailer(mailSettings(port), tmpdir());
    await assert.rejects(down.send({ to: 'alice@example.org', subject: 's', text: 't' }), (error: MailError) => {
      assert.equal(error.message, `could not connect to 127.0.0.1:${port}: connection refused — check mail.smtp in keisan.yaml`);
      assert.equal(error.permanent, false);
      return true;
    });
    const up = createMailer(mailSettings(smtp.port), tmpdir());
    await assert.rejects(up.send({ to: 'nobody-here@example.org', subject: 's', text: 't' }), (error: MailError) => {
      assert.equal(error.message, `127.0.0.1:${smtp.port} refused the message: 550 5.1.1 <nobody-here@example.org>: no such mailbox here`);
      assert.equal(error.permanent, true);
      return true;
    });
    const starttls = createMailer(mailSettings(smtp.port, { requireTls: true }), tmpdir());
    await assert.rejects(starttls.send({ to: 'alice@example.org', subject: 's', text: 't' }), /could not set up TLS: 454 TLS not available/);
    for (const mailer of [down, up, starttls]) mailer.close();
  });

  describeEachDatabase('the outbox', (database) => {
    let db: Db & { dispose(): Promise<void> };
    let mailers: Mailer[];
    beforeEach(async () => {
      db = await database.open();
      mailers = [];
    });
    afterEach(async () => {
      for (const mailer of mailers) mailer.close();
      await db.dispose();
    });
    const outboxFor = (port: number, clock: ManualClock) => {
      const mailer = createMailer(mailSettings(port), tmpdir());
      mailers.push(mailer);
      return new MailOutbox({ db: db.kysely, clock, mailer, logger: silent });
    };

    it('keeps a message while the SMTP server is down, retries with backoff, and delivers once it is up', async () => {
      const clock = new ManualClock('2026-03-02T08:00:00Z');
      const port = await freePort();
      const outbox = outboxFor(port, clock);
      const id = await outbox.enqueue({ to: 'alice@example.org', subject: 'Job 1 (a) failed', text: 'exit code 3\n' });

      assert.deepEqual(await outbox.deliverDue(), { sent: 0, retrying: 1, gaveUp: 0 });
      let [entry] = await outbox.list(['queued'], 10);
      assert.equal(entry?.id, id);
      assert.equal(entry?.attempts, 1);
      assert.equal(entry?.nextAttemptAt, '2026-03-02T08:00:30.000Z');
      assert.match(entry?.lastError ?? '', /could not connect to 127\.0\.0\.1:\d+: connection refused/);

      assert.deepEqual(await outbox.deliverDue(), { sent: 0, retrying: 0, gaveUp: 0 }, 'nothing is due before the retry time');
      clock.advance(30_000);
      assert.deepEqual(await outbox.deliverDue(), { sent: 0, retrying: 1, gaveUp: 0 });
      [entry] = await outbox.list(['queued'], 10);
      assert.equal(entry?.nextAttemptAt, '2026-03-02T08:01:30.000Z', 'the second wait is twice the first');

      const server = await TestSmtpServer.start(port);
      try {
        clock.advance(60_000);
        assert.deepEqual(await outbox.deliverDue(), { sent: 1, retrying: 0, gaveUp: 0 });
        const delivered = await server.waitFor((m) => m.subject === 'Job 1 (a) failed');
        assert.equal(delivered.text, 'exit code 3\n');
        const [sent] = await outbox.list(['sent'], 10);
        assert.equal(sent?.attempts, 3);
        assert.equal(sent?.sentAt, '2026-03-02T08:01:30.000Z');
        assert.equal(sent?.messageId, delivered.messageId);
        assert.equal(sent?.lastError, null);
        assert.deepEqual(await outbox.list(['queued', 'failed'], 10), []);
        assert.deepEqual(await outbox.deliverDue(), { sent: 0, retrying: 0, gaveUp: 0 }, 'a sent message is not sent again');
      } finally {
        await server.stop();
      }
    });

    it('gives up on a refused recipient at once, and on a server down for 24 hours', async () => {
      const clock = new ManualClock('2026-03-02T08:00:00Z');
      const refusing = outboxFor(smtp.port, clock);
      await refusing.enqueue({ to: 'nobody-here@example.org', subject: 'x', text: 'y' });
      assert.deepEqual(await refusing.deliverDue(), { sent: 0, retrying: 0, gaveUp: 1 });
      const [refused] = await refusing.list(['failed'], 10);
      assert.equal(refused?.attempts, 1);
      assert.match(refused?.lastError ?? '', /550 5\.1\.1/);

      const down = outboxFor(await freePort(), clock);
      const id = await down.enqueue({ to: 'alice@example.org', subject: 'x', text: 'y' });
      let attempts = 0;
      for (;;) {
        const report = await down.deliverDue();
        attempts += report.retrying + report.gaveUp;
        if (report.gaveUp) break;
        const [queued] = await down.list(['queued'], 10);
        assert.ok(queued, 'still queued');
        clock.set(queued.nextAttemptAt!);
        assert.ok(attempts < 100, 'gives up in the end');
      }
      const failed = (await down.list(['failed'], 10)).find((e) => e.id === id);
      assert.equal(failed?.attempts, attempts);
      assert.ok(attempts > 20 && attempts < 40, `about 30 attempts over a day, not ${attempts}`);
      assert.ok(clock.now().getTime() - Date.parse('2026-03-02T08:00:00Z') >= GIVE_UP_AFTER_MS);
    });

    it('once started, sends on enqueue without being asked', async () => {
      const mailer = createMailer(mailSettings(smtp.port), tmpdir());
      const outbox = new MailOutbox({ db: db.kysely, clock: { now: () => new Date() }, mailer, logger: silent });
      outbox.start();
      try {
        await outbox.enqueue({ to: 'bob@example.org', subject: `woken ${database.dialect}`, text: 'z' });
        await smtp.waitFor((m) => m.subject === `woken ${database.dialect}`);
      } finally {
        await outbox.close();
      }
    });
  });
});
