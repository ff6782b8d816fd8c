import { defineMessages } from '../define.ts';

/** Help texts of the `status` commands (commander descriptions of commands, arguments and options). */
export const status = defineMessages({
  en: {
    'status.status': 'the public status page: component states, current incidents, maintenance, 90-day uptime (no login needed)',
    'status.status.opt.explain': 'also say why each component is in its state: incidents, groups, hosts, alerts, checks (operators)',
    'status.status.opt.all-updates': 'every public update of each incident, not the latest few',
    'status.status.opt.history': 'instead: the recorded state changes since (7d by default, or an ISO time), newest first (operators)',
    'status.status.opt.component': 'with --history: only this component',
    'status.msg.earlier-update-s-keisan-status': '      … {updates} earlier update(s): keisan status --all-updates',
    'status.msg.no-current-incidents': 'No current incidents.',
    'status.msg.current-incidents': 'Current incidents:',
    'status.msg.no-maintenance-in-progress-or': 'No maintenance in progress or scheduled.',
    'status.msg.maintenance': 'Maintenance:',
    'status.msg.resolved-in-the-last-days': 'Resolved in the last {recentDays} days:',
    'status.msg.why-operators': 'Why (operators):',
    'status.empty.components': '(no components)',
    'status.empty.state-changes-recorded-in': '(no state changes recorded in that time)',
    'status.input.component-goes-with-history': '--component goes with --history',
  },
  ja: {
    'status.status': '公開ステータスページ: コンポーネントの状態、現在のインシデント、メンテナンス、90 日間の稼働率（ログイン不要）',
    'status.status.opt.explain': '各コンポーネントがその状態にある理由も示す: インシデント、グループ、ホスト、アラート、チェック（オペレーター）',
    'status.status.opt.all-updates': '最新の数件ではなく、各インシデントの公開更新をすべて',
    'status.status.opt.history': '代わりに: この時点以降に記録された状態の変化を新しい順に（既定 7d、または ISO 時刻）（オペレーター）',
    'status.status.opt.component': '--history と併用: このコンポーネントだけ',
    'status.msg.earlier-update-s-keisan-status': '      … それ以前の更新 {updates} 件: keisan status --all-updates',
    'status.msg.no-current-incidents': '現在のインシデントはありません。',
    'status.msg.current-incidents': '現在のインシデント:',
    'status.msg.no-maintenance-in-progress-or': '実施中・予定のメンテナンスはありません。',
    'status.msg.maintenance': 'メンテナンス:',
    'status.msg.resolved-in-the-last-days': '過去 {recentDays} 日間に解決:',
    'status.msg.why-operators': '理由（オペレーター）:',
    'status.empty.components': '（コンポーネントはありません）',
    'status.empty.state-changes-recorded-in': '（その期間に記録された状態の変化はありません）',
    'status.input.component-goes-with-history': '--component は --history と併用します',
  },
});
