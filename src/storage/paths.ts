import { invalidInput } from '../lib/errors.ts';

/**
 * Namespace paths, pure. A path is `/`-separated; it is normalised (repeated and trailing
 * slashes and `.` parts dropped, `..` applied lexically) and confined: `..` never climbs above
 * `/`. A name is at most 255 bytes of UTF-8 and holds no NUL, no `/` (it separates) and no
 * control characters (they garble terminals and logs). A whole path is at most 4096 bytes.
 * Paths without a leading `/` are relative to a base the caller gives (the user's subgroup
 * directory in the service). Names never reach the disk tier: it stores bytes under ids.
 */
export const MAX_NAME_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

/** A normalised path: its parts (empty for the root) and its text (`/` or `/a/b`). */
export interface NormalPath {
  parts: string[];
  text: string;
}

/** C0 control characters and DEL. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** How a bad part is shown in a message: quoted, with control characters escaped. */
function shown(text: string): string {
  const escaped = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
  return `'${escaped.slice(1, -1)}'`;
}

export function joinParts(parts: readonly string[]): string {
  return parts.length === 0 ? '/' : `/${parts.join('/')}`;
}

/** Checks one name (a file or directory name, not a path); throws INVALID_INPUT naming what is wrong. */
export function checkName(name: string, where = 'name'): string {
  if (name === '') throw invalidInput(`${where} must not be empty`);
  if (name.includes('\0')) throw invalidInput(`${where} ${shown(name)} contains a NUL character`);
  if (name.includes('/')) throw invalidInput(`${where} ${shown(name)} contains '/': a name is one part of a path`);
  if (name === '.' || name === '..') throw invalidInput(`${where} ${shown(name)} is not a name: '.' and '..' are reserved`);
  if (hasControl(name)) throw invalidInput(`${where} ${shown(name)} contains a control character (tab, newline, …): use printable characters`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_BYTES) throw invalidInput(`${where} ${shown(name)} is ${bytes} bytes long: names have at most ${MAX_NAME_BYTES} bytes`);
  return name;
}

/**
 * Normalises `text` against `base` (the parts of the directory a relative path starts from;
 * the root when absent). Throws INVALID_INPUT naming the bad part.
 */
export function normalizePath(text: unknown, base: readonly string[] = []): NormalPath {
  if (typeof text !== 'string') throw invalidInput('path must be a string');
  if (text === '') throw invalidInput('path must not be empty: write / for the root or a path like /workgroup/subgroup/file');
  if (text.includes('\0')) throw invalidInput(`path ${shown(text)} contains a NUL character`);
  if (Buffer.byteLength(text, 'utf8') > MAX_PATH_BYTES) throw invalidInput(`path is longer than ${MAX_PATH_BYTES} bytes`);
  const absolute = text.startsWith('/');
  const parts = absolute ? [] : [...base];
  const raw = text.split('/');
  // Whether `text` is already in normal form (absolute, no empty, `.` or `..` parts): then it is its own text.
  let normal = absolute && (raw.length === 2 || raw[raw.length - 1] !== '');
  for (let i = 0; i < raw.length; i++) {
    const part = raw[i]!;
    if (part === '' || part === '.') {
      if (i > 0 && !(i === 1 && raw.length === 2)) normal = false;
      else if (part === '.') normal = false;
      continue;
    }
    if (part === '..') {
      normal = false;
      if (parts.length === 0) {
        throw invalidInput(`path ${shown(text)}: '..' (part ${i + (absolute ? 0 : 1)}) would climb above the root /`);
      }
      parts.pop();
      continue;
    }
    // The message is built only when the name is bad (this runs for every part of every path).
    if (Buffer.byteLength(part, 'utf8') > MAX_NAME_BYTES || hasControl(part)) checkName(part, `path ${shown(text)}: part ${i + (absolute ? 0 : 1)}`);
    parts.push(part);
  }
  const result = normal ? text : joinParts(parts);
  if (Buffer.byteLength(result, 'utf8') > MAX_PATH_BYTES) throw invalidInput(`path is longer than ${MAX_PATH_BYTES} bytes`);
  return { parts, text: result };
}

/** The parent's path and the last name; the root has no parent. */
export function splitLast(path: NormalPath): { parent: NormalPath; name: string } | null {
  if (path.parts.length === 0) return null;
  const parts = path.parts.slice(0, -1);
  return {
    parent: {
      parts,
      // Made when asked for (messages), not on every lookup.
      get text() {
        return joinParts(parts);
      },
    },
    name: path.parts[path.parts.length - 1]!,
  };
}

/** Whether `inner` is `outer` or lies below it. */
export function isWithin(inner: NormalPath, outer: NormalPath): boolean {
  if (inner.parts.length < outer.parts.length) return false;
  return outer.parts.every((part, i) => inner.parts[i] === part);
}
