import { defineMessages } from '../define.ts';

/** Help texts of the `checks` commands (commander descriptions of commands, arguments and options). */
export const checks = defineMessages({
  en: {
    'checks.checks': 'the latest result of every health check, per host (ping, ssh, http, processes, disks, RAID, hardware, duplicate IPs…)',
    'checks.checks.opt.host': 'only this host',
    'checks.checks.opt.failing': 'only checks that are warning, critical or unknown',
    'checks.checks.opt.status': 'only these statuses (comma-separated: ok, warning, critical, unknown)',
    'checks.empty.checks-in-that-state': '(no checks in that state)',
    'checks.empty.check-results-yet': '(no check results yet: are the agents running?)',
  },
  ja: {
    'checks.checks': 'ホストごとの各ヘルスチェックの最新結果（ping、ssh、http、プロセス、ディスク、RAID、ハードウェア、IP 重複…）',
    'checks.checks.opt.host': 'このホストだけ',
    'checks.checks.opt.failing': 'warning、critical、unknown のチェックだけ',
    'checks.checks.opt.status': 'これらの状態だけ（カンマ区切り: ok、warning、critical、unknown）',
    'checks.empty.checks-in-that-state': '（その状態のチェックはありません）',
    'checks.empty.check-results-yet': '（チェック結果はまだありません: エージェントは動いていますか？）',
  },
});
