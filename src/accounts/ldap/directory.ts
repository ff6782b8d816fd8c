import { readFileSync } from 'node:fs';
import { Attribute, Change, Client, InvalidCredentialsError, NoSuchObjectError, type Entry } from 'ldapts';
import { KeisanError } from '../../lib/errors.ts';
import type { DirectoryEntry, LdapOperation } from './plan.ts';
import type { LdapSettings } from './settings.ts';

/** Talking to the directory through ldapts: connect and bind, read a subtree, apply planned operations. */

/** The error for a directory that cannot be reached or refuses Keisan's own bind: 503 with what to check. */
export function directoryUnavailable(settings: Pick<LdapSettings, 'url'>, error: unknown): KeisanError {
  const reason = error instanceof Error ? error.message || error.name : String(error);
  return new KeisanError('UNAVAILABLE', `the LDAP directory at ${settings.url} cannot be used now (${reason}): check that it runs and that accounts.ldap in keisan.yaml is right, then try again`);
}

export function readBindPassword(settings: LdapSettings): string | undefined {
  if (!settings.bindPasswordFile) return undefined;
  try {
    return readFileSync(settings.bindPasswordFile, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new KeisanError('UNAVAILABLE', `accounts.ldap.bindPasswordFile ${settings.bindPasswordFile} cannot be read (${error instanceof Error ? error.message : String(error)}): create it (mode 0600) with the bind DN's password`);
  }
}

export function newClient(settings: LdapSettings): Client {
  return new Client({ url: settings.url, timeout: settings.timeout, connectTimeout: settings.timeout, strictDN: false });
}

/** A client bound as Keisan's bind DN (or anonymous without one). The caller unbinds. */
export async function serviceClient(settings: LdapSettings): Promise<Client> {
  const client = newClient(settings);
  try {
    if (settings.bindDn) await client.bind(settings.bindDn, readBindPassword(settings) ?? '');
    return client;
  } catch (error) {
    await client.unbind().catch(() => {});
    throw error instanceof KeisanError ? error : directoryUnavailable(settings, error);
  }
}

export async function withServiceClient<T>(settings: LdapSettings, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await serviceClient(settings);
  try {
    return await work(client);
  } catch (error) {
    if (error instanceof KeisanError) throw error;
    throw directoryUnavailable(settings, error);
  } finally {
    await client.unbind().catch(() => {});
  }
}

const asStrings = (value: Entry[string]): string[] =>
  (Array.isArray(value) ? value : [value]).map((v: string | Buffer) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));

export function toDirectoryEntry(entry: Entry): DirectoryEntry {
  const attributes: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn' || name === 'controls') continue;
    attributes[name] = asStrings(value);
  }
  return { dn: entry.dn, attributes };
}

/** Every entry of a subtree (with userPassword, which Keisan's bind DN may read); a missing base is an empty subtree. */
export async function readSubtree(client: Client, base: string, filter = '(objectClass=*)', attributes = ['*']): Promise<DirectoryEntry[]> {
  try {
    const { searchEntries } = await client.search(base, { scope: 'sub', filter, attributes, explicitBufferAttributes: ['userPassword'] });
    return searchEntries.map(toDirectoryEntry);
  } catch (error) {
    if (error instanceof NoSuchObjectError) return [];
    throw error;
  }
}

export async function applyOperation(client: Client, operation: LdapOperation): Promise<void> {
  switch (operation.op) {
    case 'add':
      await client.add(operation.dn, operation.attributes);
      return;
    case 'modify':
      await client.modify(
        operation.dn,
        operation.changes.map((c) => new Change({ operation: 'replace', modification: new Attribute({ type: c.attribute, values: c.to }) })),
      );
      return;
    case 'delete':
      await client.del(operation.dn);
      return;
  }
}

/** A user's own bind: true for the right password, false for a wrong one; other failures throw. */
export async function bindAs(settings: LdapSettings, dn: string, password: string): Promise<boolean> {
  // An empty password would be an unauthenticated bind, which succeeds without checking anything.
  if (password.length === 0) return false;
  const client = newClient(settings);
  try {
    await client.bind(dn, password);
    return true;
  } catch (error) {
    if (error instanceof InvalidCredentialsError) return false;
    throw directoryUnavailable(settings, error);
  } finally {
    await client.unbind().catch(() => {});
  }
}
