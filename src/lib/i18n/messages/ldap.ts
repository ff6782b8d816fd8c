import { defineMessages } from '../define.ts';

/** Help texts of the `ldap` commands (commander descriptions of commands, arguments and options). */
export const ldap = defineMessages({
  en: {
    'ldap.ldap': "one identity through LDAP: publish Keisan's users and groups to a directory, or use the site's (accounts.ldap; operators)",
    'ldap.ldap.status': 'the mode, whether the directory answers, and (publish) whether every change reached it',
    'ldap.ldap.sync': "publish: the differences between Keisan and the directory under Keisan's OUs; use: the directory users to import into Keisan. Changes nothing without --apply",
    'ldap.ldap.sync.opt.apply': 'make the changes, then check that nothing is left',
    'ldap.msg.ldap-is-off-accounts-ldap': 'LDAP is off: accounts.ldap is not set in keisan.yaml.',
  },
  ja: {
    'ldap.ldap': 'LDAP による統一 ID: Keisan のユーザーとグループをディレクトリへ公開する、またはサイトのディレクトリを使う（accounts.ldap。オペレーター）',
    'ldap.ldap.status': 'モード、ディレクトリが応答するか、（publish）すべての変更が届いたか',
    'ldap.ldap.sync': 'publish: Keisan と Keisan の OU 配下のディレクトリとの差分。use: Keisan に取り込むディレクトリのユーザー。--apply がなければ何も変えない',
    'ldap.ldap.sync.opt.apply': '変更を行い、残りがないことを確かめる',
    'ldap.msg.ldap-is-off-accounts-ldap': 'LDAP は無効です: keisan.yaml に accounts.ldap が設定されていません。',
  },
});
