import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayWidth } from './output.ts';
import { languageForRun, localizeCommanderMessage, wrapWide } from './program.ts';

describe('the language of a run', () => {
  it('is the environment’s, but English with --json', () => {
    assert.equal(languageForRun(['jobs'], { KEISAN_LANG: 'ja' }), 'ja');
    assert.equal(languageForRun(['jobs', '--json'], { KEISAN_LANG: 'ja' }), 'en');
    assert.equal(languageForRun(['jobs'], {}), 'en');
  });
});

describe('commander messages in Japanese', () => {
  it('translates the common errors and the suggestion, and leaves English alone', () => {
    const text = "error: unknown command 'jobz'\n(Did you mean jobs?)\n";
    assert.equal(localizeCommanderMessage(text, 'en'), text);
    assert.equal(localizeCommanderMessage(text, 'ja'), "エラー: 不明なコマンド 'jobz'\n（もしかして: jobs）\n");
    assert.equal(localizeCommanderMessage("error: missing required argument 'id'\n", 'ja'), "エラー: 必須の引数 'id' がありません\n");
    assert.equal(
      localizeCommanderMessage("error: too many arguments for 'job'. Expected 1 argument but got 2.\n", 'ja'),
      'エラー: 引数が多すぎます（1 個のところ 2 個）。\n',
    );
    assert.equal(localizeCommanderMessage("error: option '--since <when>' argument 'x' is invalid.\n", 'ja'), "エラー: option '--since <when>' argument 'x' is invalid.\n");
  });
});

describe('wrapping Japanese help', () => {
  it('breaks between characters, keeps words whole, and never starts a line with closing punctuation', () => {
    const wrapped = wrapWide('ジョブの終了まで待ち、その終了コードで終了する（example-word）。', 20);
    for (const line of wrapped.split('\n')) {
      assert.ok(displayWidth(line) <= 20 || !/[\u3000-\u9fff]/u.test(line), `too wide: ${line}`);
      assert.doesNotMatch(line, /^[、。）]/u);
    }
    assert.match(wrapped.replace(/\n/g, ''), /example-word/);
    assert.equal(wrapped.replace(/\n/g, ''), 'ジョブの終了まで待ち、その終了コードで終了する（example-word）。');
  });

  it('counts wide characters as two columns', () => {
    assert.equal(displayWidth('abc'), 3);
    assert.equal(displayWidth('状態'), 4);
    assert.equal(displayWidth('（なし）'), 8);
  });
});
