import { createHash, randomBytes } from 'node:crypto';

/**
 * The LDAP-usable form of a password: `{SSHA}` base64(SHA-1(password ‖ salt) ‖ salt), which
 * slapd checks on a simple bind without any module (RFC 2307 userPassword schemes). It is made
 * only while publishing (Keisan's own check stays scrypt) and the directory's ACL must keep
 * userPassword from everyone but the entry itself (for binding) and Keisan's bind DN.
 */
export function ldapPasswordHash(plain: string, salt: Buffer = randomBytes(8)): string {
  const digest = createHash('sha1').update(plain, 'utf8').update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** Checks a password against an {SSHA} value (for tests and for the planner's callers). */
export function checkLdapPasswordHash(plain: string, stored: string): boolean {
  if (!stored.startsWith('{SSHA}')) return false;
  const raw = Buffer.from(stored.slice('{SSHA}'.length), 'base64');
  if (raw.length <= 20) return false;
  return ldapPasswordHash(plain, raw.subarray(20)) === stored;
}
