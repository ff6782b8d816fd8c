import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Passwords hashed with scrypt (node:crypto), kept as a PHC-style string that carries its
 * parameters, so the cost can be raised later without breaking existing hashes:
 * `$scrypt$ln=17,r=8,p=1$<salt b64>$<hash b64>`.
 */
const KEY_LENGTH = 32;

function scryptAsync(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Node's default maxmem (32 MiB) is below what N=2^17, r=8 needs (128·N·r = 128 MiB). */
const maxmemFor = (cost: number, blockSize: number) => 128 * cost * blockSize + 32 * 1024 * 1024;

export async function hashPassword(plain: string, cost = 131072): Promise<string> {
  if (!Number.isInteger(Math.log2(cost))) throw new Error(`scrypt cost ${cost} must be a power of two`);
  const salt = randomBytes(16);
  const r = 8;
  const p = 1;
  const key = await scryptAsync(plain, salt, { N: cost, r, p, maxmem: maxmemFor(cost, r) });
  return `$scrypt$ln=${Math.log2(cost)},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  const match = PHC.exec(stored);
  if (!match) return false;
  const cost = 2 ** Number(match[1]);
  const r = Number(match[2]);
  const p = Number(match[3]);
  const salt = Buffer.from(match[4]!, 'base64');
  const expected = Buffer.from(match[5]!, 'base64');
  const actual = await scryptAsync(plain, salt, { N: cost, r, p, maxmem: maxmemFor(cost, r) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Whether a stored hash was made with a weaker cost than the one configured now. */
export function needsRehash(stored: string, cost: number): boolean {
  const match = PHC.exec(stored);
  return !match || 2 ** Number(match[1]) < cost;
}

/**
 * A fixed hash to verify against when the user does not exist, so that a login for an
 * unknown name takes as long as one with a wrong password.
 */
let decoyHash: { cost: number; hash: Promise<string> } | undefined;
export function decoyHashFor(cost: number): Promise<string> {
  if (!decoyHash || decoyHash.cost !== cost) decoyHash = { cost, hash: hashPassword(randomBytes(16).toString('hex'), cost) };
  return decoyHash.hash;
}
