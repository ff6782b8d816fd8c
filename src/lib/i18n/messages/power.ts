import { defineMessages } from '../define.ts';

/** Help texts of the `power` commands (commander descriptions of commands, arguments and options). */
export const power = defineMessages({
  en: {
    'power.power': 'the UPS watched through Network UPS Tools and the ordered shutdown plan (operators)',
    'power.power.status': 'the UPS now, how long it has been on battery, and what happens when',
    'power.power.test': 'dry run: print the ordered shutdown plan for what runs now, without doing any of it',
    'power.msg.dry-run-on-a-power': 'Dry run — on a power loss of UPS {ups} Keisan would, in this order:',
    'power.msg.nothing-was-done': 'Nothing was done.',
  },
  ja: {
    'power.power': 'Network UPS Tools で監視する UPS と順序立てた停止計画（オペレーター）',
    'power.power.status': '現在の UPS、バッテリー運転の継続時間、いつ何が起きるか',
    'power.power.test': '予行演習: 現在動いているものの順序立てた停止計画を表示し、何も実行しない',
    'power.msg.dry-run-on-a-power': '予行演習 — UPS {ups} の停電時、Keisan は次の順で実行します:',
    'power.msg.nothing-was-done': '何も実行していません。',
  },
});
