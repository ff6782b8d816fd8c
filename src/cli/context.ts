import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { ApiClient, resolveServers } from './client.ts';
import { t } from '../lib/i18n/index.ts';
import { Output } from './output.ts';

/** Options every command has: --server URL and --json. */
export interface GlobalOptions {
  server?: string;
  json?: boolean;
}

export function globalsOf(command: CommandUnknownOpts): GlobalOptions {
  const all = command.optsWithGlobals() as Record<string, unknown>;
  return {
    ...(typeof all.server === 'string' ? { server: all.server } : {}),
    json: all.json === true,
  };
}

export function outputOf(command: CommandUnknownOpts): Output {
  return new Output({ json: globalsOf(command).json === true });
}

export function clientOf(command: CommandUnknownOpts): ApiClient {
  return ApiClient.forServers(resolveServers(globalsOf(command).server));
}

/** Help text lines `Examples:` shown after a command's options. */
export function examples(...lines: string[]): string {
  return `\n${t('cli.help.examples')}\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
