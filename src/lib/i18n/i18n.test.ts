import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AREAS } from './catalog.ts';
import { chooseLanguage, formatDateTime, translate } from './index.ts';

describe('chooseLanguage', () => {
  it('is English with nothing set, or with an English or C locale', () => {
    assert.equal(chooseLanguage({}), 'en');
    assert.equal(chooseLanguage({ LANG: 'en_US.UTF-8' }), 'en');
    assert.equal(chooseLanguage({ LANG: 'C.UTF-8' }), 'en');
    assert.equal(chooseLanguage({ LANG: '' }), 'en');
  });

  it('takes KEISAN_LANG first: ja, en or a locale', () => {
    assert.equal(chooseLanguage({ KEISAN_LANG: 'ja' }), 'ja');
    assert.equal(chooseLanguage({ KEISAN_LANG: 'JA' }), 'ja');
    assert.equal(chooseLanguage({ KEISAN_LANG: 'ja_JP.UTF-8', LANG: 'en_US.UTF-8' }), 'ja');
    assert.equal(chooseLanguage({ KEISAN_LANG: 'en', LANG: 'ja_JP.UTF-8', LC_ALL: 'ja_JP.UTF-8' }), 'en');
    assert.equal(chooseLanguage({ KEISAN_LANG: '  ', LANG: 'ja_JP.UTF-8' }), 'ja');
  });

  it('else follows LC_ALL, then LC_MESSAGES, then LANG', () => {
    assert.equal(chooseLanguage({ LANG: 'ja_JP.UTF-8' }), 'ja');
    assert.equal(chooseLanguage({ LC_MESSAGES: 'ja_JP.eucJP', LANG: 'en_GB.UTF-8' }), 'ja');
    assert.equal(chooseLanguage({ LC_ALL: 'en_US.UTF-8', LC_MESSAGES: 'ja_JP.UTF-8', LANG: 'ja_JP.UTF-8' }), 'en');
    assert.equal(chooseLanguage({ LC_ALL: 'ja', LANG: 'en_US.UTF-8' }), 'ja');
  });
});

describe('the catalog', () => {
  const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

  it('has the same keys in Japanese as in English, in every area, none empty', () => {
    for (const [name, area] of Object.entries(AREAS)) {
      const en = Object.keys(area.en);
      const ja = Object.keys(area.ja);
      assert.deepEqual(ja.filter((k) => !en.includes(k)), [], `${name}: keys only in Japanese`);
      assert.deepEqual(en.filter((k) => !ja.includes(k)), [], `${name}: keys missing in Japanese`);
      for (const [key, text] of Object.entries(area.ja)) assert.ok((text as string).trim() !== '', `${name}: ${key} is empty in Japanese`);
    }
  });

  it('uses each key in one area only', () => {
    const seen = new Map<string, string>();
    for (const [name, area] of Object.entries(AREAS)) {
      for (const key of Object.keys(area.en)) {
        assert.equal(seen.get(key), undefined, `${key} is in ${seen.get(key)} and ${name}`);
        seen.set(key, name);
      }
    }
  });

  it('has the same {placeholders} in both languages', () => {
    for (const area of Object.values(AREAS)) {
      for (const [key, text] of Object.entries(area.en)) assert.deepEqual(placeholders((area.ja as Record<string, string>)[key]!), placeholders(text as string), key);
    }
  });
});

describe('translate', () => {
  it('fills in {name} and leaves unknown names as written', () => {
    assert.equal(translate('en', 'cli.login.done', { server: 'http://a:1', user: 'alice' }), 'Logged in to http://a:1 as alice.');
    assert.equal(translate('ja', 'cli.login.done', { server: 'http://a:1', user: 'alice' }), 'http://a:1 に alice としてログインしました。');
    assert.equal(translate('en', 'cli.login.done', { server: 'x' }), 'Logged in to x as {user}.');
  });

  it('formats dates per language', () => {
    const date = new Date(2026, 10, 3, 9, 5);
    assert.equal(formatDateTime(date, 'en'), '2026-11-03 09:05');
    assert.equal(formatDateTime(date, 'ja'), '2026/11/03 09:05');
  });
});
