import { defineMessages } from '../define.ts';

/** Help texts of the `slurm` commands (commander descriptions of commands, arguments and options). */
export const slurm = defineMessages({
  en: {
    'slurm.slurm': 'the SLURM cluster behind batch.executor: slurm (operators)',
    'slurm.slurm.sync': "bring SLURM's accounts, user associations and QOS in line with Keisan's workgroups, subgroups, users, queues and shares; shows the changes (with their sacctmgr lines) and changes nothing without --apply",
    'slurm.slurm.sync.opt.apply': 'make the changes (sacctmgr -i), then check that nothing is left to change',
    'slurm.slurm.sync.opt.conf': 'preview against this slurm.conf on the server (default: batch.slurm.conf)',
    'slurm.slurm.import-usage': "import the usage of jobs run on SLURM outside Keisan (sacct) into Keisan's accounting; importing a window again updates it",
    'slurm.slurm.import-usage.opt.from': 'a date (midnight UTC) or an ISO time with its zone (default: 7 days before --to)',
    'slurm.slurm.import-usage.opt.to': 'the end of the window, exclusive (default: now)',
    'slurm.msg.slurm-cluster-already-matched-keisan': 'SLURM cluster {cluster} already matched Keisan: nothing changed.',
    'slurm.msg.read-slurm-again-nothing-is': 'Read SLURM again: nothing is left to change.',
    'slurm.msg.slurm-cluster-matches-keisan-root': 'SLURM cluster {cluster} matches Keisan (root account {rootAccount}): nothing to change.',
    'slurm.input.conf-previews-only-apply-changes': '--conf previews only: --apply changes the cluster of batch.slurm.conf, so leave out --conf',
  },
  ja: {
    'slurm.slurm': 'batch.executor: slurm の背後にある SLURM クラスター（オペレーター）',
    'slurm.slurm.sync': 'SLURM のアカウント、ユーザー関連付け、QOS を Keisan のワークグループ、サブグループ、ユーザー、キュー、シェアに合わせる。変更点を（sacctmgr の行とともに）表示し、--apply がなければ何も変えない',
    'slurm.slurm.sync.opt.apply': '変更を行い（sacctmgr -i）、変更すべきものが残っていないことを確かめる',
    'slurm.slurm.sync.opt.conf': 'サーバー上のこの slurm.conf に対して事前確認する（既定: batch.slurm.conf）',
    'slurm.slurm.import-usage': 'Keisan の外で SLURM 上で実行されたジョブの利用実績（sacct）を Keisan の課金に取り込む。同じ期間を再び取り込むと更新される',
    'slurm.slurm.import-usage.opt.from': '日付（UTC の 0 時）またはタイムゾーン付きの ISO 時刻（既定: --to の 7 日前）',
    'slurm.slurm.import-usage.opt.to': '期間の終わり（含まない）（既定: 現在）',
    'slurm.msg.slurm-cluster-already-matched-keisan': 'SLURM クラスター {cluster} はすでに Keisan と一致していました: 何も変更していません。',
    'slurm.msg.read-slurm-again-nothing-is': 'SLURM を再読込: 変更すべきものは残っていません。',
    'slurm.msg.slurm-cluster-matches-keisan-root': 'SLURM クラスター {cluster} は Keisan と一致しています（ルートアカウント {rootAccount}）: 変更はありません。',
    'slurm.input.conf-previews-only-apply-changes': '--conf は事前確認専用です: --apply は batch.slurm.conf のクラスターを変更するので、--conf を外してください',
  },
});
