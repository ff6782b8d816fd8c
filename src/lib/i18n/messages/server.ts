import { defineMessages } from '../define.ts';

/** Help texts of the `server` commands (commander descriptions of commands, arguments and options). */
export const server = defineMessages({
  en: {
    'server.server': 'run the Keisan server (API, database, scheduler); `keisan up` runs it for you',
    'server.server.opt.data': 'data directory (default: $KEISAN_DATA or ~/.local/share/keisan)',
    'server.server.opt.port': 'listen on this port instead of server.port',
    'server.server.opt.host': 'listen on this address instead of server.host',
    'server.input.port-must-be-a-port': "--port must be a port number (0-65535), not '{value}'",
  },
  ja: {
    'server.server': 'Keisan サーバー（API、データベース、スケジューラー）を実行する。`keisan up` が代わりに起動する',
    'server.server.opt.data': 'データディレクトリ（既定: $KEISAN_DATA または ~/.local/share/keisan）',
    'server.server.opt.port': 'server.port の代わりにこのポートで待ち受ける',
    'server.server.opt.host': 'server.host の代わりにこのアドレスで待ち受ける',
    'server.input.port-must-be-a-port': "--port はポート番号（0-65535）で指定してください（'{value}' ではなく）",
  },
});
