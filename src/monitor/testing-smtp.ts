import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe } from 'node:test';

/**
 * A real SMTP server on loopback for tests: aiosmtpd (Debian python3-aiosmtpd) with a small
 * handler that writes each delivered message, parsed, as a JSON file. Recipients whose local part
 * is `nobody-here` are refused with 550, so tests can see a permanent refusal.
 */
export interface DeliveredMessage {
  /** The SMTP envelope. */
  mailFrom: string;
  rcptTo: string[];
  /** Headers and the decoded text/plain body. */
  from: string;
  to: string;
  subject: string;
  messageId: string;
  text: string;
}

const HANDLER = String.raw`
import asyncio, email, email.policy, json, os, signal, sys
from aiosmtpd.smtp import SMTP

directory, port = sys.argv[1], int(sys.argv[2])
count = 0

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split('@')[0] == 'nobody-here':
            return '550 5.1.1 <%s>: no such mailbox here' % address
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 OK'

    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=('plain',))
        record = {
            'mailFrom': envelope.mail_from, 'rcptTo': envelope.rcpt_tos,
            'from': str(message['from'] or ''), 'to': str(message['to'] or ''),
            'subject': str(message['subject'] or ''), 'messageId': str(message['message-id'] or ''),
            'text': body.get_content() if body is not None else '',
        }
        name = '%06d.json' % count
        with open(os.path.join(directory, '.' + name), 'w') as f:
            json.dump(record, f)
        os.rename(os.path.join(directory, '.' + name), os.path.join(directory, name))
        return '250 2.0.0 OK queued as test-%d' % count

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname='keisan-test-smtp'), '127.0.0.1', port)
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    # The test process holds our stdin: when it goes away, so do we.
    loop.add_reader(sys.stdin.fileno(), lambda: os.read(sys.stdin.fileno(), 4096) or stop.set())
    print('READY', server.sockets[0].getsockname()[1], flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()

asyncio.run(main())
`;

/** The Debian package installs aiosmtpd for the system Python, which may not be first on PATH. */
function findPython(): string | undefined {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(candidate, ['-c', 'import aiosmtpd'], { stdio: 'ignore', timeout: 10_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const python = findPython();

export const SMTP_SKIP_REASON = python
  ? undefined
  : 'no SMTP server for the mail tests: aiosmtpd is not installed (npm run deps installs the Debian package python3-aiosmtpd)';

/** A suite that needs the test SMTP server: skipped without it, failed with KEISAN_REQUIRE_SERVICES=1. */
export function describeWithSmtp(title: string, suite: () => void): void {
  if (SMTP_SKIP_REASON && process.env.KEISAN_REQUIRE_SERVICES === '1') {
    describe(title, () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${SMTP_SKIP_REASON}`);
    });
    return;
  }
  describe(title, { skip: SMTP_SKIP_REASON }, suite);
}


export class TestSmtpServer {
  readonly host = '127.0.0.1';

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {}

  /** Starts the server (on `port`, or a free one) and resolves once it accepts connections. */
  static async start(port = 0): Promise<TestSmtpServer> {
    if (!python) throw new Error(SMTP_SKIP_REASON);
    const dir = mkdtempSync(path.join(tmpdir(), 'keisan-smtp-'));
    const child = spawn(python, ['-c', HANDLER, dir, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const actual = await new Promise<number>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => fail(new Error(`the test SMTP server did not start within 15 s: ${stderr}`)), 15_000);
      const fail = (error: Error) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        reject(error);
      };
      child.on('error', fail);
      child.on('exit', (code) => fail(new Error(`the test SMTP server exited (${code}) before it was ready: ${stderr}`)));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const ready = /READY (\d+)/.exec(stdout);
        if (ready) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve(Number(ready[1]));
        }
      });
    });
    return new TestSmtpServer(actual, dir, child);
  }

  /** Every message delivered so far, oldest first. */
  messages(): DeliveredMessage[] {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
      .sort()
      .map((name) => {
        const message = JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as DeliveredMessage;
        return { ...message, text: message.text.replace(/\r\n/g, '\n') };
      });
  }

  /** Waits for a delivered message that `match` accepts. */
  async waitFor(match: (message: DeliveredMessage) => boolean, ms = 10_000): Promise<DeliveredMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages().find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching message within ${ms} ms; delivered: ${JSON.stringify(this.messages().map((m) => [m.rcptTo, m.subject]))}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
