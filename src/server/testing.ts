import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { parse, stringify } from 'yaml';
import { SYSTEM_ACTOR } from '../accounts/model.ts';
import type { AccountsService } from '../accounts/service.ts';
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

/** For tests: workgroup `central`, its subgroup `staff`, and the operator `olga` (password "olga password"). */
export async function seedOperator(accounts: AccountsService, options: { email?: string } = {}): Promise<void> {
  await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'central' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'central', name: 'staff' });
  await accounts.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'staff', operator: true, password: 'olga password', ...options });
}

/** A response's JSON body, after checking its status (the body is in the message when it differs). */
export function responseJson<T>(response: LightMyRequestResponse, status: number): T {
  assert.equal(response.statusCode, status, response.body);
  return JSON.parse(response.body) as T;
}

/** An error response: its status, a message matching `message`, and no stack trace in it. Returns the message. */
export function responseError(response: LightMyRequestResponse, status: number, message: RegExp): string {
  assert.equal(response.statusCode, status, response.body);
  const body = JSON.parse(response.body) as { error: { code: string; message: string } };
  assert.match(body.error.message, message);
  assert.ok(!/\n\s+at /.test(body.error.message), 'a stack trace leaked');
  return body.error.message;
}

/** For route tests: workgroup lab with subgroup lab-ml, operator olga and user alice (password '<name> password'). */
export async function seedLab(accounts: AccountsService): Promise<void> {
  await accounts.createWorkgroup(SYSTEM_ACTOR, { name: 'lab' });
  await accounts.createSubgroup(SYSTEM_ACTOR, { workgroup: 'lab', name: 'lab-ml' });
  await accounts.createUser(SYSTEM_ACTOR, { name: 'olga', primarySubgroup: 'lab-ml', operator: true, password: 'olga password' });
  await accounts.createUser(SYSTEM_ACTOR, { name: 'alice', primarySubgroup: 'lab-ml', password: 'alice password' });
}
