import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OPERATOR_PASSWORD_FILE } from '../server/facility.ts';
import { startServer, type RunningServer } from '../server/main.ts';
import { initTestDataDir } from '../server/testing.ts';
import { expectCode, runKeisan } from './testing.ts';

/** The CLI's own texts in Japanese (KEISAN_LANG, LANG), English by default, and --json the same in both. */
describe('keisan in English and Japanese', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'keisan-lang-test-'));
  const data = path.join(scratch, 'data');
  const operatorHome = path.join(scratch, 'home-operator');
  const JA = { KEISAN_LANG: 'ja' };
  let server: RunningServer;
  let url: string;

  before(async () => {
    delete process.env.KEISAN_DATABASE_URL;
    process.env.KEISAN_LOG_LEVEL = 'warn';
    initTestDataDir(data);
    server = await startServer({ dataDir: data, port: 0 });
    url = server.url;
    const [name, password] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    assert.ok(name && password);
    expectCode(await runKeisan(operatorHome, ['login', name, '--password-stdin', '--server', url], `${password}\n`), 0);
    expectCode(await runKeisan(operatorHome, ['admin', 'workgroup', 'add', 'belle', '--description', 'Belle II experiment']), 0);
  });

  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('--help is in Japanese with KEISAN_LANG=ja, and in English by default', async () => {
    const ja = expectCode(await runKeisan(scratch, ['--help'], '', JA), 0);
    assert.match(ja.stdout, /^使い方: keisan \[options\] \[command\]$/m);
    assert.match(ja.stdout, /^オプション:$/m);
    assert.match(ja.stdout, /^コマンド:$/m);
    assert.match(ja.stdout, /機械可読な出力/);
    assert.match(ja.stdout, /ログインしてチケット/);
    assert.doesNotMatch(ja.stdout, /machine-readable output|^Usage:/m);

    const en = expectCode(await runKeisan(scratch, ['--help']), 0);
    assert.match(en.stdout, /^Usage: keisan \[options\] \[command\]$/m);
    assert.match(en.stdout, /--json\s+machine-readable output/);
    assert.match(en.stdout, /log in and keep a ticket/);
    assert.doesNotMatch(en.stdout, /[\u3040-\u30ff]/u, 'no kana in the English help');
  });

  it("a subcommand's help: options, arguments and examples in Japanese (LANG=ja_JP.UTF-8 works too)", async () => {
    const run = expectCode(await runKeisan(scratch, ['submit', '--help'], '', { LANG: 'ja_JP.UTF-8' }), 0);
    assert.match(run.stdout, /^引数:$/m);
    assert.match(run.stdout, /ジョブスクリプト/);
    assert.match(run.stdout, /-h, --help\s+コマンドのヘルプを表示する/);
    assert.match(run.stdout, /^例:$/m);
  });

  it("a listing's column headers are translated; --json is the same in both languages", async () => {
    const ja = expectCode(await runKeisan(operatorHome, ['admin', 'workgroup', 'list'], '', JA), 0);
    assert.match(ja.stdout, /^ワークグループ\s+GID\s+サブグループ\s+管理者\s+説明\s*$/m);
    assert.match(ja.stdout, /^belle\s+\d+\s+0\s+Belle II experiment\s*$/m);
    const en = expectCode(await runKeisan(operatorHome, ['admin', 'workgroup', 'list']), 0);
    assert.match(en.stdout, /^WORKGROUP\s+GID\s+SUBGROUPS\s+ADMINS\s+DESCRIPTION\s*$/m);

    const [jaJson, enJson] = await Promise.all([runKeisan(operatorHome, ['admin', 'workgroup', 'list', '--json'], '', JA), runKeisan(operatorHome, ['admin', 'workgroup', 'list', '--json'])]);
    assert.equal(expectCode(jaJson, 0).stdout, expectCode(enJson, 0).stdout);
  });

  it('labels of one object and dates follow the language', async () => {
    const run = expectCode(await runKeisan(operatorHome, ['whoami'], '', JA), 0);
    assert.match(run.stdout, new RegExp(`^サーバー\\s+${url}$`, 'm'));
    assert.match(run.stdout, /^チケット有効期限\s+\d{4}\/\d\d\/\d\d \d\d:\d\d$/m);
  });

  it('the login hint is in Japanese; with --json the error stays English', async () => {
    const home = path.join(scratch, 'home-nobody');
    const ja = expectCode(await runKeisan(home, ['whoami', '--server', url], '', JA), 1);
    assert.equal(ja.stderr, `keisan: ${url} にログインしていません: \`keisan login\` を実行してください\n`);
    const en = expectCode(await runKeisan(home, ['whoami', '--server', url]), 1);
    assert.equal(en.stderr, `keisan: you are not logged in to ${url}: run \`keisan login\`\n`);

    const json = expectCode(await runKeisan(home, ['whoami', '--server', url, '--json'], '', JA), 1);
    assert.deepEqual(JSON.parse(json.stderr), { error: { code: 'NOT_AUTHENTICATED', message: `you are not logged in to ${url}: run \`keisan login\`` } });
  });

  it('logging in says so in Japanese; a password with no terminal gets the Japanese hint', async () => {
    const [name, password] = readFileSync(path.join(data, OPERATOR_PASSWORD_FILE), 'utf8').split('\n');
    const home = path.join(scratch, 'home-ja');
    const run = expectCode(await runKeisan(home, ['login', name!, '--password-stdin', '--server', url], `${password}\n`, JA), 0);
    assert.match(run.stdout, new RegExp(`^${url} に ${name} としてログインしました。$`, 'm'));
    assert.match(run.stdout, /^チケットの有効期限は \d{4}\/\d\d\/\d\d \d\d:\d\d です。/m);

    const noTerminal = expectCode(await runKeisan(home, ['login', name!, '--server', url], '', JA), 2);
    assert.equal(noTerminal.stderr, 'keisan: パスワードを尋ねる端末がありません: --password-stdin でパイプから渡してください\n');
  });

  it("commander's usage errors are translated too", async () => {
    const run = expectCode(await runKeisan(scratch, ['jobz'], '', JA), 2);
    assert.match(run.stderr, /^エラー: 不明なコマンド 'jobz'$/m);
    assert.match(run.stderr, /（使い方は --help で表示）/);
  });
});
