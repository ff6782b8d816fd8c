import { defineMessages } from '../define.ts';

/** Help texts of the `ops` commands (commander descriptions of commands, arguments and options). */
export const ops = defineMessages({
  en: {
    'ops.init': 'create a data directory with a facility file (keisan.yaml) holding the defaults',
    'ops.init.opt.data': 'data directory (default: $KEISAN_DATA or ~/.local/share/keisan)',
    'ops.up': 'run the whole facility on this machine: watchdog, server and agent, supervised',
    'ops.up.opt.data': 'data directory (default: $KEISAN_DATA or ~/.local/share/keisan); created if missing',
    'ops.up.opt.port': 'serve on this port instead of server.port',
    'ops.up.opt.quiet': "don't show the daemons' log lines (they are in DATA/logs/)",
    'ops.daemons': 'the agents and watchdogs registered with the server, and whether they are up (operators)',
    'ops.msg.is-already-initialised-nothing-was': '{dataDir} is already initialised; nothing was changed.',
    'ops.msg.initialised': 'Initialised {dataDir}:',
    'ops.msg.created': '  created {file}',
    'ops.msg.edit-keisan-yaml-then-run': 'Edit keisan.yaml, then run: keisan up --data {dataDir}',
    'ops.empty.daemon-has-registered-yet': '(no daemon has registered yet)',
  },
  ja: {
    'ops.init': '既定値を記した設備ファイル（keisan.yaml）を含むデータディレクトリを作る',
    'ops.init.opt.data': 'データディレクトリ（既定: $KEISAN_DATA または ~/.local/share/keisan）',
    'ops.up': '設備全体をこのマシンで動かす: ウォッチドッグ、サーバー、エージェントを監視付きで',
    'ops.up.opt.data': 'データディレクトリ（既定: $KEISAN_DATA または ~/.local/share/keisan）。なければ作る',
    'ops.up.opt.port': 'server.port の代わりにこのポートで提供する',
    'ops.up.opt.quiet': 'デーモンのログ行を表示しない（DATA/logs/ にある）',
    'ops.daemons': 'サーバーに登録されたエージェントとウォッチドッグ、稼働しているかどうか（オペレーター）',
    'ops.msg.is-already-initialised-nothing-was': '{dataDir} は初期化済みです。何も変更していません。',
    'ops.msg.initialised': '{dataDir} を初期化しました:',
    'ops.msg.created': '  {file} を作成',
    'ops.msg.edit-keisan-yaml-then-run': 'keisan.yaml を編集してから実行してください: keisan up --data {dataDir}',
    'ops.empty.daemon-has-registered-yet': '（まだ登録されたデーモンはありません）',
  },
});
