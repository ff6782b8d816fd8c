import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe } from 'node:test';

/**
 * Why the real-filesystem tests of user areas cannot run here (undefined: they can). They need
 * Linux, root (chown to other uids, setpriv to act as them), setfacl/getfacl (Debian acl),
 * setpriv (util-linux) and a temporary directory on a filesystem with POSIX ACLs.
 */
function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'user areas need Linux (/proc/self/fd)';
  if (process.getuid?.() !== 0) return 'needs root to give directories to other uids and to act as them with setpriv';
  for (const tool of ['setfacl', 'getfacl', 'setpriv']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    } catch {
      return `${tool} is not installed (${tool === 'setpriv' ? 'util-linux' : 'apt-get install acl, or npm run deps'})`;
    }
  }
  const probe = mkdtempSync(path.join(tmpdir(), 'keisan-acl-probe-'));
  try {
    execFileSync('setfacl', ['-m', 'u:65534:r-x', probe], { stdio: 'pipe', timeout: 10_000 });
  } catch (error) {
    return `the filesystem of ${tmpdir()} does not take POSIX ACLs: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  return undefined;
}

export const AREAS_SKIP_REASON = skipReason();

/** A suite of real-filesystem tests: skipped with the reason, or failed with KEISAN_REQUIRE_SERVICES=1. */
export function describeOnRealFilesystem(title: string, suite: () => void): void {
  if (AREAS_SKIP_REASON && process.env.KEISAN_REQUIRE_SERVICES === '1') {
    describe(title, () => {
      throw new Error(`KEISAN_REQUIRE_SERVICES=1 but the user-area tests cannot run: ${AREAS_SKIP_REASON}`);
    });
    return;
  }
  describe(title, { skip: AREAS_SKIP_REASON }, suite);
}

/** Runs a command as another uid/gid (setpriv, no shell); resolves to its exit code. */
export function runAs(uid: number, gid: number, groups: number[], command: string, args: string[]): number {
  try {
    execFileSync(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${gid}`, ...(groups.length ? [`--groups=${groups.join(',')}`] : ['--clear-groups']), '--', command, ...args],
      { stdio: 'ignore', timeout: 10_000, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } },
    );
    return 0;
  } catch (error) {
    const status = (error as { status?: number | null }).status;
    return typeof status === 'number' ? status : -1;
  }
}

/** getfacl's entries of a path (numeric, no header, no effective rights). */
export function getfacl(target: string): string[] {
  return execFileSync('getfacl', ['--numeric', '--omit-header', '--no-effective', '--absolute-names', target], { encoding: 'utf8', timeout: 10_000 })
    .split('\n')
    .filter((l) => l.trim() !== '');
}
