import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeisanError } from './errors.ts';
import { formatDuration, parseDuration, parseSize } from './units.ts';

describe('parseSize', () => {
  it('accepts the forms users write', () => {
    assert.equal(parseSize('16G'), 16 * 1024 ** 3);
    assert.equal(parseSize('16GB'), 16 * 1024 ** 3);
    assert.equal(parseSize('16GiB'), 16 * 1024 ** 3);
    assert.equal(parseSize('16384M'), 16 * 1024 ** 3);
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize('1.5T'), 1.5 * 1024 ** 4);
    assert.equal(parseSize('1000'), 1000);
  });
  it('refuses what is not a size, saying how to write one', () => {
    for (const bad of ['', 'G', '16X', '-1G', '1e9', '16 G B']) {
      assert.throws(() => parseSize(bad), (e: unknown) => e instanceof KeisanError && e.code === 'INVALID_INPUT' && /16G/.test(e.message));
    }
  });
});

describe('parseDuration', () => {
  it('accepts SLURM clock forms', () => {
    assert.equal(parseDuration('2-00:00:00'), 48 * 3_600_000);
    assert.equal(parseDuration('48:00:00'), 48 * 3_600_000);
    assert.equal(parseDuration('1-12'), 36 * 3_600_000);
    assert.equal(parseDuration('90:30'), 90 * 60_000 + 30_000);
  });
  it('accepts unit forms', () => {
    assert.equal(parseDuration('90m'), 90 * 60_000);
    assert.equal(parseDuration('10h'), 10 * 3_600_000);
    assert.equal(parseDuration('4w'), 28 * 86_400_000);
    assert.equal(parseDuration('1d12h'), 36 * 3_600_000);
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration(15), 15_000);
  });
  it('refuses nonsense', () => {
    for (const bad of ['', 'soon', '10x', '1:99', '10h garbage', '-5m']) {
      assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof KeisanError && e.code === 'INVALID_INPUT');
    }
  });
  it('formats back compactly', () => {
    assert.equal(formatDuration(36 * 3_600_000 + 61_000), '1d12h1m1s');
    assert.equal(formatDuration(0), '0s');
  });
});
