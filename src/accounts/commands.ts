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

const rolesText = (roles: RoleGrant[]) =>
  roles
    .map((r) => (r.role === 'operator' ? 'operator' : r.role === 'workgroup-admin' ? `admin of workgroup ${r.workgroup}` : `admin of subgroup ${r.subgroup}`))
    .join(', ') || 'user';

const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
/** `--login-networks 10.1.0.0/16,2001:db8::/32`; `anywhere` (or an empty value) = no restriction. The server checks each network. */
const loginNetworksOption = (value: string) => (value.trim() === '' || value.trim().toLowerCase() === 'anywhere' ? [] : list(value));

async function readPassword(fromStdin: boolean | undefined, question: string): Promise<string> {
  const password = fromStdin ? await readStdin() : await promptHidden(question);
  if (!password) throw invalidInput('the password is empty');
  return password;
}

/** Destructive commands ask for the name to be typed, or need --yes when there is no terminal. */
async function confirmByName(kind: string, name: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw invalidInput(`removing ${kind} '${name}' needs --yes when not run from a terminal`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Remove ${kind} '${name}'? Type its name to confirm: `);
    if (answer.trim() !== name) throw new KeisanError('INVALID_INPUT', 'not confirmed: nothing was removed');
  } finally {
    rl.close();
  }
}

function showTicket(out: Output, user: string, server: string, ticket: TicketInfo): void {
  out.line(`Logged in to ${server} as ${pc.bold(user)}.`);
  out.line(`Ticket valid until ${formatTime(ticket.expiresAt)}; \`keisan renew\` extends it until ${formatTime(ticket.renewUntil)}.`);
}

function showUser(out: Output, user: User): void {
  out.fields([
    ['name', user.name],
    ['full name', user.fullName],
    ['e-mail', user.email],
    ['uid / gid', `${user.uid} / ${user.gid}`],
    ['primary subgroup', `${user.primarySubgroup} (workgroup ${user.workgroup})`],
    ['other subgroups', user.subgroups.join(', ')],
    ['roles', rolesText(user.roles)],
    ['home', user.home],
    ['shell', user.shell],
    ['locked', user.locked ? `yes${user.lockReason ? ` (${user.lockReason})` : ''}` : 'no'],
    ['password set', user.hasPassword ? 'yes' : 'no'],
    ['created', formatTime(user.createdAt)],
  ]);
}

function showWorkgroup(out: Output, workgroup: Workgroup): void {
  out.fields([
    ['workgroup', workgroup.name],
    ['description', workgroup.description],
    ['gid', workgroup.gid],
    ['subgroups', workgroup.subgroups.join(', ')],
    ['admins', workgroup.admins.join(', ')],
    ['login networks', workgroup.loginNetworks.length > 0 ? workgroup.loginNetworks.join(', ') : 'anywhere'],
    ['created', formatTime(workgroup.createdAt)],
  ]);
}

function showSubgroup(out: Output, subgroup: Subgroup): void {
  out.fields([
    ['subgroup', subgroup.name],
    ['workgroup', subgroup.workgroup],
    ['description', subgroup.description],
    ['gid', subgroup.gid],
    ['admins', subgroup.admins.join(', ')],
    ['members', subgroup.primaryMembers.join(', ')],
    ['also joined', subgroup.extraMembers.join(', ')],
    ['created', formatTime(subgroup.createdAt)],
  ]);
}

export function registerAccountCommands(program: Command, admin: Command): void {
  // ------------------------------------------------------------------ tickets
  program
    .command('login')
    .description('log in and keep a ticket (valid 10 h, renewable for 4 weeks) in ~/.keisan')
    .argument('[user]', 'your user name (default: your Unix user name)')
    .option('--password-stdin', 'read the password from standard input instead of asking')
    .addHelpText('after', examples('keisan login', 'keisan login --server https://keisan.example.org:8470 alice', 'keisan login --server https://keisan1.example.org:8470,https://keisan2.example.org:8470 alice', "printf '%s' \"$PW\" | keisan login alice --password-stdin"))
    .action(async (user, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const name = user ?? userInfo().username;
      const password = await readPassword(options.passwordStdin, `Password for ${name} at ${client.server}: `);
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
    .description('revoke your ticket and forget it')
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
      out.result({ server: client.server, loggedOut: true }, () => out.line(`Logged out of ${client.server}.`));
    });

  program
    .command('whoami')
    .description('who you are logged in as, your groups and roles, and when your ticket expires')
    .addHelpText('after', examples('keisan whoami', 'keisan whoami --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const me = await client.request<WhoAmI>('GET', '/api/auth/whoami');
      out.result({ server: client.server, ...me }, () => {
        out.fields([
          ['user', `${me.user.name}${me.user.fullName ? ` (${me.user.fullName})` : ''}`],
          ['server', client.server],
          ['primary subgroup', `${me.user.primarySubgroup} (workgroup ${me.user.workgroup})`],
          ['other subgroups', me.user.subgroups.join(', ')],
          ['uid / gid', `${me.user.uid} / ${me.user.gid}`],
          ['roles', rolesText(me.user.roles)],
          ['ticket expires', formatTime(me.ticket.expiresAt)],
          ['renewable until', formatTime(me.ticket.renewUntil)],
        ]);
      });
    });

  program
    .command('renew')
    .description('extend your ticket by another lifetime, up to 4 weeks after login')
    .action(async (_options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const ticket = await client.request<TicketInfo>('POST', '/api/auth/renew');
      updateTicketExpiry(client.server, ticket.expiresAt);
      out.result(ticket, () => out.line(`Ticket renewed: valid until ${formatTime(ticket.expiresAt)} (renewable until ${formatTime(ticket.renewUntil)}).`));
    });

  program
    .command('passwd')
    .description('change your own password')
    .option('--password-stdin', 'read the current and the new password from standard input, one per line')
    .action(async (options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      let current: string;
      let next: string;
      if (options.passwordStdin) {
        [current = '', next = ''] = (await readStdin()).split(/\r?\n/);
      } else {
        current = await promptHidden('Current password: ');
        next = await promptHidden('New password: ');
        if ((await promptHidden('New password again: ')) !== next) throw invalidInput('the two new passwords differ: nothing was changed');
      }
      await client.request('POST', '/api/auth/password', { current, new: next });
      out.result({ ok: true }, () => out.line('Password changed.'));
    });

  // ------------------------------------------------------------------ admin
  const workgroup = admin.command('workgroup').alias('wg').description('workgroups (operators create them; their admins manage them)');
  workgroup
    .command('add')
    .description('create a workgroup')
    .argument('<name>', 'Unix group name of the workgroup')
    .option('-d, --description <text>', 'what the workgroup is')
    .option('--gid <gid>', 'Unix gid (default: the next free one)', (v) => parseIntOption('gid', v))
    .option('--login-networks <cidrs>', "networks its users may log in from, comma-separated CIDR (default: anywhere)", loginNetworksOption)
    .addHelpText('after', examples('keisan admin workgroup add belle --description "Belle II experiment"'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const created = await clientOf(command).request<Workgroup>('POST', '/api/workgroups', { name, description: options.description, gid: options.gid, loginNetworks: options.loginNetworks });
      out.result(created, () => out.line(`Created workgroup ${created.name} (gid ${created.gid}).`));
    });
  workgroup
    .command('list')
    .alias('ls')
    .description('list workgroups')
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Workgroup[]>('GET', '/api/workgroups');
      out.result(rows, () => out.table(['WORKGROUP', 'GID', 'SUBGROUPS', 'ADMINS', 'DESCRIPTION'], rows.map((w) => [w.name, w.gid, w.subgroups.length, w.admins.join(','), w.description])));
    });
  workgroup
    .command('show')
    .description('show a workgroup')
    .argument('<name>')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const found = await clientOf(command).request<Workgroup>('GET', `/api/workgroups/${encodeURIComponent(name)}`);
      out.result(found, () => showWorkgroup(out, found));
    });
  workgroup
    .command('set')
    .description("change a workgroup's description or admins")
    .argument('<name>')
    .option('-d, --description <text>', 'new description')
    .option('--add-admin <users>', 'appoint workgroup admins (comma-separated; operators only)', list)
    .option('--remove-admin <users>', 'remove workgroup admins (comma-separated; operators only)', list)
    .option('--login-networks <cidrs>', "the networks its users may log in from, comma-separated CIDR, replacing the old list; 'anywhere' lifts the restriction (operators only)", loginNetworksOption)
    .addHelpText(
      'after',
      examples('keisan admin workgroup set belle --add-admin alice', 'keisan admin workgroup set belle -d "Belle II"', 'keisan admin workgroup set lab --login-networks 10.1.0.0/16,2001:db8::/32', 'keisan admin workgroup set lab --login-networks anywhere'),
    )
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const path = `/api/workgroups/${encodeURIComponent(name)}`;
      if (options.description === undefined && !options.addAdmin && !options.removeAdmin && options.loginNetworks === undefined) {
        throw invalidInput('nothing to change: give --description, --add-admin, --remove-admin or --login-networks');
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
    .description('remove an empty workgroup')
    .argument('<name>')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmByName('workgroup', name, options.yes);
      await clientOf(command).request('DELETE', `/api/workgroups/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(`Removed workgroup ${name}.`));
    });

  const subgroup = admin.command('subgroup').alias('sg').description('subgroups of a workgroup (workgroup admins manage them)');
  subgroup
    .command('add')
    .description('create a subgroup in a workgroup')
    .argument('<name>', 'Unix group name of the subgroup')
    .requiredOption('-w, --workgroup <workgroup>', 'the workgroup it belongs to')
    .option('-d, --description <text>', 'what the subgroup is')
    .option('--gid <gid>', 'Unix gid (default: the next free one)', (v) => parseIntOption('gid', v))
    .addHelpText('after', examples('keisan admin subgroup add b-ana --workgroup belle -d "Belle analysis"'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const created = await clientOf(command).request<Subgroup>('POST', '/api/subgroups', { name, workgroup: options.workgroup, description: options.description, gid: options.gid });
      out.result(created, () => out.line(`Created subgroup ${created.name} in workgroup ${created.workgroup} (gid ${created.gid}).`));
    });
  subgroup
    .command('list')
    .alias('ls')
    .description('list subgroups')
    .option('-w, --workgroup <workgroup>', 'only those of this workgroup')
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Subgroup[]>('GET', '/api/subgroups', undefined, { workgroup: options.workgroup });
      out.result(rows, () =>
        out.table(['SUBGROUP', 'WORKGROUP', 'GID', 'ADMINS', 'DESCRIPTION'], rows.map((s) => [s.name, s.workgroup, s.gid, s.admins.join(','), s.description])),
      );
    });
  subgroup
    .command('show')
    .description('show a subgroup (members are shown to its admins)')
    .argument('<name>')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const found = await clientOf(command).request<Subgroup>('GET', `/api/subgroups/${encodeURIComponent(name)}`);
      out.result(found, () => showSubgroup(out, found));
    });
  subgroup
    .command('set')
    .description("change a subgroup's description, admins or extra members")
    .argument('<name>')
    .option('-d, --description <text>', 'new description')
    .option('--add-member <users>', 'let users join this subgroup besides their primary one (comma-separated)', list)
    .option('--remove-member <users>', 'remove such extra members (comma-separated)', list)
    .option('--add-admin <users>', 'appoint subgroup admins (comma-separated)', list)
    .option('--remove-admin <users>', 'remove subgroup admins (comma-separated)', list)
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
        throw invalidInput('nothing to change: give --description, --add-member, --remove-member, --add-admin or --remove-admin');
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
    .description('remove a subgroup that is nobody\'s primary subgroup')
    .argument('<name>')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmByName('subgroup', name, options.yes);
      await clientOf(command).request('DELETE', `/api/subgroups/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(`Removed subgroup ${name}.`));
    });

  const user = admin.command('user').description('user accounts');
  user
    .command('add')
    .description('create a user; without --password-stdin a password is generated and shown once')
    .argument('<name>', 'Unix user name')
    .requiredOption('-s, --subgroup <subgroup>', 'primary subgroup (sets the primary gid)')
    .option('-n, --full-name <name>', 'full name')
    .option('-e, --email <address>', 'e-mail address (for job and quota mail)')
    .option('--also <subgroups>', 'extra subgroups to join (comma-separated)', list)
    .option('--uid <uid>', 'Unix uid (operators; default: the next free one)', (v) => parseIntOption('uid', v))
    .option('--home <dir>', 'home directory (default: homeBase/NAME)')
    .option('--shell <path>', 'login shell')
    .option('--operator', 'make the user an operator (operators only)')
    .option('--password-stdin', 'read the password from standard input')
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
        out.line(`Created user ${created.user.name} (uid ${created.user.uid}) in subgroup ${created.user.primarySubgroup}.`);
        if (created.initialPassword) {
          out.line(`Initial password: ${pc.bold(created.initialPassword)}`);
          out.line(pc.dim('It is shown only now; give it to the user, who changes it with `keisan passwd`.'));
        }
      });
    });
  user
    .command('list')
    .alias('ls')
    .description('list the users you may see')
    .option('-w, --workgroup <workgroup>', 'only users whose primary subgroup is in this workgroup')
    .option('-s, --subgroup <subgroup>', 'only members of this subgroup')
    .action(async (options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<User[]>('GET', '/api/users', undefined, { workgroup: options.workgroup, subgroup: options.subgroup });
      out.result(rows, () =>
        out.table(
          ['USER', 'UID', 'SUBGROUP', 'WORKGROUP', 'ROLES', 'STATE', 'FULL NAME'],
          rows.map((u) => [u.name, u.uid, u.primarySubgroup, u.workgroup, rolesText(u.roles), u.locked ? 'locked' : 'active', u.fullName]),
        ),
      );
    });
  user
    .command('show')
    .description('show a user')
    .argument('<name>')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const found = await clientOf(command).request<User>('GET', `/api/users/${encodeURIComponent(name)}`);
      out.result(found, () => showUser(out, found));
    });
  user
    .command('set')
    .description('change a user: profile, primary subgroup, lock, password, login, operator role')
    .argument('<name>')
    .option('-n, --full-name <name>', 'full name')
    .option('-e, --email <address>', 'e-mail address ("" removes it)')
    .option('-s, --subgroup <subgroup>', 'move to another primary subgroup')
    .option('--home <dir>', 'home directory')
    .option('--shell <path>', 'login shell')
    .option('--lock', 'lock the account (ends its sessions)')
    .option('--unlock', 'unlock the account')
    .option('--reason <text>', 'why the account is locked')
    .addOption(new Option('--operator', 'grant the operator role (operators only)').conflicts('noOperator'))
    .addOption(new Option('--no-operator', 'take the operator role away (operators only)'))
    .option('--password-stdin', 'set the password read from standard input')
    .option('--reset-password', 'set a new generated password and show it once')
    .addHelpText('after', examples('keisan admin user set bob --lock --reason "left the lab"', 'keisan admin user set bob --unlock', 'keisan admin user set bob --subgroup b-sim', 'keisan admin user set bob --reset-password'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      if (options.lock && options.unlock) throw invalidInput('give --lock or --unlock, not both');
      if (options.passwordStdin && options.resetPassword) throw invalidInput('give --password-stdin or --reset-password, not both');
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
      if (Object.values(body).every((v) => v === undefined)) throw invalidInput('nothing to change: see `keisan admin user set --help`');
      const updated = await clientOf(command).request<User>('PATCH', `/api/users/${encodeURIComponent(name)}`, body);
      out.result(generated ? { user: updated, password: generated } : updated, () => {
        showUser(out, updated);
        if (generated) out.line(`\nNew password: ${pc.bold(generated)} (shown only now)`);
      });
    });
  user
    .command('rm')
    .description('remove a user')
    .argument('<name>')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmByName('user', name, options.yes);
      await clientOf(command).request('DELETE', `/api/users/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(`Removed user ${name}.`));
    });

  admin
    .command('audit')
    .description('read the audit log, newest first (operators)')
    .option('--actor <user>', 'only actions by this user')
    .option('--target <name>', 'only actions on this user, group or object')
    .option('--action <action>', 'only this action (e.g. user.create), or a prefix ending in "." (user.)')
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(['ok', 'denied', 'failed'] as const))
    .option('--since <when>', 'from this time (2026-11-01T09:00Z) or this long ago (24h, 7d)')
    .option('--until <when>', 'up to this time or this long ago')
    .option('--limit <n>', 'at most this many entries', (v) => parseIntOption('limit', v), 100)
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
          ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'FROM', 'DETAIL'],
          rows.map((e) => [
            formatTime(e.at),
            e.actor,
            e.action,
            `${e.targetType} ${e.target}`,
            e.outcome === 'ok' ? 'ok' : pc.yellow(e.outcome),
            e.address,
            Object.keys(e.detail).length ? JSON.stringify(e.detail).slice(0, 60) : '',
          ]),
          '(no entries match)',
        ),
      );
    });

  // ------------------------------------------------------------------ declarative
  program
    .command('apply')
    .description('make workgroups, subgroups and users match a facility file (additive, idempotent, all or nothing)')
    .argument('<file>', 'a keisan.yaml (its workgroups: and users: sections are applied)')
    .option('--dry-run', 'show what would change, change nothing')
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
      if (document === null || typeof document !== 'object' || Array.isArray(document)) throw invalidInput(`${file}: a facility file is a YAML mapping (workgroups:, users:)`);
      const result = await clientOf(command).request<ApplyResult>('POST', '/api/facility/apply', { document, dryRun: options.dryRun === true });
      out.result(result, () => {
        if (result.changes.length === 0) out.line('Nothing to change: the facility already matches the file.');
        else {
          out.line(result.dryRun ? `Would make ${result.changes.length} change(s):` : `Made ${result.changes.length} change(s):`);
          for (const change of result.changes) out.line(`  ${change.summary}`);
        }
        const kept = [
          ...result.unmentioned.workgroups.map((n) => `workgroup ${n}`),
          ...result.unmentioned.subgroups.map((n) => `subgroup ${n}`),
          ...result.unmentioned.users.map((n) => `user ${n}`),
        ];
        if (kept.length) out.line(pc.dim(`Kept, though the file does not mention them: ${kept.join(', ')}`));
        if (result.ignoredSections.length) out.line(pc.dim(`Not applied (read by the server at start): ${result.ignoredSections.join(', ')}`));
        if (result.dryRun && result.changes.length) out.line(pc.dim('Dry run: nothing was changed. Run again without --dry-run to apply.'));
      });
    });

  program
    .command('export')
    .description('write the facility\'s workgroups, subgroups and users as a file `keisan apply` accepts (operators)')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .option('--with-password-hashes', 'include password hashes (to move users to another server; keep the file secret)')
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
  if (!/^\d+$/.test(value)) throw invalidInput(`--${name} must be a whole number, not '${value}'`);
  return Number(value);
}
