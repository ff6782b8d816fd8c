import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import { loadFacilityFile, serverUrlOf } from '../lib/config.ts';
import { KeisanError } from '../lib/errors.ts';
import { t } from '../lib/i18n/index.ts';
import { processExists } from '../lib/process.ts';
import { initDataDir, LOGS_DIR, OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { Supervisor, type SupervisorEvent } from './supervisor.ts';

const KEISAN_BIN = fileURLToPath(new URL('../../bin/keisan.js', import.meta.url));
const LOCK_FILE = 'keisan-up.pid';
/** The watchdog starts first and stops last: it must be watching while anything else runs. */
const START_ORDER = ['watchdog', 'server', 'agent'] as const;

export interface UpOptions {
  dataDir: string;
  port?: number;
  /** Print the daemons' log lines to the terminal (they always go to DATA/logs/NAME.log). */
  quiet?: boolean;
}

/**
 * `keisan up`: init if needed, then the watchdog, the server and the agent as separate
 * supervised processes. A crashed child is restarted and logged; Ctrl-C or SIGTERM stops
 * them in reverse order.
 */
export async function runUp(options: UpOptions): Promise<void> {
  const { dataDir } = options;
  const init = initDataDir(dataDir);
  const lock = path.join(dataDir, LOCK_FILE);
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processExists(pid)) {
      throw new KeisanError('CONFLICT', `keisan up is already running for ${dataDir} (pid ${pid}): stop it first, or use another --data directory`);
    }
  }
  writeFileSync(lock, `${process.pid}\n`, { mode: 0o644 });

  const facility = loadFacilityFile(dataDir);
  const settings = { ...facility.settings, server: { ...facility.settings.server, ...(options.port !== undefined ? { port: options.port } : {}) } };
  const url = serverUrlOf(settings);
  const say = (text: string) => process.stdout.write(`${text}\n`);
  say(pc.bold(t('cli.up.starting', { facility: settings.facility.name })));
  say(`${t('cli.up.data', { dir: dataDir })}${init.existed ? '' : pc.green(t('cli.up.created'))}`);
  say(t('cli.up.logs', { logs: `${path.join(dataDir, LOGS_DIR)}/{watchdog,server,agent}.log` }));

  let serverReady = false;
  let firstStartFailed: string | undefined;
  const recentServerLines: string[] = [];
  const onEvent = (event: SupervisorEvent) => {
    if (event.type === 'line') {
      if (event.name === 'server') {
        // The last 20 lines, oldest first, to show if the server fails to start.
        recentServerLines.push(event.line);
        if (recentServerLines.length > 20) recentServerLines.shift();
      }
      if (!options.quiet) say(formatLogLine(event.name, event.line));
      return;
    }
    if (event.type === 'started') {
      say(pc.dim(`[up] ${event.name} started (pid ${event.pid})`));
      return;
    }
    const how = event.signal ? `signal ${event.signal}` : `exit code ${event.code}`;
    if (event.restartInMs === null) {
      say(pc.dim(`[up] ${event.name} stopped (${how})`));
    } else if (event.name === 'server' && !serverReady) {
      firstStartFailed = how;
    } else {
      say(pc.yellow(`[up] ${event.name} exited (${how}); restarting in ${Math.round(event.restartInMs / 1000)} s`));
    }
  };

  const supervisor = new Supervisor(path.join(dataDir, LOGS_DIR), onEvent);
  const childArgs = (command: string) => [...process.execArgv.filter((a) => !a.startsWith('--inspect')), KEISAN_BIN, command, '--data', dataDir];
  const env = { ...process.env, ...(options.port !== undefined ? { KEISAN_PORT: String(options.port) } : {}) };
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    say(pc.dim(t('cli.up.stopping', { reason })));
    await supervisor.stop([...START_ORDER].reverse());
    rmSync(lock, { force: true });
    say(t('cli.up.stopped'));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  for (const name of START_ORDER) {
    supervisor.start({ name, command: process.execPath, args: childArgs(name), env });
    if (name === 'server') {
      serverReady = await waitForHealth(url, 60_000, () => firstStartFailed !== undefined);
      if (!serverReady) {
        say(pc.red(t('cli.up.did-not-start', { why: firstStartFailed ?? t('cli.up.no-answer', { url }) })));
        for (const line of recentServerLines.slice(-10)) say(`  ${formatLogLine('server', line)}`);
        await supervisor.stop([...START_ORDER].reverse(), 3000);
        rmSync(lock, { force: true });
        process.exit(1);
      }
    }
  }

  const passwordFile = path.join(dataDir, OPERATOR_PASSWORD_FILE);
  const operator = settings.accounts.operatorName;
  say('');
  say(pc.bold(pc.green(t('cli.up.is-up', { url }))));
  say(t('cli.up.api', { url }));
  say(t('cli.up.web', { url }));
  say(t('cli.up.processes', { watchdog: String(supervisor.pidOf('watchdog')), server: String(supervisor.pidOf('server')), agent: String(supervisor.pidOf('agent')) }));
  if (existsSync(passwordFile)) {
    say(t('cli.up.login', { url, user: operator }));
    say(t('cli.up.password-file', { file: passwordFile }));
  } else {
    say(t('cli.up.login', { url, user: '<user>' }));
  }
  say(pc.dim(t('cli.up.ctrl-c')));
}

async function waitForHealth(url: string, timeoutMs: number, gaveUp: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gaveUp()) {
    try {
      const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const QUIET_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

/** Shows a daemon's pino JSON line as `hh:mm:ss name  level  message key=value…`. */
export function formatLogLine(name: string, line: string): string {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object') return `${pc.dim(name.padEnd(8))} ${line}`;
    record = parsed as Record<string, unknown>;
  } catch {
    return `${pc.dim(name.padEnd(8))} ${line}`;
  }
  const time = typeof record.time === 'number' ? new Date(record.time).toTimeString().slice(0, 8) : '';
  const level = LEVELS[Number(record.level)] ?? 'info';
  const color = level === 'error' || level === 'fatal' ? pc.red : level === 'warn' ? pc.yellow : (s: string) => s;
  const extras = Object.entries(record)
    .filter(([key]) => !QUIET_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${pc.dim(time)} ${pc.cyan(name.padEnd(8))} ${color(level.padEnd(5))} ${String(record.msg ?? '')}${extras ? pc.dim(` ${extras}`) : ''}`;
}
