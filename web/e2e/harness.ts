/**
 * The web UI's end-to-end harness: a real `keisan up` (watchdog, server, agent) in a scratch
 * directory, driven through Debian's Chromium by playwright-core. No browser is downloaded:
 * without /usr/bin/chromium the tests skip (and fail with KEISAN_REQUIRE_SERVICES=1).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { freePort } from '../../src/lib/net.ts';
import { OPERATOR_PASSWORD_FILE } from '../../src/server/facility.ts';

export const CHROMIUM = process.env.KEISAN_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin/keisan.js');
const SCREENSHOTS = path.join(ROOT, 'docs/screenshots');

/** Why the browser tests cannot run here, or null when they can; with KEISAN_REQUIRE_SERVICES=1 a reason fails instead. */
export function browserSkipReason(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `${CHROMIUM} is missing: install Debian's chromium (npm run deps)`;
  if (process.env.KEISAN_REQUIRE_SERVICES === '1') throw new Error(`KEISAN_REQUIRE_SERVICES=1 but ${reason}`);
  return reason;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds web/dist when it is missing or older than the sources (npm ci builds it; an edited tree may not have). */
export function ensureWebBuilt(): void {
  const index = path.join(ROOT, 'web/dist/index.html');
  const sources = Math.max(newestMtime(path.join(ROOT, 'web/src')), statSync(path.join(ROOT, 'web/index.html')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  const built = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, `vite build failed:\n${built.stdout}\n${built.stderr}`);
  const compressed = spawnSync(process.execPath, [path.join(ROOT, 'scripts/compress-web.js')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(compressed.status, 0, `compress-web failed:\n${compressed.stderr}`);
}

export { freePort };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns something other than undefined. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

export interface Account {
  name: string;
  password: string;
}

/** A running facility as `npm start` makes it, with an API client for seeding and checking. */
export class Facility {
  readonly url: string;
  operator!: Account;
  private child: ChildProcess | null = null;
  private output = '';
  private tickets = new Map<string, string>();
  private readonly pids = new Set<number>();

  private constructor(
    readonly scratch: string,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: { config?: string } = {}): Promise<Facility> {
    ensureWebBuilt();
    const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-web-e2e-'));
    const facility = new Facility(scratch, await freePort());
    if (options.config) {
      mkdirSync(facility.dataDir, { recursive: true });
      const { writeFileSync } = await import('node:fs');
      writeFileSync(path.join(facility.dataDir, 'keisan.yaml'), options.config);
    }
    await facility.up();
    const [name, password] = readFileSync(path.join(facility.dataDir, OPERATOR_PASSWORD_FILE), 'utf8').trim().split('\n');
    facility.operator = { name: name!, password: password! };
    return facility;
  }

  get dataDir(): string {
    return path.join(this.scratch, 'data');
  }

  /** Everything the facility printed, for failure messages. */
  log(): string {
    return this.output;
  }

  /** `keisan up`, waiting for "Keisan is up at". */
  async up(): Promise<void> {
    const env: NodeJS.ProcessEnv = { ...process.env, KEISAN_HOME: this.scratch, NO_COLOR: '1' };
    for (const key of ['KEISAN_SERVER', 'KEISAN_TICKET', 'KEISAN_DATA', 'KEISAN_DATABASE_URL', 'KEISAN_PORT', 'KEISAN_NODE_SECRET', 'KEISAN_LOG_LEVEL', 'FORCE_COLOR', 'NODE_TEST_CONTEXT']) delete env[key];
    const from = this.output.length;
    const child = spawn(process.execPath, [BIN, 'up', '--data', this.dataDir, '--port', String(this.port)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    if (child.pid) this.pids.add(child.pid);
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      this.output += text;
      for (const match of text.matchAll(/\[up\] \w+ started \(pid (\d+)\)/g)) this.pids.add(Number(match[1]));
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    await eventually(`keisan up on port ${this.port}\n${this.output}`, 90_000, () => {
      if (child.exitCode !== null) assert.fail(`keisan up exited ${child.exitCode}:\n${this.output}`);
      return /Keisan is up at/.test(this.output.slice(from)) ? true : undefined;
    });
  }

  /** Stops `keisan up` as Ctrl-C does and waits for it to finish. */
  async down(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await Promise.race([exited, sleep(30_000)]);
    this.child = null;
  }

  async restart(): Promise<void> {
    await this.down();
    await this.up();
  }

  async dispose(): Promise<void> {
    await this.down().catch(() => undefined);
    for (const pid of this.pids) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    rmSync(this.scratch, { recursive: true, force: true });
  }

  async ticketOf(account: Account): Promise<string> {
    const known = this.tickets.get(account.name);
    if (known) return known;
    const result = await this.request<{ ticket: string }>('POST', '/api/auth/login', { user: account.name, password: account.password });
    this.tickets.set(account.name, result.ticket);
    return result.ticket;
  }

  /** One API call; fails the test on a non-2xx answer with the server's message. */
  async request<T = unknown>(method: string, route: string, body?: unknown, as?: Account): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (as) headers.authorization = `Bearer ${await this.ticketOf(as)}`;
    const response = await fetch(`${this.url}${route}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(30_000) });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${route} answered ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** As the operator: API call. */
  admin<T = unknown>(method: string, route: string, body?: unknown): Promise<T> {
    return this.request<T>(method, route, body, this.operator);
  }

  /**
   * Workgroup `lab` with subgroup `lab-ml`; researcher alice, a second operator olga (for
   * approvals), and bob, the admin of lab. Passwords are "<name> password 1".
   */
  async seedLab(): Promise<{ alice: Account; bob: Account; olga: Account }> {
    await this.admin('POST', '/api/workgroups', { name: 'lab' });
    await this.admin('POST', '/api/subgroups', { workgroup: 'lab', name: 'lab-ml' });
    const account = (name: string): Account => ({ name, password: `${name} password 1` });
    const alice = account('alice');
    const bob = account('bob');
    const olga = account('olga');
    await this.admin('POST', '/api/users', { name: 'alice', fullName: 'Alice Researcher', primarySubgroup: 'lab-ml', password: alice.password });
    await this.admin('POST', '/api/users', { name: 'bob', fullName: 'Bob Groupadmin', primarySubgroup: 'lab-ml', password: bob.password });
    await this.admin('POST', '/api/users', { name: 'olga', fullName: 'Olga Operator', primarySubgroup: 'lab-ml', password: olga.password, operator: true });
    await this.admin('PUT', '/api/workgroups/lab/admins/bob');
    return { alice, bob, olga };
  }
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
}

/** Debian's Chromium, headless; `locale` sets navigator.languages (the UI's first choice of language). */
export async function openBrowser(options: { locale?: string; viewport?: { width: number; height: number } } = {}): Promise<BrowserSession> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
  const context = await browser.newContext({ locale: options.locale ?? 'en-GB', viewport: options.viewport ?? { width: 1366, height: 860 }, timezoneId: 'Asia/Tokyo' });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  return { browser, context, page };
}

/** Logs in through the login form and waits for the shell. */
export async function logIn(page: Page, facility: Facility, account: Account): Promise<void> {
  await page.goto(`${facility.url}/login`);
  await page.locator('input[name="user"]').fill(account.name);
  await page.locator('input[name="password"]').fill(account.password);
  await page.locator('form button[type="submit"]').click();
  await page.getByTestId('who').waitFor();
}

/** Saves docs/screenshots/<name>.png when KEISAN_SCREENSHOTS=1 (how the README's pictures are made). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.KEISAN_SCREENSHOTS !== '1') return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: false });
}
