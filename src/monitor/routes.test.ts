import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, it } from 'node:test';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { Db } from '../db/connection.ts';
import { describeEachDatabase } from '../db/testing.ts';
import { parseSettings } from '../lib/config.ts';
import { buildApp, type KeisanApp } from '../server/app.ts';
import { freePort } from '../lib/net.ts';
import { describeWithSmtp, TestSmtpServer } from './testing-smtp.ts';
import { seedOperator } from '../server/testing.ts';

/** The operators' mail API against a real SMTP server on loopback. */
describeWithSmtp('mail admin API', () => {
  let smtp: TestSmtpServer;
  before(async () => {
    smtp = await TestSmtpServer.start();
  });
  after(async () => {
    await smtp?.stop();
  });

  describeEachDatabase('mail admin API', (database) => {
    let db: Db & { dispose(): Promise<void> };
    const apps: KeisanApp[] = [];
    beforeEach(async () => {
      db = await database.open();
    });
    afterEach(async () => {
      for (const app of apps.splice(0)) await app.close();
      await db.dispose();
    });

    /** An app whose mail goes to `port` (none: no mail section), with an operator and a plain user logged in. */
    async function start(port: number | null) {
      const settings = parseSettings(
        { accounts: { passwordHash: { cost: 1024 } }, ...(port === null ? {} : { mail: { from: 'Keisan <keisan@example.org>', smtp: { host: '127.0.0.1', port } } }) },
        'test',
      );
      const app = await buildApp({ settings, db, nodeSecret: 'secret' });
      apps.push(app);
      const { accounts } = app.keisan;
      if ((await accounts.listWorkgroups(SYSTEM_ACTOR)).length === 0) {
        await seedOperator(accounts);
        await accounts.createUser(SYSTEM_ACTOR, { name: 'ulla', primarySubgroup: 'staff', password: 'ulla password' });
      }
      const as = async (user: string) => {
        const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { user, password: `${user} password` } });
        const ticket = (login.json() as { ticket: string }).ticket;
        return async (method: 'GET' | 'POST', url: string, payload?: object) => {
          const response = await app.inject({ method, url, headers: { authorization: `Bearer ${ticket}` }, ...(payload ? { payload } : {}) });
          return { status: response.statusCode, body: response.json() as Record<string, unknown> & { error?: { code: string; message: string } } };
        };
      };
      return { app, operator: await as('olga'), user: await as('ulla') };
    }

    it('an operator sends a test message and sees the SMTP server\'s answer; others may not; a bad address is refused', async () => {
      const { app, operator, user } = await start(smtp.port);
      const to = `ops-${database.dialect}@example.org`;
      const sent = await operator('POST', '/api/admin/mail/test', { to });
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.equal(sent.body.to, to);
      assert.equal(sent.body.from, 'Keisan <keisan@example.org>');
      assert.equal(sent.body.server, `127.0.0.1:${smtp.port}`);
      assert.match(String(sent.body.response), /^250 2\.0\.0 OK queued as test-\d+$/);
      const delivered = await smtp.waitFor((m) => m.rcptTo.includes(to));
      assert.equal(delivered.messageId, sent.body.messageId);
      assert.equal(delivered.subject, 'Keisan: test message');
      assert.match(delivered.text, /sent by olga with 'keisan admin mail test'/);

      const denied = await user('POST', '/api/admin/mail/test', { to });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error?.message, 'only an operator may send test mail or read the mail outbox');
      assert.equal((await user('GET', '/api/admin/mail/outbox')).status, 403);

      const bad = await operator('POST', '/api/admin/mail/test', { to: 'not an address' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error?.message ?? '', /to.*not a valid e-mail address/);
      assert.equal((await operator('POST', '/api/admin/mail/test', { to, cc: to })).status, 400, 'unknown fields are refused');

      const audit = await app.keisan.accounts.audit(SYSTEM_ACTOR, { action: 'mail.' });
      assert.deepEqual(
        audit.map((e) => [e.actor, e.action, e.outcome]).sort(),
        [['olga', 'mail.test', 'ok'], ['ulla', 'mail.outbox', 'denied'], ['ulla', 'mail.test', 'denied']],
      );
    });

    it('the outbox lists queued and failed mail (sent too on request); a bad state is refused', async () => {
      const { app, operator } = await start(smtp.port);
      assert.deepEqual((await operator('GET', '/api/admin/mail/outbox')).body, []);
      const result = await app.keisan.mail.toUser('olga', 'nobody-here@example.org', { subject: 'bounce', text: 'x' });
      assert.equal(result.queued, true);
      await app.keisan.mail.toUser('olga', `fine-${database.dialect}@example.org`, { subject: 'fine', text: 'x' });
      await smtp.waitFor((m) => m.rcptTo.includes(`fine-${database.dialect}@example.org`));
      let rows: { subject: string; state: string; lastError: string | null }[] = [];
      for (let i = 0; i < 200; i++) {
        rows = (await operator('GET', '/api/admin/mail/outbox?state=all')).body as unknown as typeof rows;
        if (rows.every((r) => r.state !== 'queued')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(rows.map((r) => [r.subject, r.state]), [['fine', 'sent'], ['bounce', 'failed']]);
      const standing = (await operator('GET', '/api/admin/mail/outbox')).body as unknown as typeof rows;
      assert.deepEqual(standing.map((r) => r.subject), ['bounce']);
      assert.match(standing[0]?.lastError ?? '', /refused the message: 550 5\.1\.1 <nobody-here@example\.org>: no such mailbox here/);
      const bad = await operator('GET', '/api/admin/mail/outbox?state=lost');
      assert.equal(bad.status, 400);
      assert.match(bad.body.error?.message ?? '', /'lost' is not an outbox state/);
    });

    it('says what is wrong when the SMTP server cannot be reached, and when there is no mail section', async () => {
      const port = await freePort();
      const down = await start(port);
      const failed = await down.operator('POST', '/api/admin/mail/test', { to: 'ops@example.org' });
      assert.equal(failed.status, 503);
      assert.deepEqual(failed.body.error, {
        code: 'UNAVAILABLE',
        message: `the test message to ops@example.org was not sent: could not connect to 127.0.0.1:${port}: connection refused — check mail.smtp in keisan.yaml`,
      });
      await down.app.close();
      apps.splice(apps.indexOf(down.app), 1);

      const none = await start(null);
      const unconfigured = await none.operator('POST', '/api/admin/mail/test', { to: 'ops@example.org' });
      assert.equal(unconfigured.status, 409);
      assert.match(unconfigured.body.error?.message ?? '', /^mail is not configured: add a mail: section/);
    });
  });
});
