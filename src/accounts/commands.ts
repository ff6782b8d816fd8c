import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline/promises';
import type { Command} from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { stringify } from 'yaml';
import { clientOf, examples, outputOf } from '../cli/context.ts';
import { forgetTicket, saveTicket, updateTicketExpiry } from '../cli/credentials.ts';
import { formatTime, type Output } from '../cli/output.ts';
import { promptHidden, readStdin } from '../cli/prompt.ts';
import { parseYaml } from '../lib/config.ts';
import { invalidInput, KeisanError } from '../lib/errors.ts';
import { randomPassword } from '../lib/ids.ts';
import type { AuditEntry } from './audit.ts';
import type { ApplyResult, FacilityExport } from './declarative.ts';
import type { RoleGrant, Subgroup, TicketInfo, User, WhoAmI, Workgroup } from './model.ts';
import { t } from '../lib/i18n/index.ts';

const rolesText = (roles: RoleGrant[]) =>
  roles
    .map((r) => (r.role === 'operator' ? 'operator' : r.role === 'workgroup-admin' ? `admin of workgroup ${r.workgroup}` : `admin of subgroup ${r.subgroup}`))
    .join(', ') || 'user';

const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
/** `--login-networks 10.1.0.0/16,2001:db8::/32`; `anywhere` (or an empty value) = no restriction. The server checks each network. */
const loginNetworksOption = (value: string) => (value.trim() === '' || value.trim().toLowerCase() === 'anywhere' ? [] : list(value));

async function readPassword(fromStdin: boolean | undefined, question: string): Promise<string> {
  const password = fromStdin ? await readStdin() : await promptHidden(question);
  if (!password) throw invalidInput(t('cli.password.empty'));
  return password;
}

/** Destructive commands ask for the name to be typed, or need --yes when there is no terminal. */
async function confirmByName(kind: string, name: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw invalidInput(t('cli.confirm.needs-yes', { kind, name }));
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(t('cli.confirm.remove', { kind, name }));
    if (answer.trim() !== name) throw new KeisanError('INVALID_INPUT', t('cli.confirm.not-confirmed'));
  } finally {
    rl.close();
  }
}

function showTicket(out: Output, user: string, server: string, ticket: TicketInfo): void {
  out.line(t('cli.login.done', { server, user: pc.bold(user) }));
  out.line(t('cli.login.ticket', { expires: formatTime(ticket.expiresAt), renewUntil: formatTime(ticket.renewUntil) }));
}

function showUser(out: Output, user: User): void {
  out.fields([
    [t('field.name'), user.name],
    [t('field.full-name'), user.fullName],
    [t('field.e-mail'), user.email],
    [t('field.uid-gid'), `${user.uid} / ${user.gid}`],
    [t('field.primary-subgroup'), `${user.primarySubgroup} (workgroup ${user.workgroup})`],
    [t('field.other-subgroups'), user.subgroups.join(', ')],
    [t('field.roles'), rolesText(user.roles)],
    [t('field.home'), user.home],
    [t('field.shell'), user.shell],
    [t('field.locked'), user.locked ? `yes${user.lockReason ? ` (${user.lockReason})` : ''}` : 'no'],
    [t('field.password-set'), user.hasPassword ? 'yes' : 'no'],
    [t('field.created'), formatTime(user.createdAt)],
  ]);
}

function showWorkgroup(out: Output, workgroup: Workgroup): void {
  out.fields([
    [t('field.workgroup'), workgroup.name],
    [t('field.description'), workgroup.description],
    [t('field.gid'), workgroup.gid],
    [t('field.subgroups'), workgroup.subgroups.join(', ')],
    [t('field.admins'), workgroup.admins.join(', ')],
    [t('field.login-networks'), workgroup.loginNetworks.length > 0 ? workgroup.loginNetworks.join(', ') : 'anywhere'],
    [t('field.created'), formatTime(workgroup.createdAt)],
  ]);
}

function showSubgroup(out: Output, subgroup: Subgroup): void {
  out.fields([
    [t('field.subgroup'), subgroup.name],
    [t('field.workgroup'), subgroup.workgroup],
    [t('field.description'), subgroup.description],
    [t('field.gid'), subgroup.gid],
    [t('field.admins'), subgroup.admins.join(', ')],
    [t('field.members'), subgroup.primaryMembers.join(', ')],
    [t('field.also-joined'), subgroup.extraMembers.join(', ')],
    [t('field.created'), formatTime(subgroup.createdAt)],
  ]);
}

export function registerAccountCommands(program: Command, admin: Command): void {
  // ------------------------------------------------------------------ tickets
  program
    .command('login')
    .description(t('accounts.login'))
    .argument('[user]', t('accounts.login.arg.user'))
    .option('--password-stdin', t('accounts.login.opt.password-stdin'))
    .addHelpText('after', examples('keisan login', 'keisan login --server https://keisan.example.org:8470 alice', 'keisan login --server https://keisan1.example.org:8470,https://keisan2.example.org:8470 alice', "printf '%s' \"$PW\" | keisan login alice --password-stdin"))
    .action(async (user, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const name = user ?? userInfo().username;
      const password = await readPassword(options.passwordStdin, t('cli.password.prompt', { user: name, server: client.server }));
      const result = await client.request<{ ticket: string; user: User; ticketInfo: TicketInfo }>('POST', '/api/auth/login', { user: name, password });
      // HA: the ticket is for every server of the set (those named, and those the active one lists).
      const health = await client.request<{ ha?: { servers: string[] } }>('GET', '/api/health').catch(() => undefined);
      const servers = [...new Set([...client.servers, ...(health?.ha?.servers ?? [])])];
      saveTicket(client.server, {
        user: result.user.name,
        ticket: result.ticket,
        expiresAt: result.ticketInfo.expiresAt,
        renewUntil: result.ticketInfo.renewUntil,
        ...(servers.length > 1 ? { servers, active: client.answeredBy } : {}),
      });
      out.result({ server: client.server, user: result.user, ticket: result.ticketInfo }, () => showTicket(out, result.user.name, client.server, result.ticketInfo));
    });

  program
    .command('logout')
    .description(t('accounts.logout'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      if (client.hasTicket) {
        await client.request('POST', '/api/auth/logout').catch((error: unknown) => {
          // An expired or revoked ticket is as good as logged out.
          if (!(error instanceof KeisanError && (error.code === 'TICKET_EXPIRED' || error.code === 'NOT_AUTHENTICATED'))) throw error;
        });
      }
      forgetTicket(client.server);
      out.result({ server: client.server, loggedOut: true }, () => out.line(t('cli.logout.done', { server: client.server })));
    });

  program
    .command('whoami')
    .description(t('accounts.whoami'))
    .addHelpText('after', examples('keisan whoami', 'keisan whoami --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const me = await client.request<WhoAmI>('GET', '/api/auth/whoami');
      out.result({ server: client.server, ...me }, () => {
        out.fields([
          [t('field.user'), `${me.user.name}${me.user.fullName ? ` (${me.user.fullName})` : ''}`],
          [t('field.server'), client.server],
          [t('field.primary-subgroup'), `${me.user.primarySubgroup} (workgroup ${me.user.workgroup})`],
          [t('field.other-subgroups'), me.user.subgroups.join(', ')],
          [t('field.uid-gid'), `${me.user.uid} / ${me.user.gid}`],
          [t('field.roles'), rolesText(me.user.roles)],
          [t('field.ticket-expires'), formatTime(me.ticket.expiresAt)],
          [t('field.renewable-until'), formatTime(me.ticket.renewUntil)],
        ]);
      });
    });

  program
    .command('renew')
    .description(t('accounts.renew'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const ticket = await client.request<TicketInfo>('POST', '/api/auth/renew');
      updateTicketExpiry(client.server, ticket.expiresAt);
      out.result(ticket, () => out.line(t('cli.renew.done', { expires: formatTime(ticket.expiresAt), renewUntil: formatTime(ticket.renewUntil) })));
    });

  program
    .command('passwd')
    .description(t('accounts.passwd'))
    .option('--password-stdin', t('accounts.passwd.opt.password-stdin'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      let current: string;
      let next: string;
      if (options.passwordStdin) {
        [current = '', next = ''] = (await readStdin()).split(/\r?\n/);
      } else {
        current = await promptHidden(t('cli.password.current'));
        next = await promptHidden(t('cli.password.new'));
        if ((await promptHidden(t('cli.password.again'))) !== next) throw invalidInput(t('cli.password.differ'));
      }
      await client.request('POST', '/api/auth/password', { current, new: next });
      out.result({ ok: true }, () => out.line(t('cli.password.changed')));
    });

  // ------------------------------------------------------------------ admin
  const workgroup = admin.command('workgroup').alias('wg').description(t('accounts.workgroup'));
  workgroup
    .command('add')
    .description(t('accounts.workgroup.add'))
    .argument('<name>', t('accounts.workgroup.add.arg.name'))
    .option('-d, --description <text>', t('accounts.workgroup.add.opt.description'))
    .option('--gid <gid>', t('accounts.workgroup.add.opt.gid'), (v) => parseIntOption('gid', v))
    .option('--login-networks <cidrs>', t('accounts.workgroup.add.opt.login-networks'), loginNetworksOption)
    .addHelpText('after', examples('keisan admin workgroup add belle --description "Belle II experiment"'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const created = await clientOf(command).request<Workgroup>('POST', '/api/workgroups', { name, description: options.description, gid: options.gid, loginNetworks: options.loginNetworks });
      out.result(created, () => out.line(t('accounts.msg.created-workgroup-gid', { name: created.name, gid: created.gid })));
    });
  workgroup
    .command('list')
    .alias('ls')
    .description(t('accounts.workgroup.list'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Workgroup[]>('GET', '/api/workgroups');
      out.result(rows, () => out.table([t('col.workgroup'), t('col.gid'), t('col.subgroups'), t('col.admins'), t('col.description')], rows.map((w) => [w.name, w.gid, w.subgroups.length, w.admins.join(','), w.description])));
    });
  workgroup
    .command('show')
    .description(t('accounts.workgroup.show'))
    .argument('<name>')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const found = await clientOf(command).request<Workgroup>('GET', `/api/workgroups/${encodeURIComponent(name)}`);
      out.result(found, () => showWorkgroup(out, found));
    });
  workgroup
    .command('set')
    .description(t('accounts.workgroup.set'))
    .argument('<name>')
    .option('-d, --description <text>', t('accounts.workgroup.set.opt.description'))
    .option('--add-admin <users>', t('accounts.workgroup.set.opt.add-admin'), list)
    .option('--remove-admin <users>', t('accounts.workgroup.set.opt.remove-admin'), list)
    .option('--login-networks <cidrs>', t('accounts.workgroup.set.opt.login-networks'), loginNetworksOption)
    .addHelpText(
      'after',
      examples('keisan admin workgroup set belle --add-admin alice', 'keisan admin workgroup set belle -d "Belle II"', 'keisan admin workgroup set lab --login-networks 10.1.0.0/16,2001:db8::/32', 'keisan admin workgroup set lab --login-networks anywhere'),
    )
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const path = `/api/workgroups/${encodeURIComponent(name)}`;
      if (options.description === undefined && !options.addAdmin && !options.removeAdmin && options.loginNetworks === undefined) {
        throw invalidInput(t('accounts.input.nothing-to-change-give-description'));
      }
      let result: Workgroup | undefined;
      if (options.description !== undefined || options.loginNetworks !== undefined) {
        result = await client.request<Workgroup>('PATCH', path, { description: options.description, loginNetworks: options.loginNetworks });
      }
      for (const user of options.addAdmin ?? []) result = await client.request<Workgroup>('PUT', `${path}/admins/${encodeURIComponent(user)}`);
      for (const user of options.removeAdmin ?? []) result = await client.request<Workgroup>('DELETE', `${path}/admins/${encodeURIComponent(user)}`);
      const final = result ?? (await client.request<Workgroup>('GET', path));
      out.result(final, () => showWorkgroup(out, final));
    });
  workgroup
    .command('rm')
    .description(t('accounts.workgroup.rm'))
    .argument('<name>')
    .option('-y, --yes', t('accounts.workgroup.rm.opt.yes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmByName(t('cli.kind.workgroup'), name, options.yes);
      await clientOf(command).request('DELETE', `/api/workgroups/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(t('accounts.msg.removed-workgroup', { name })));
    });

  const subgroup = admin.command('subgroup').alias('sg').description(t('accounts.subgroup'));
  subgroup
    .command('add')
    .description(t('accounts.subgroup.add'))
    .argument('<name>', t('accounts.subgroup.add.arg.name'))
    .requiredOption('-w, --workgroup <workgroup>', t('accounts.subgroup.add.opt.workgroup'))
    .option('-d, --description <text>', t('accounts.subgroup.add.opt.description'))
    .option('--gid <gid>', t('accounts.subgroup.add.opt.gid'), (v) => parseIntOption('gid', v))
    .addHelpText('after', examples('keisan admin subgroup add b-ana --workgroup belle -d "Belle analysis"'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const created = await clientOf(command).request<Subgroup>('POST', '/api/subgroups', { name, workgroup: options.workgroup, description: options.description, gid: options.gid });
      out.result(created, () => out.line(t('accounts.msg.created-subgroup-in-workgroup-gid', { name: created.name, workgroup: created.workgroup, gid: created.gid })));
    });
  subgroup
    .command('list')
    .alias('ls')
    .description(t('accounts.subgroup.list'))
    .option('-w, --workgroup <workgroup>', t('accounts.subgroup.list.opt.workgroup'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Subgroup[]>('GET', '/api/subgroups', undefined, { workgroup: options.workgroup });
      out.result(rows, () =>
        out.table([t('col.subgroup'), t('col.workgroup'), t('col.gid'), t('col.admins'), t('col.description')], rows.map((s) => [s.name, s.workgroup, s.gid, s.admins.join(','), s.description])),
      );
    });
  subgroup
    .command('show')
    .description(t('accounts.subgroup.show'))
    .argument('<name>')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const found = await clientOf(command).request<Subgroup>('GET', `/api/subgroups/${encodeURIComponent(name)}`);
      out.result(found, () => showSubgroup(out, found));
    });
  subgroup
    .command('set')
    .description(t('accounts.subgroup.set'))
    .argument('<name>')
    .option('-d, --description <text>', t('accounts.subgroup.set.opt.description'))
    .option('--add-member <users>', t('accounts.subgroup.set.opt.add-member'), list)
    .option('--remove-member <users>', t('accounts.subgroup.set.opt.remove-member'), list)
    .option('--add-admin <users>', t('accounts.subgroup.set.opt.add-admin'), list)
    .option('--remove-admin <users>', t('accounts.subgroup.set.opt.remove-admin'), list)
    .addHelpText('after', examples('keisan admin subgroup set b-ana --add-member bob,carol', 'keisan admin subgroup set b-ana --add-admin alice'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const path = `/api/subgroups/${encodeURIComponent(name)}`;
      const steps: [string, string, string[] | undefined][] = [
        ['PUT', 'members', options.addMember],
        ['DELETE', 'members', options.removeMember],
        ['PUT', 'admins', options.addAdmin],
        ['DELETE', 'admins', options.removeAdmin],
      ];
      if (options.description === undefined && steps.every(([, , users]) => !users?.length)) {
        throw invalidInput(t('accounts.input.nothing-to-change-give-description2'));
      }
      if (options.description !== undefined) await client.request('PATCH', path, { description: options.description });
      for (const [method, what, users] of steps) {
        for (const user of users ?? []) await client.request(method, `${path}/${what}/${encodeURIComponent(user)}`);
      }
      const final = await client.request<Subgroup>('GET', path);
      out.result(final, () => showSubgroup(out, final));
    });
  subgroup
    .command('rm')
    .description(t('accounts.subgroup.rm'))
    .argument('<name>')
    .option('-y, --yes', t('accounts.subgroup.rm.opt.yes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmByName(t('cli.kind.subgroup'), name, options.yes);
      await clientOf(command).request('DELETE', `/api/subgroups/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(t('accounts.msg.removed-subgroup', { name })));
    });

  const user = admin.command('user').description(t('accounts.user'));
  user
    .command('add')
    .description(t('accounts.user.add'))
    .argument('<name>', t('accounts.user.add.arg.name'))
    .requiredOption('-s, --subgroup <subgroup>', t('accounts.user.add.opt.subgroup'))
    .option('-n, --full-name <name>', t('accounts.user.add.opt.full-name'))
    .option('-e, --email <address>', t('accounts.user.add.opt.email'))
    .option('--also <subgroups>', t('accounts.user.add.opt.also'), list)
    .option('--uid <uid>', t('accounts.user.add.opt.uid'), (v) => parseIntOption('uid', v))
    .option('--home <dir>', t('accounts.user.add.opt.home'))
    .option('--shell <path>', t('accounts.user.add.opt.shell'))
    .option('--operator', t('accounts.user.add.opt.operator'))
    .option('--password-stdin', t('accounts.user.add.opt.password-stdin'))
    .addHelpText('after', examples('keisan admin user add alice --subgroup b-ana --full-name "Alice Smith" --email alice@example.org', "printf '%s' \"$PW\" | keisan admin user add bob -s b-ana --password-stdin"))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const password = options.passwordStdin ? await readPassword(true, '') : undefined;
      const created = await clientOf(command).request<{ user: User; initialPassword?: string }>('POST', '/api/users', {
        name,
        primarySubgroup: options.subgroup,
        fullName: options.fullName,
        email: options.email,
        uid: options.uid,
        home: options.home,
        shell: options.shell,
        subgroups: options.also,
        operator: options.operator,
        password,
      });
      out.result(created, () => {
        out.line(t('accounts.msg.created-user-uid-in-subgroup', { name: created.user.name, uid: created.user.uid, primarySubgroup: created.user.primarySubgroup }));
        if (created.initialPassword) {
          out.line(t('accounts.msg.initial-password', { initialPassword: pc.bold(created.initialPassword) }));
          out.line(pc.dim(t('accounts.msg.it-is-shown-only-now')));
        }
      });
    });
  user
    .command('list')
    .alias('ls')
    .description(t('accounts.user.list'))
    .option('-w, --workgroup <workgroup>', t('accounts.user.list.opt.workgroup'))
    .option('-s, --subgroup <subgroup>', t('accounts.user.list.opt.subgroup'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<User[]>('GET', '/api/users', undefined, { workgroup: options.workgroup, subgroup: options.subgroup });
      out.result(rows, () =>
        out.table(
          [t('col.user'), t('col.uid'), t('col.subgroup'), t('col.workgroup'), t('col.roles'), t('col.state'), t('col.full-name')],
          rows.map((u) => [u.name, u.uid, u.primarySubgroup, u.workgroup, rolesText(u.roles), u.locked ? 'locked' : 'active', u.fullName]),
        ),
      );
    });
  user
    .command('show')
    .description(t('accounts.user.show'))
    .argument('<name>')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const found = await clientOf(command).request<User>('GET', `/api/users/${encodeURIComponent(name)}`);
      out.result(found, () => showUser(out, found));
    });
  user
    .command('set')
    .description(t('accounts.user.set'))
    .argument('<name>')
    .option('-n, --full-name <name>', t('accounts.user.set.opt.full-name'))
    .option('-e, --email <address>', t('accounts.user.set.opt.email'))
    .option('-s, --subgroup <subgroup>', t('accounts.user.set.opt.subgroup'))
    .option('--home <dir>', t('accounts.user.set.opt.home'))
    .option('--shell <path>', t('accounts.user.set.opt.shell'))
    .option('--lock', t('accounts.user.set.opt.lock'))
    .option('--unlock', t('accounts.user.set.opt.unlock'))
    .option('--reason <text>', t('accounts.user.set.opt.reason'))
    .addOption(new Option('--operator', t('accounts.user.set.opt.operator')).conflicts('noOperator'))
    .addOption(new Option('--no-operator', t('accounts.user.set.opt.no-operator')))
    .option('--password-stdin', t('accounts.user.set.opt.password-stdin'))
    .option('--reset-password', t('accounts.user.set.opt.reset-password'))
    .addHelpText('after', examples('keisan admin user set bob --lock --reason "left the lab"', 'keisan admin user set bob --unlock', 'keisan admin user set bob --subgroup b-sim', 'keisan admin user set bob --reset-password'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      if (options.lock && options.unlock) throw invalidInput(t('accounts.input.give-lock-or-unlock-not'));
      if (options.passwordStdin && options.resetPassword) throw invalidInput(t('accounts.input.give-password-stdin-or-reset'));
      const generated = options.resetPassword ? randomPassword() : undefined;
      const password = options.passwordStdin ? await readPassword(true, '') : generated;
      const operatorFlag = command.getOptionValueSource('operator') === 'cli' ? (options.operator as boolean) : undefined;
      const body = {
        fullName: options.fullName,
        email: options.email === undefined ? undefined : options.email === '' ? null : options.email,
        primarySubgroup: options.subgroup,
        home: options.home,
        shell: options.shell,
        locked: options.lock ? true : options.unlock ? false : undefined,
        lockReason: options.reason,
        operator: operatorFlag,
        password,
      };
      if (Object.values(body).every((v) => v === undefined)) throw invalidInput(t('accounts.input.nothing-to-change-see-keisan'));
      const updated = await clientOf(command).request<User>('PATCH', `/api/users/${encodeURIComponent(name)}`, body);
      out.result(generated ? { user: updated, password: generated } : updated, () => {
        showUser(out, updated);
        if (generated) out.line(t('accounts.msg.nnew-password-shown-only-now', { generated: pc.bold(generated) }));
      });
    });
  user
    .command('rm')
    .description(t('accounts.user.rm'))
    .argument('<name>')
    .option('-y, --yes', t('accounts.user.rm.opt.yes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmByName(t('cli.kind.user'), name, options.yes);
      await clientOf(command).request('DELETE', `/api/users/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(t('accounts.msg.removed-user', { name })));
    });

  admin
    .command('audit')
    .description(t('accounts.audit'))
    .option('--actor <user>', t('accounts.audit.opt.actor'))
    .option('--target <name>', t('accounts.audit.opt.target'))
    .option('--action <action>', t('accounts.audit.opt.action'))
    .addOption(new Option('--outcome <outcome>', t('accounts.audit.opt.outcome')).choices(['ok', 'denied', 'failed'] as const))
    .option('--since <when>', t('accounts.audit.opt.since'))
    .option('--until <when>', t('accounts.audit.opt.until'))
    .option('--limit <n>', t('accounts.audit.opt.limit'), (v) => parseIntOption('limit', v), 100)
    .addHelpText('after', examples('keisan admin audit --since 24h', 'keisan admin audit --actor alice --action user.', 'keisan admin audit --outcome denied --json'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<AuditEntry[]>('GET', '/api/audit', undefined, {
        actor: options.actor,
        target: options.target,
        action: options.action,
        outcome: options.outcome,
        since: options.since,
        until: options.until,
        limit: options.limit,
      });
      out.result(rows, () =>
        out.table(
          [t('col.time'), t('col.actor'), t('col.action'), t('col.target'), t('col.outcome'), t('col.from'), t('col.detail')],
          rows.map((e) => [
            formatTime(e.at),
            e.actor,
            e.action,
            `${e.targetType} ${e.target}`,
            e.outcome === 'ok' ? 'ok' : pc.yellow(e.outcome),
            e.address,
            Object.keys(e.detail).length ? JSON.stringify(e.detail).slice(0, 60) : '',
          ]),
          t('accounts.empty.entries-match'),
        ),
      );
    });

  // ------------------------------------------------------------------ declarative
  program
    .command('apply')
    .description(t('accounts.apply'))
    .argument('<file>', t('accounts.apply.arg.file'))
    .option('--dry-run', t('accounts.apply.opt.dry-run'))
    .addHelpText('after', examples('keisan apply keisan.yaml --dry-run', 'keisan apply keisan.yaml'))
    .action(async (file, options, command) => {
      const out = outputOf(command);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw invalidInput(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      const document = parseYaml(text, file);
      if (document === null || typeof document !== 'object' || Array.isArray(document)) throw invalidInput(t('accounts.input.a-facility-file-is-a', { file }));
      const result = await clientOf(command).request<ApplyResult>('POST', '/api/facility/apply', { document, dryRun: options.dryRun === true });
      out.result(result, () => {
        if (result.changes.length === 0) out.line(t('accounts.msg.nothing-to-change-the-facility'));
        else {
          out.line(t(result.dryRun ? 'accounts.msg.would-make-changes' : 'accounts.msg.made-changes', { n: result.changes.length }));
          for (const change of result.changes) out.line(`  ${change.summary}`);
        }
        const kept = [
          ...result.unmentioned.workgroups.map((n) => `${t('cli.kind.workgroup')} ${n}`),
          ...result.unmentioned.subgroups.map((n) => `${t('cli.kind.subgroup')} ${n}`),
          ...result.unmentioned.users.map((n) => `${t('cli.kind.user')} ${n}`),
        ];
        if (kept.length) out.line(pc.dim(t('accounts.msg.kept-unmentioned', { names: kept.join(', ') })));
        if (result.ignoredSections.length) out.line(pc.dim(t('accounts.msg.not-applied-sections', { sections: result.ignoredSections.join(', ') })));
        if (result.dryRun && result.changes.length) out.line(pc.dim(t('accounts.msg.dry-run-nothing-was-changed')));
      });
    });

  program
    .command('export')
    .description(t('accounts.export'))
    .option('-o, --output <file>', t('accounts.export.opt.output'))
    .option('--with-password-hashes', t('accounts.export.opt.with-password-hashes'))
    .action(async (options, command) => {
      const out = outputOf(command);
      const document = await clientOf(command).request<FacilityExport>('GET', '/api/facility/export', undefined, {
        passwordHashes: options.withPasswordHashes ? 'true' : undefined,
      });
      const text = out.json ? `${JSON.stringify(document, null, 2)}\n` : `# keisan export, ${new Date().toISOString()}\n${stringify(document)}`;
      if (options.output) {
        writeFileSync(options.output, text, { mode: options.withPasswordHashes ? 0o600 : 0o644 });
        if (!out.json) process.stderr.write(`Wrote ${document.workgroups.length} workgroup(s) and ${document.users.length} user(s) to ${options.output}.\n`);
      } else {
        process.stdout.write(text);
      }
    });
}

function parseIntOption(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw invalidInput(t('accounts.input.must-be-a-whole-number', { name, value }));
  return Number(value);
}
