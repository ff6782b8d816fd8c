import { createInterface } from 'node:readline/promises';
import { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import type { Output } from '../../cli/output.ts';
import { conflict, invalidInput } from '../../lib/errors.ts';
import type { Group, GroupState, HealthState, Host, Service, TakeDownCheck } from './model.ts';

/** `a,b` and repeated options both add to the list. */
const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
/** `--mac eth0=52:54:00:12:34:56`, repeatable. */
const macPair = (value: string, previous: Record<string, string> = {}) => {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw invalidInput(`--mac ${value}: write INTERFACE=MAC, e.g. --mac eth0=52:54:00:12:34:56`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
};
const positive = (value: string) => {
  if (!/^\d+$/.test(value)) throw invalidInput(`--min ${value}: give a whole number of members, e.g. --min 1`);
  return Number(value);
};

const healthColour: Record<HealthState, (s: string) => string> = { healthy: pc.green, degraded: pc.yellow, down: pc.red, unknown: pc.dim };
const stateColour: Record<GroupState, (s: string) => string> = { OK: pc.green, 'AT-RISK': pc.yellow, BROKEN: pc.red };
const joined = (items: readonly string[]) => (items.length > 0 ? items.join(',') : '-');
const macsText = (macs: Record<string, string>) => joined(Object.entries(macs).map(([iface, mac]) => `${iface}=${mac}`));
const sourceText = (entry: { source: string; createdBy: string | null; createdAt: string | null }) =>
  entry.source === 'config' ? 'keisan.yaml' : `api (${entry.createdBy ?? '?'}, ${entry.createdAt ?? '?'})`;

function showHost(out: Output, host: Host): void {
  out.fields([
    ['host', host.name],
    ['roles', joined(host.roles)],
    ['addresses', joined(host.addresses)],
    ['MACs', macsText(host.macs)],
    ['services', joined(host.services)],
    ['groups', joined(host.groups)],
    ['health', `${healthColour[host.health.state](host.health.state)}: ${host.health.reason}`],
    ['notes', host.notes],
    ['source', sourceText(host)],
  ]);
}

function showService(out: Output, service: Service): void {
  out.fields([
    ['service', service.name],
    ['critical', service.critical ? 'yes' : 'no'],
    ['hosts', joined(service.hosts)],
    ['groups', joined(service.groups)],
    ['notes', service.notes],
    ['source', sourceText(service)],
  ]);
}

function showGroup(out: Output, group: Group): void {
  out.fields([
    ['group', group.name],
    ['state', `${stateColour[group.state](group.state)}: ${group.reason}`],
    ['healthy', `${group.healthy} of ${group.total} (minimum ${group.minHealthy})`],
    ['service', group.service],
    ['notes', group.notes],
    ['source', sourceText(group)],
  ]);
  out.line();
  out.table(['MEMBER', 'HEALTH', 'WHY'], group.memberHealth.map((m) => [m.host, healthColour[m.state](m.state), m.reason]));
}

async function confirmRemoval(kind: string, name: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw invalidInput(`removing ${kind} '${name}' needs --yes when not run from a terminal`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Remove ${kind} '${name}' from the inventory? Type its name to confirm: `);
    if (answer.trim() !== name) throw invalidInput('not confirmed: nothing was removed');
  } finally {
    rl.close();
  }
}

const defined = <T extends Record<string, unknown>>(body: T): Partial<T> => Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Partial<T>;

/** The `keisan ops` group: created here unless another room (maintenance, runbooks) made it first. */
export function opsCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'ops');
  if (existing) return existing as unknown as Command;
  const ops = new Command('ops').description('operations: the inventory of hosts, services and redundancy groups; the redundancy guard (operators)');
  program.addCommand(ops);
  return ops;
}

export function registerInventoryCommands(program: Command): void {
  const ops = opsCommand(program);

  // ------------------------------------------------------------------ hosts
  const hosts = ops.command('hosts').description('inventory hosts: roles, addresses, expected MACs, health');
  hosts
    .command('list', { isDefault: true })
    .alias('ls')
    .description('every host with its roles, addresses and health now')
    .addHelpText('after', examples('keisan ops hosts', 'keisan ops hosts --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Host[]>('GET', '/api/ops/hosts');
      out.result(rows, () =>
        out.table(
          ['HOST', 'ROLES', 'ADDRESSES', 'HEALTH', 'WHY', 'SOURCE'],
          rows.map((h) => [h.name, joined(h.roles), joined(h.addresses), healthColour[h.health.state](h.health.state), h.health.reason, h.source]),
          '(no hosts: define them in keisan.yaml inventory.hosts or add them with keisan ops hosts add)',
        ),
      );
    });
  hosts
    .command('show')
    .description('one host in full')
    .argument('<name>', 'the host')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const host = await clientOf(command).request<Host>('GET', `/api/ops/hosts/${encodeURIComponent(name)}`);
      out.result(host, () => showHost(out, host));
    });
  hosts
    .command('add')
    .description('add a host (audited)')
    .argument('<name>', 'host name, e.g. mgmt1 or mgmt1.hpc.example.org')
    .option('-r, --role <role>', 'a role: login, compute, storage, management, auth, server, … (repeatable or comma-separated)', list)
    .option('-a, --address <ip>', 'an IPv4 or IPv6 address (repeatable or comma-separated)', list)
    .option('-m, --mac <iface=mac>', 'an expected MAC address of an interface (repeatable)', macPair)
    .option('-n, --notes <text>', 'free text: rack, serial, contract…')
    .addHelpText('after', examples('keisan ops hosts add mgmt1 --role management --address 10.0.0.11 --mac eno1=52:54:00:0a:00:0b'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const host = await clientOf(command).request<Host>('POST', '/api/ops/hosts', defined({ name, roles: options.role, addresses: options.address, macs: options.mac, notes: options.notes }));
      out.result(host, () => out.line(`Added host ${host.name} (${joined(host.roles)}; ${joined(host.addresses)}).`));
    });
  hosts
    .command('set')
    .description('change a host; a list given replaces the old one whole (audited)')
    .argument('<name>', 'the host')
    .option('-r, --role <role>', 'the roles (repeatable or comma-separated)', list)
    .option('--no-roles', 'remove every role')
    .option('-a, --address <ip>', 'the addresses (repeatable or comma-separated)', list)
    .option('--no-addresses', 'remove every address')
    .option('-m, --mac <iface=mac>', 'the expected MACs (repeatable)', macPair)
    .option('--no-macs', 'remove every expected MAC')
    .option('-n, --notes <text>', 'new notes')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const body = defined({
        roles: options.roles === false ? [] : options.role,
        addresses: options.addresses === false ? [] : options.address,
        macs: options.macs === false ? {} : options.mac,
        notes: options.notes,
      });
      if (Object.keys(body).length === 0) throw invalidInput('nothing to change: give --role, --address, --mac, --notes or a --no-… option');
      const host = await clientOf(command).request<Host>('PATCH', `/api/ops/hosts/${encodeURIComponent(name)}`, body);
      out.result(host, () => showHost(out, host));
    });
  hosts
    .command('rm')
    .description('remove a host that no service or group names (audited)')
    .argument('<name>', 'the host')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmRemoval('host', name, options.yes);
      await clientOf(command).request('DELETE', `/api/ops/hosts/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(`Removed host ${name}.`));
    });

  // ------------------------------------------------------------------ services
  const services = ops.command('services').description('inventory services and the hosts that provide them');
  services
    .command('list', { isDefault: true })
    .alias('ls')
    .description('every service, critical or not, with its hosts')
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Service[]>('GET', '/api/ops/services');
      out.result(rows, () =>
        out.table(
          ['SERVICE', 'CRITICAL', 'HOSTS', 'GROUPS', 'SOURCE'],
          rows.map((s) => [s.name, s.critical ? 'yes' : 'no', joined(s.hosts), joined(s.groups), s.source]),
          '(no services: define them in keisan.yaml inventory.services or add them with keisan ops services add)',
        ),
      );
    });
  services
    .command('show')
    .description('one service in full')
    .argument('<name>', 'the service')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const service = await clientOf(command).request<Service>('GET', `/api/ops/services/${encodeURIComponent(name)}`);
      out.result(service, () => showService(out, service));
    });
  services
    .command('add')
    .description('add a service (audited)')
    .argument('<name>', 'service name: login, batch, storage-home, storage-archive, authentication, web, management, …')
    .option('-c, --critical', 'the facility is down without it')
    .option('-H, --host <host>', 'a host that provides it (repeatable or comma-separated)', list)
    .option('-n, --notes <text>', 'free text')
    .addHelpText('after', examples('keisan ops services add authentication --critical --host auth1,auth2,auth3'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const service = await clientOf(command).request<Service>('POST', '/api/ops/services', defined({ name, critical: options.critical === true, hosts: options.host, notes: options.notes }));
      out.result(service, () => out.line(`Added service ${service.name}${service.critical ? ' (critical)' : ''} on ${joined(service.hosts)}.`));
    });
  services
    .command('set')
    .description('change a service; --host replaces the list whole (audited)')
    .argument('<name>', 'the service')
    .option('-c, --critical', 'mark it critical')
    .option('--no-critical', 'mark it not critical')
    .option('-H, --host <host>', 'the hosts that provide it (repeatable or comma-separated)', list)
    .option('-n, --notes <text>', 'new notes')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const body = defined({ critical: options.critical, hosts: options.host, notes: options.notes });
      if (Object.keys(body).length === 0) throw invalidInput('nothing to change: give --critical, --no-critical, --host or --notes');
      const service = await clientOf(command).request<Service>('PATCH', `/api/ops/services/${encodeURIComponent(name)}`, body);
      out.result(service, () => showService(out, service));
    });
  services
    .command('rm')
    .description('remove a service no group backs (audited)')
    .argument('<name>', 'the service')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmRemoval('service', name, options.yes);
      await clientOf(command).request('DELETE', `/api/ops/services/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(`Removed service ${name}.`));
    });

  // ------------------------------------------------------------------ groups
  const groups = ops.command('groups').description('redundancy groups: healthy members against the minimum, OK / AT-RISK / BROKEN');
  groups
    .command('list', { isDefault: true })
    .alias('ls')
    .description('every group: healthy/total against its minimum, and its state')
    .addHelpText('after', examples('keisan ops groups', 'keisan ops groups show management'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Group[]>('GET', '/api/ops/groups');
      out.result(rows, () =>
        out.table(
          ['GROUP', 'HEALTHY', 'MIN', 'STATE', 'SERVICE', 'MEMBERS', 'WHY'],
          rows.map((g) => [g.name, `${g.healthy}/${g.total}`, g.minHealthy, stateColour[g.state](g.state), g.service, joined(g.members), g.reason]),
          '(no redundancy groups: define them in keisan.yaml inventory.groups or add them with keisan ops groups add)',
        ),
      );
    });
  groups
    .command('show')
    .description("one group and each member's health")
    .argument('<name>', 'the group')
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const group = await clientOf(command).request<Group>('GET', `/api/ops/groups/${encodeURIComponent(name)}`);
      out.result(group, () => showGroup(out, group));
    });
  groups
    .command('add')
    .description('add a redundancy group (audited)')
    .argument('<name>', 'group name')
    .requiredOption('-M, --member <host>', 'a member host (repeatable or comma-separated)', list)
    .requiredOption('--min <n>', 'how many members must stay healthy', positive)
    .option('-s, --service <service>', 'the service the group backs')
    .option('-n, --notes <text>', 'free text')
    .addHelpText('after', examples('keisan ops groups add management --member mgmt1,mgmt2 --min 1 --service management', 'keisan ops groups add authentication -M auth1,auth2,auth3 --min 2'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const group = await clientOf(command).request<Group>('POST', '/api/ops/groups', defined({ name, members: options.member, minHealthy: options.min, service: options.service, notes: options.notes }));
      out.result(group, () => out.line(`Added group ${group.name}: ${joined(group.members)}, at least ${group.minHealthy} healthy (now ${group.healthy}, ${group.state}).`));
    });
  groups
    .command('set')
    .description('change a group; --member replaces the list whole (audited)')
    .argument('<name>', 'the group')
    .option('-M, --member <host>', 'the members (repeatable or comma-separated)', list)
    .option('--min <n>', 'how many members must stay healthy', positive)
    .option('-s, --service <service>', 'the service the group backs')
    .option('--no-service', 'the group backs no particular service')
    .option('-n, --notes <text>', 'new notes')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const body = defined({ members: options.member, minHealthy: options.min, service: options.service === false ? null : options.service, notes: options.notes });
      if (Object.keys(body).length === 0) throw invalidInput('nothing to change: give --member, --min, --service, --no-service or --notes');
      const group = await clientOf(command).request<Group>('PATCH', `/api/ops/groups/${encodeURIComponent(name)}`, body);
      out.result(group, () => showGroup(out, group));
    });
  groups
    .command('rm')
    .description('remove a redundancy group (audited)')
    .argument('<name>', 'the group')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmRemoval('group', name, options.yes);
      await clientOf(command).request('DELETE', `/api/ops/groups/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(`Removed group ${name}.`));
    });

  // ------------------------------------------------------------------ the guard
  ops
    .command('check-takedown')
    .description('ask before acting: may these hosts go down together? Refused (exit 1) when a group would be left below its minimum or a partner is unhealthy')
    .argument('<hosts...>', 'the hosts you mean to take down')
    .addHelpText('after', examples('keisan ops check-takedown mgmt1', 'keisan ops check-takedown login1 login2 --json'))
    .action(async (targets, _options, command) => {
      const out = outputOf(command);
      const result = await clientOf(command).request<TakeDownCheck>('POST', '/api/ops/check-takedown', { hosts: targets });
      out.result(result, () => {
        for (const g of result.groups) out.line(`group ${g.group}: ${g.healthyNow} of ${g.total} healthy now, ${g.healthyAfter} after taking down ${g.targets.join(', ')} (minimum ${g.minHealthy})`);
        if (result.unknownTargets.length > 0) out.line(pc.dim(`not in the inventory (no group known to need them): ${result.unknownTargets.join(', ')}`));
        if (result.allowed) out.line(pc.green(`allowed: taking down ${result.targets.join(', ')} leaves every redundancy group at or above its minimum`));
        else for (const r of result.refusals) out.line(`${pc.red('refused:')} ${r.reason}`);
      });
      if (!result.allowed) throw conflict(`refused: taking down ${result.targets.join(', ')} is not safe (${result.refusals.length} reason${result.refusals.length === 1 ? '' : 's'} above)`);
    });
}
