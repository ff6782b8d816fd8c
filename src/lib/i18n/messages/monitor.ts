import { defineMessages } from '../define.ts';

/** Help texts of the `monitor` commands (commander descriptions of commands, arguments and options). */
export const monitor = defineMessages({
  en: {
    'monitor.agent': 'run the node agent (metrics, health checks, jobs); one per node; `keisan up` runs it for you',
    'monitor.agent.opt.data': 'data directory holding keisan.yaml and node-secret',
    'monitor.agent.opt.server': 'the Keisan server (default: from keisan.yaml)',
    'monitor.agent.opt.host': "the node's name in reports (default: this machine's host name)",
    'monitor.agent.opt.roles': "the node's roles for health checks, comma-separated: login, compute, storage, server (default: compute)",
    'monitor.agent.opt.interval': "report every this long instead of the server's monitor.interval (tests; env KEISAN_AGENT_INTERVAL)",
    'monitor.agent.opt.metrics-port': "serve /metrics on this port instead of monitor.metrics.port; 'off' serves none",
    'monitor.agent.opt.metrics-listen': 'serve /metrics on this address instead of monitor.metrics.listen',
    'monitor.mail': 'outgoing e-mail: test the SMTP settings, see the outbox (operators)',
    'monitor.mail.test': 'send a test message now through the SMTP server of keisan.yaml and show its answer',
    'monitor.mail.test.arg.address': 'where to send it',
    'monitor.mail.outbox': 'mail waiting to go out and mail given up on (with --all: sent mail too)',
    'monitor.mail.outbox.opt.all': 'sent mail too',
    'monitor.mail.outbox.opt.state': 'queued, failed, sent (comma-separated)',
    'monitor.mail.outbox.opt.limit': 'at most this many',
  },
  ja: {
    'monitor.agent': 'ノードエージェント（メトリクス、ヘルスチェック、ジョブ）を実行する。ノードに 1 つ。`keisan up` が代わりに起動する',
    'monitor.agent.opt.data': 'keisan.yaml と node-secret を置くデータディレクトリ',
    'monitor.agent.opt.server': 'Keisan サーバー（既定: keisan.yaml から）',
    'monitor.agent.opt.host': '報告に使うノード名（既定: このマシンのホスト名）',
    'monitor.agent.opt.roles': 'ヘルスチェック用のノードのロール（カンマ区切り）: login、compute、storage、server（既定: compute）',
    'monitor.agent.opt.interval': 'サーバーの monitor.interval の代わりにこの間隔で報告する（テスト用。環境変数 KEISAN_AGENT_INTERVAL）',
    'monitor.agent.opt.metrics-port': "monitor.metrics.port の代わりにこのポートで /metrics を提供する。'off' で提供しない",
    'monitor.agent.opt.metrics-listen': 'monitor.metrics.listen の代わりにこのアドレスで /metrics を提供する',
    'monitor.mail': '送信メール: SMTP 設定の試験、送信箱の確認（オペレーター）',
    'monitor.mail.test': 'keisan.yaml の SMTP サーバー経由で今すぐ試験メッセージを送り、その応答を表示する',
    'monitor.mail.test.arg.address': '送信先',
    'monitor.mail.outbox': '送信待ちのメールと送信を諦めたメール（--all: 送信済みも）',
    'monitor.mail.outbox.opt.all': '送信済みのメールも',
    'monitor.mail.outbox.opt.state': 'queued、failed、sent（カンマ区切り）',
    'monitor.mail.outbox.opt.limit': '最大件数',
  },
});
