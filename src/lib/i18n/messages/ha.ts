import { defineMessages } from '../define.ts';

/** Help texts of the `ha` commands (commander descriptions of commands, arguments and options). */
export const ha = defineMessages({
  en: {
    'ha.ha': 'the servers of an HA set (ha: in keisan.yaml): which one is active, which stand by',
    'ha.ha.status': 'every keisan server sharing the database: role (active, standby, stopped), the epoch it took over in, last heartbeat, active since (operators)',
  },
  ja: {
    'ha.ha': 'HA 構成のサーバー（keisan.yaml の ha:）: どれがアクティブで、どれが待機中か',
    'ha.ha.status': 'データベースを共有するすべての keisan サーバー: 役割（active、standby、stopped）、引き継いだエポック、最後のハートビート、アクティブになった時刻（オペレーター）',
  },
});
