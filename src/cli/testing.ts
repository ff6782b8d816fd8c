import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** For tests: the real `keisan` executable run as a child process, as a user runs it. */
export const KEISAN_BIN = fileURLToPath(new URL('../../bin/keisan.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment a CLI child sees: its own KEISAN_HOME, nothing of the developer's Keisan
 * settings, and English unless `extra` asks for another language (KEISAN_LANG, LANG…).
 */
export function cliEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, KEISAN_HOME: home, NO_COLOR: '1' };
  for (const key of ['KEISAN_SERVER', 'KEISAN_TICKET', 'KEISAN_DATA', 'KEISAN_DATABASE_URL', 'KEISAN_PORT', 'FORCE_COLOR', 'NODE_TEST_CONTEXT', 'KEISAN_LANG', 'LC_ALL', 'LC_MESSAGES', 'LANG']) delete env[key];
  return { ...env, ...extra };
}

/** Runs `keisan ARGS` with `stdin` (and `env` added to the child's environment), killed after 30 s. */
export function runKeisan(home: string, args: string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KEISAN_BIN, ...args], { cwd: REPO_ROOT, env: cliEnv(home, env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

/** Asserts the exit code, showing the output when it differs. */
export function expectCode(run: Run, code: number): Run {
  assert.equal(run.code, code, `exit code ${run.code}, expected ${code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
  return run;
}
