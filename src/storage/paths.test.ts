import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isWithin, normalizePath, splitLast } from './paths.ts';

const bad = (text: unknown, base: string[] = []) => {
  try {
    normalizePath(text, base);
  } catch (error) {
    assert.ok(error instanceof Error);
    return error.message;
  }
  assert.fail(`${JSON.stringify(text)} was accepted`);
};

describe('namespace paths', () => {
  it('normalises slashes, . and .. lexically, and keeps everything under /', () => {
    assert.deepEqual(normalizePath('/'), { parts: [], text: '/' });
    assert.deepEqual(normalizePath('//a///b/./c/'), { parts: ['a', 'b', 'c'], text: '/a/b/c' });
    assert.equal(normalizePath('/a/b/../c').text, '/a/c');
    assert.equal(normalizePath('/a/..').text, '/');
    assert.equal(normalizePath('x/y', ['lab', 'lab-ml']).text, '/lab/lab-ml/x/y');
    assert.equal(normalizePath('../lab-cv/z', ['lab', 'lab-ml']).text, '/lab/lab-cv/z');
    assert.equal(normalizePath('.', ['lab']).text, '/lab');
    assert.equal(normalizePath('/ü ñ…名前').text, '/ü ñ…名前');
  });

  it('refuses escapes above the root, naming the part', () => {
    assert.match(bad('/..'), /'\.\.' \(part 1\) would climb above the root/);
    assert.match(bad('/a/../../etc/passwd'), /'\.\.' \(part 3\) would climb above the root/);
    assert.match(bad('../../../x', ['lab', 'ml']), /would climb above the root/);
  });

  it('refuses NUL, control characters, over-long names and paths, non-strings and empty paths', () => {
    assert.match(bad('/a/b\0c'), /contains a NUL character/);
    assert.match(bad('/a/b\nc'), /part 2 'b\\nc' contains a control character/);
    assert.match(bad(`/a/${'x'.repeat(256)}`), /part 2 'x+…' is 256 bytes long: names have at most 255 bytes/);
    assert.equal(normalizePath(`/${'x'.repeat(255)}`).parts[0]!.length, 255);
    // 128 two-byte characters are 256 bytes.
    assert.match(bad(`/${'é'.repeat(128)}`), /is 256 bytes long/);
    assert.match(bad(`/${'a/'.repeat(2100)}`), /longer than 4096 bytes/);
    assert.match(bad(''), /must not be empty/);
    assert.match(bad(42), /must be a string/);
  });

  it('splits off the last name; tells whether one path lies within another', () => {
    assert.deepEqual(splitLast(normalizePath('/a/b')), { parent: { parts: ['a'], text: '/a' }, name: 'b' });
    assert.equal(splitLast(normalizePath('/')), null);
    assert.ok(isWithin(normalizePath('/a/b/c'), normalizePath('/a/b')));
    assert.ok(isWithin(normalizePath('/a/b'), normalizePath('/a/b')));
    assert.ok(!isWithin(normalizePath('/a/bc'), normalizePath('/a/b')));
    assert.ok(isWithin(normalizePath('/a'), normalizePath('/')));
  });
});
