import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A throwaway OpenLDAP server for tests: Debian's slapd with its own slapd.conf (the core, cosine,
 * nis and inetorgperson schemas from /etc/ldap/schema), a private mdb database in a temporary
 * directory, listening on a free loopback port; the base entry is loaded with slapadd before start.
 * `stop()` kills it and removes the directory. Nothing of the machine's own LDAP setup is touched.
 */
export interface TestSlapd {
  url: string;
  port: number;
  baseDn: string;
  adminDn: string;
  adminPassword: string;
  /** A file holding adminPassword (for keisan.yaml's bindPasswordFile). */
  adminPasswordFile: string;
  dir: string;
  /** Stops slapd (the data stay) — the directory is down until `start()`. */
  halt(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const SLAPD = '/usr/sbin/slapd';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

/** Why the LDAP tests cannot run here, or undefined when they can. */
export function slapdSkip(): string | undefined {
  if (!existsSync(SLAPD)) return 'slapd not installed: npm run deps (Debian slapd, ldap-utils)';
  if (!existsSync('/usr/bin/ldapsearch')) return 'ldap-utils not installed: npm run deps';
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode} before listening`);
    const ok = spawnSync('/usr/bin/ldapsearch', ['-x', '-H', `ldap://127.0.0.1:${port}/`, '-s', 'base', '-b', '', '-LLL', 'namingContexts'], { timeout: 2000 });
    if (ok.status === 0) return;
    await sleep(100);
  }
  throw new Error(`slapd did not answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export async function startTestSlapd(options: { baseDn?: string } = {}): Promise<TestSlapd> {
  const baseDn = options.baseDn ?? 'dc=keisan,dc=test';
  const dc = /^dc=([^,]+)/.exec(baseDn)?.[1] ?? 'keisan';
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-slapd-'));
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  const adminDn = `cn=admin,${baseDn}`;
  const adminPassword = 'test-admin-secret';
  const adminPasswordFile = path.join(dir, 'admin.secret');
  writeFileSync(adminPasswordFile, `${adminPassword}\n`, { mode: 0o600 });
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      ...['core', 'cosine', 'nis', 'inetorgperson'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
      `pidfile ${dir}/slapd.pid`,
      `argsfile ${dir}/slapd.args`,
      `modulepath ${MODULE_DIR}`,
      'moduleload back_mdb',
      'database mdb',
      'maxsize 104857600',
      `suffix "${baseDn}"`,
      `rootdn "${adminDn}"`,
      `rootpw ${adminPassword}`,
      `directory ${dataDir}`,
      'index objectClass eq',
      'index uid,memberUid eq',
      // Passwords: a user may bind with its own; nobody else but the rootdn reads them.
      'access to attrs=userPassword by self =xw by anonymous auth by * none',
      'access to * by * read',
      '',
    ].join('\n'),
  );
  const ldif = `dn: ${baseDn}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: Keisan test\ndc: ${dc}\n`;
  const added = spawnSync(SLAPD.replace('slapd', 'slapadd'), ['-f', conf], { input: ldif });
  if (added.status !== 0) throw new Error(`slapadd failed: ${added.stderr.toString()}`);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    // -d 0: stay in the foreground (so the test owns the process), log nothing.
    const started = spawn(SLAPD, ['-f', conf, '-h', `${url}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child = started;
    try {
      await waitForPort(port, started, 15_000);
    } catch (error) {
      started.kill('SIGKILL');
      throw new Error(`${error instanceof Error ? error.message : String(error)}: ${stderr}`);
    }
  };
  const halt = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
  };
  await start();
  return {
    url,
    port,
    baseDn,
    adminDn,
    adminPassword,
    adminPasswordFile,
    dir,
    halt,
    start,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Why the nslcd test cannot run here (it needs root for a private mount namespace, nslcd and libnss-ldapd). */
export function nslcdSkip(): string | undefined {
  if (process.getuid?.() !== 0) return 'the nslcd test needs root (a private mount namespace)';
  if (!existsSync('/usr/sbin/nslcd')) return 'nslcd not installed: npm run deps (Debian nslcd, libnss-ldapd)';
  const nss = ['/lib/x86_64-linux-gnu/libnss_ldap.so.2', '/usr/lib/x86_64-linux-gnu/libnss_ldap.so.2', '/lib/aarch64-linux-gnu/libnss_ldap.so.2', '/usr/lib/aarch64-linux-gnu/libnss_ldap.so.2'];
  if (!nss.some((p) => existsSync(p))) return 'libnss-ldapd not installed: npm run deps';
  if (!existsSync('/usr/bin/unshare')) return 'unshare (util-linux) not installed';
  if (!existsSync('/etc/nslcd.conf')) return '/etc/nslcd.conf is missing (the test mounts its own over it): reinstall nslcd';
  return undefined;
}

/**
 * Runs `script` (bash) where the machine's name service goes through nslcd to `slapd` — but only
 * for the processes of a private mount namespace: a test /etc/nsswitch.conf (`passwd: files ldap`,
 * `group: files ldap`) and /etc/nslcd.conf are bind-mounted over the machine's, /run is a private
 * tmpfs for nslcd's socket, nslcd runs in the foreground there and is killed at the end; the
 * namespace, its mounts and its processes end with the script. The machine is left as it was.
 */
export async function runWithNslcd(slapd: TestSlapd, script: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-nslcd-'));
  try {
    writeFileSync(path.join(dir, 'nslcd.conf'), `uid nslcd\ngid nslcd\nuri ${slapd.url}/\nbase ${slapd.baseDn}\nbind_timelimit 5\ntimelimit 5\nnss_initgroups_ignoreusers ALLLOCAL\n`, { mode: 0o640 });
    writeFileSync(path.join(dir, 'nsswitch.conf'), 'passwd: files ldap\ngroup: files ldap\nshadow: files\nhosts: files\n');
    writeFileSync(path.join(dir, 'job.sh'), script, { mode: 0o755 });
    const inside = [
      'set -eu',
      `mount --bind ${dir}/nsswitch.conf /etc/nsswitch.conf`,
      `mount --bind ${dir}/nslcd.conf /etc/nslcd.conf`,
      'mount -t tmpfs -o mode=0755 keisan-test-run /run',
      'mkdir -p /run/nslcd && chown nslcd:nslcd /run/nslcd',
      '/usr/sbin/nslcd -n &',
      'nslcd_pid=$!',
      'trap \'kill $nslcd_pid 2>/dev/null; wait $nslcd_pid 2>/dev/null || true\' EXIT',
      'for _ in $(seq 100); do [ -S /run/nslcd/socket ] && break; sleep 0.1; done',
      '[ -S /run/nslcd/socket ] || { echo "nslcd did not open its socket" >&2; exit 97; }',
      `bash ${dir}/job.sh`,
    ].join('\n');
    return await new Promise((resolve, reject) => {
      const child = spawn('/usr/bin/unshare', ['--mount', '--propagation', 'private', '--fork', 'bash', '-c', inside], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SSHD = '/usr/sbin/sshd';
const PAM_MODULE_DIRS = ['/lib/x86_64-linux-gnu/security', '/usr/lib/x86_64-linux-gnu/security', '/lib/aarch64-linux-gnu/security', '/usr/lib/aarch64-linux-gnu/security'];

/** Why the shell-login test cannot run here (on top of nslcdSkip: sshd, sshpass, pam_ldap and pam_mkhomedir). */
export function sshLoginSkip(): string | undefined {
  const nslcd = nslcdSkip();
  if (nslcd) return nslcd;
  if (!existsSync(SSHD)) return 'sshd not installed: npm run deps (Debian openssh-server)';
  if (!existsSync('/usr/bin/sshpass')) return 'sshpass not installed: npm run deps';
  if (!existsSync('/usr/bin/ssh-keygen') || !existsSync('/usr/bin/ssh')) return 'ssh not installed: npm run deps (Debian openssh-client)';
  if (!PAM_MODULE_DIRS.some((d) => existsSync(path.join(d, 'pam_ldap.so')))) return 'pam_ldap not installed: npm run deps (Debian libpam-ldapd)';
  if (!PAM_MODULE_DIRS.some((d) => existsSync(path.join(d, 'pam_mkhomedir.so')))) return 'pam_mkhomedir not installed (Debian libpam-modules)';
  return undefined;
}

/**
 * The PAM stack of the test's sshd: what `pam-auth-update` writes into common-auth/-account/-session
 * once libpam-ldapd and mkhomedir are enabled (pam_unix first for local accounts, pam_ldap for the
 * directory's, through nslcd), written out in one file so the machine's own common-* stay untouched.
 */
export const SSHD_PAM_STACK = [
  'auth     [success=2 default=ignore]  pam_unix.so nullok nodelay',
  'auth     [success=1 default=ignore]  pam_ldap.so minimum_uid=1000 use_first_pass',
  'auth     requisite                   pam_deny.so',
  'auth     required                    pam_permit.so',
  'account  [success=1 new_authtok_reqd=done default=ignore]  pam_unix.so',
  'account  requisite                   pam_deny.so',
  'account  required                    pam_permit.so',
  'account  [success=ok new_authtok_reqd=done ignore=ignore user_unknown=ignore authinfo_unavail=ignore default=bad]  pam_ldap.so minimum_uid=1000',
  'session  required                    pam_unix.so',
  'session  optional                    pam_mkhomedir.so skel=/etc/skel umask=0077',
  'session  [success=ok default=ignore] pam_ldap.so minimum_uid=1000',
  '',
].join('\n');

export interface SshLoginResult {
  /** sshpass's exit status: 0 when the login worked and the command ran; 5 for a refused password. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Logs in to a private sshd as `user` once per password in `passwords`, each running `command` —
 * inside runWithNslcd's mount namespace, so the machine's name service and PAM stay as they were.
 * The sshd is the machine's binary with its own sshd_config (UsePAM, password and
 * keyboard-interactive logins, loopback only, a host key and pid file in a temporary directory), a
 * PAM stack (SSHD_PAM_STACK) bind-mounted over /etc/pam.d/sshd, and an empty tmpfs over /home so
 * pam_mkhomedir creates the user's home there. The client is `sshpass -f <file> ssh`.
 */
export async function sshLoginsThroughDirectory(
  slapd: TestSlapd,
  user: string,
  passwords: string[],
  command: string,
): Promise<{ logins: SshLoginResult[]; sshdLog: string; setup: { code: number | null; stdout: string; stderr: string } }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'keisan-sshd-'));
  try {
    const port = await freePort();
    const hostKey = path.join(dir, 'ssh_host_ed25519_key');
    const keygen = spawnSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'keisan-test', '-f', hostKey]);
    if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr.toString()}`);
    writeFileSync(
      path.join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${dir}/sshd.pid`,
        'UsePAM yes',
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication yes',
        'PubkeyAuthentication no',
        'AuthorizedKeysFile none',
        'PermitRootLogin no',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        'MaxAuthTries 3',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    writeFileSync(path.join(dir, 'pam-sshd'), SSHD_PAM_STACK);
    passwords.forEach((password, i) => writeFileSync(path.join(dir, `password.${i}`), password, { mode: 0o600 }));
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const script = [
      'set -u',
      `mount --bind ${dir}/pam-sshd /etc/pam.d/sshd`,
      'mount -t tmpfs -o mode=0755 keisan-test-home /home',
      'mkdir -m 0755 /run/sshd',
      `${SSHD} -D -e -f ${dir}/sshd_config 2> ${dir}/sshd.log &`,
      'sshd_pid=$!',
      'trap \'kill $sshd_pid 2>/dev/null; wait $sshd_pid 2>/dev/null || true\' EXIT',
      `for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && break; sleep 0.1; done`,
      ...passwords.map(
        (_, i) =>
          `timeout 30 sshpass -f ${dir}/password.${i} ssh -p ${port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR ` +
          `-o PubkeyAuthentication=no -o PreferredAuthentications=keyboard-interactive,password -o NumberOfPasswordPrompts=1 -o ConnectTimeout=10 ` +
          `${user}@127.0.0.1 ${quote(command)} > ${dir}/out.${i} 2> ${dir}/err.${i} < /dev/null; echo $? > ${dir}/code.${i}`,
      ),
    ].join('\n');
    const setup = await runWithNslcd(slapd, script, 120_000);
    const read = (name: string) => (existsSync(path.join(dir, name)) ? readFileSync(path.join(dir, name), 'utf8') : '');
    const logins = passwords.map((_, i) => {
      const code = read(`code.${i}`).trim();
      return { code: code === '' ? null : Number(code), stdout: read(`out.${i}`), stderr: read(`err.${i}`) };
    });
    return { logins, sshdLog: read('sshd.log'), setup };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
