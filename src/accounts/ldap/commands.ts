import type { Command } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import type { Output } from '../../cli/output.ts';
import type { LdapChange, LdapStatus, LdapSyncResult } from './service.ts';

/** `keisan admin ldap …`: thin — call /api/admin/ldap, print. */

function printChanges(out: Output, changes: readonly LdapChange[]): void {
  changes.forEach((change, index) => out.line(`  ${String(index + 1).padStart(3)}. ${change.summary}`));
}

export function registerLdapCommands(admin: Command): void {
  const ldap = admin.command('ldap').description('one identity through LDAP: publish Keisan\'s users and groups to a directory, or use the site\'s (accounts.ldap; operators)');
  ldap
    .command('status')
    .description('the mode, whether the directory answers, and (publish) whether every change reached it')
    .addHelpText('after', examples('keisan admin ldap status', 'keisan admin ldap status --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const status = await clientOf(command).request<LdapStatus>('GET', '/api/admin/ldap/status');
      out.result(status, () => {
        if (status.mode === 'off') {
          out.line('LDAP is off: accounts.ldap is not set in keisan.yaml.');
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
    .description('publish: the differences between Keisan and the directory under Keisan\'s OUs; use: the directory users to import into Keisan. Changes nothing without --apply')
    .option('--apply', 'make the changes, then check that nothing is left')
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
