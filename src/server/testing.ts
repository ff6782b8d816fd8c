import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { FACILITY_FILE } from '../lib/config.ts';
import { initDataDir } from './facility.ts';

/**
 * For tests: a data directory whose facility file asks for a cheap password hash (so logging in
 * is fast), with `extra` top-level sections merged in.
 */
export function initTestDataDir(dir: string, extra: Record<string, unknown> = {}): string {
  initDataDir(dir);
  const file = path.join(dir, FACILITY_FILE);
  const document = parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { accounts?: Record<string, unknown> };
  document.accounts = { ...document.accounts, passwordHash: { cost: 1024 } };
  writeFileSync(file, stringify({ ...document, ...extra }));
  return dir;
}
