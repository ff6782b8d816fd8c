import { defineMessages } from '../define.ts';

/** Help texts of the `areas` commands (commander descriptions of commands, arguments and options). */
export const areas = defineMessages({
  en: {
    'areas.areas': 'your storage areas: home (private/, public/), your group areas, your workgroup libraries — paths, who can read what, usage',
    'areas.areas.opt.all': 'also the areas you administer (operators: every area)',
    'areas.areas2': 'user areas on disk: provisioning, usage, library writers',
    'areas.areas.sync': 'create missing areas and fix modes and ACLs that drifted (never deletes anything; operators)',
    'areas.areas.usage': 'measured usage of the areas you administer (operators: all); --measure measures now (operators)',
    'areas.areas.usage.opt.measure': 'measure every area now and send the soft-quota notices that are due',
    'areas.areas.writer': "who may write a workgroup's library (its workgroup admins, operators)",
    'areas.writer.add': "let a user write a workgroup's library (everything already in it too)",
    'areas.writer.add.arg.workgroup': 'the workgroup',
    'areas.writer.add.arg.user': 'the user',
    'areas.writer.rm': "take away a user's right to write a workgroup's library (on everything in it; what they own stays theirs)",
    'areas.writer.rm.arg.workgroup': 'the workgroup',
    'areas.writer.rm.arg.user': 'the user',
    'areas.writer.list': 'who writes which library',
    'areas.writer.list.arg.workgroup': 'only this workgroup',
  },
  ja: {
    'areas.areas': '自分のストレージ領域: ホーム（private/、public/）、グループ領域、ワークグループのライブラリ — パス、誰が何を読めるか、使用量',
    'areas.areas.opt.all': '自分が管理する領域も（オペレーター: すべての領域）',
    'areas.areas2': 'ディスク上のユーザー領域: 準備、使用量、ライブラリの書き込み者',
    'areas.areas.sync': 'ない領域を作り、ずれたモードと ACL を直す（何も削除しない。オペレーター）',
    'areas.areas.usage': '管理する領域の計測済み使用量（オペレーター: すべて）。--measure で今すぐ計測（オペレーター）',
    'areas.areas.usage.opt.measure': 'すべての領域を今すぐ計測し、期限の来たソフトクォータ通知を送る',
    'areas.areas.writer': 'ワークグループのライブラリに書き込めるのは誰か（そのワークグループ管理者、オペレーター）',
    'areas.writer.add': 'ユーザーがワークグループのライブラリに書き込めるようにする（既存の中身すべても）',
    'areas.writer.add.arg.workgroup': 'ワークグループ',
    'areas.writer.add.arg.user': 'ユーザー',
    'areas.writer.rm': 'ユーザーからワークグループのライブラリへの書き込み権を外す（中身すべてについて。所有するものはそのまま）',
    'areas.writer.rm.arg.workgroup': 'ワークグループ',
    'areas.writer.rm.arg.user': 'ユーザー',
    'areas.writer.list': '誰がどのライブラリに書き込めるか',
    'areas.writer.list.arg.workgroup': 'このワークグループだけ',
  },
});
