import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import type { Output } from '../../cli/output.ts';
import type { LdapChange, LdapStatus, LdapSyncResult } from './service.ts';
import { t } from '../../lib/i18n/index.ts';

/** `keisan admin ldap …`: thin — call /api/admin/ldap, print. */

function printChanges(out: Output, changes: readonly LdapChange[]): void {
  changes.forEach((change, index) => out.line(`  ${String(index + 1).padStart(3)}. ${change.summary}`));
}

export function registerLdapCommands(admin: Command): void {
  const ldap = admin.command('ldap').description(t('ldap.ldap'));
  ldap
    .command('status')
    .description(t('ldap.ldap.status'))
    .addHelpText('after', examples('keisan admin ldap status', 'keisan admin ldap status --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const status = await clientOf(command).request<LdapStatus>('GET', '/api/admin/ldap/status');
      out.result(status, () => {
        if (status.mode === 'off') {
          out.line(t('ldap.msg.ldap-is-off-accounts-ldap'));
          return;
        }
        out.line(`Mode:        ${status.mode} (${status.url}, base ${status.baseDn})`);
        out.line(`Directory:   ${status.reachable ? 'answers' : 'DOES NOT ANSWER'}`);
        if (status.mode === 'publish') {
          out.line(`Published:   ${status.state}${status.pending ? ' (changes wait to be written)' : ''}`);
          if (status.lastSuccessAt) out.line(`Last sync:   ${status.lastSuccessAt}`);
          if (status.lastError) out.line(`Last error:  ${status.lastError} (next try ${status.nextRetryAt ?? 'soon'})`);
          if (status.usersWithoutLdapPassword.length > 0) {
            out.line(`No LDAP password yet (set it again to let them bind): ${status.usersWithoutLdapPassword.join(', ')}`);
          }
        }
      });
    });
  ldap
    .command('sync')
    .description(t('ldap.ldap.sync'))
    .option('--apply', t('ldap.ldap.sync.opt.apply'))
    .addHelpText('after', examples('keisan admin ldap sync', 'keisan admin ldap sync --apply', 'keisan admin ldap sync --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const result = options.apply
        ? await client.request<LdapSyncResult>('POST', '/api/admin/ldap/sync', { apply: true })
        : await client.request<LdapSyncResult>('GET', '/api/admin/ldap/sync');
      const where = result.mode === 'publish' ? 'the directory' : 'Keisan';
      out.result(result, () => {
        if (result.changes.length === 0) out.line(result.applied ? `Nothing to change: ${where} already matched.` : `${where === 'Keisan' ? 'Keisan matches the directory' : 'The directory matches Keisan'}: nothing to change.`);
        else {
          out.line(result.applied ? `Made ${result.changes.length} change${result.changes.length === 1 ? '' : 's'} in ${where}:` : `${result.changes.length} change${result.changes.length === 1 ? '' : 's'} to make in ${where} — nothing changed; run with --apply to make ${result.changes.length === 1 ? 'it' : 'them'}:`);
          printChanges(out, result.changes);
        }
        if (result.applied) {
          out.line(result.remaining.length === 0 ? 'Read again: nothing is left to change.' : `Read again: ${result.remaining.length} still differ:`);
          printChanges(out, result.remaining);
        }
      });
    });
}
