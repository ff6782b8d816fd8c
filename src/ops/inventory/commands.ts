import { createInterface } from 'node:readline/promises';
import { Command } from '@commander-js/extra-typings';
import pc from 'picocolors';
import { clientOf, examples, outputOf } from '../../cli/context.ts';
import type { Output } from '../../cli/output.ts';
import { conflict, invalidInput } from '../../lib/errors.ts';
import type { Group, GroupState, HealthState, Host, Service, TakeDownCheck } from './model.ts';
import { t } from '../../lib/i18n/index.ts';

/** `a,b` and repeated options both add to the list. */
const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
/** `--mac eth0=52:54:00:12:34:56`, repeatable. */
const macPair = (value: string, previous: Record<string, string> = {}) => {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw invalidInput(t('inventory.input.mac-write-interface-mac-e', { value }));
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
};
const positive = (value: string) => {
  if (!/^\d+$/.test(value)) throw invalidInput(t('inventory.input.min-give-a-whole-number', { value }));
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
    [t('field.host'), host.name],
    [t('field.roles'), joined(host.roles)],
    [t('field.addresses'), joined(host.addresses)],
    [t('field.macs'), macsText(host.macs)],
    [t('field.services'), joined(host.services)],
    [t('field.groups'), joined(host.groups)],
    [t('field.health'), `${healthColour[host.health.state](host.health.state)}: ${host.health.reason}`],
    [t('field.notes'), host.notes],
    [t('field.source'), sourceText(host)],
  ]);
}

function showService(out: Output, service: Service): void {
  out.fields([
    [t('field.service'), service.name],
    [t('field.critical'), service.critical ? 'yes' : 'no'],
    [t('field.hosts'), joined(service.hosts)],
    [t('field.groups'), joined(service.groups)],
    [t('field.notes'), service.notes],
    [t('field.source'), sourceText(service)],
  ]);
}

function showGroup(out: Output, group: Group): void {
  out.fields([
    [t('field.group'), group.name],
    [t('field.state'), `${stateColour[group.state](group.state)}: ${group.reason}`],
    [t('field.healthy'), `${group.healthy} of ${group.total} (minimum ${group.minHealthy})`],
    [t('field.service'), group.service],
    [t('field.notes'), group.notes],
    [t('field.source'), sourceText(group)],
  ]);
  out.line();
  out.table([t('col.member'), t('col.health'), t('col.why')], group.memberHealth.map((m) => [m.host, healthColour[m.state](m.state), m.reason]));
}

async function confirmRemoval(kind: string, name: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw invalidInput(t('cli.confirm.needs-yes', { kind, name }));
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(t('cli.confirm.remove-from-inventory', { kind, name }));
    if (answer.trim() !== name) throw invalidInput(t('cli.confirm.not-confirmed'));
  } finally {
    rl.close();
  }
}

const defined = <T extends Record<string, unknown>>(body: T): Partial<T> => Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Partial<T>;

/** The `keisan ops` group: created here unless another room (maintenance, runbooks) made it first. */
export function opsCommand(program: Command): Command {
  const existing = program.commands.find((c) => c.name() === 'ops');
  if (existing) return existing as unknown as Command;
  const ops = new Command('ops').description(t('inventory.root'));
  program.addCommand(ops);
  return ops;
}

export function registerInventoryCommands(program: Command): void {
  const ops = opsCommand(program);

  // ------------------------------------------------------------------ hosts
  const hosts = ops.command('hosts').description(t('inventory.ops.hosts'));
  hosts
    .command('list', { isDefault: true })
    .alias('ls')
    .description(t('inventory.hosts.list'))
    .addHelpText('after', examples('keisan ops hosts', 'keisan ops hosts --json'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Host[]>('GET', '/api/ops/hosts');
      out.result(rows, () =>
        out.table(
          [t('col.host'), t('col.roles'), t('col.addresses'), t('col.health'), t('col.why'), t('col.source')],
          rows.map((h) => [h.name, joined(h.roles), joined(h.addresses), healthColour[h.health.state](h.health.state), h.health.reason, h.source]),
          t('inventory.empty.hosts'),
        ),
      );
    });
  hosts
    .command('show')
    .description(t('inventory.hosts.show'))
    .argument('<name>', t('inventory.hosts.show.arg.name'))
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const host = await clientOf(command).request<Host>('GET', `/api/ops/hosts/${encodeURIComponent(name)}`);
      out.result(host, () => showHost(out, host));
    });
  hosts
    .command('add')
    .description(t('inventory.hosts.add'))
    .argument('<name>', t('inventory.hosts.add.arg.name'))
    .option('-r, --role <role>', t('inventory.hosts.add.opt.role'), list)
    .option('-a, --address <ip>', t('inventory.hosts.add.opt.address'), list)
    .option('-m, --mac <iface=mac>', t('inventory.hosts.add.opt.mac'), macPair)
    .option('-n, --notes <text>', t('inventory.hosts.add.opt.notes'))
    .addHelpText('after', examples('keisan ops hosts add mgmt1 --role management --address 10.0.0.11 --mac eno1=52:54:00:0a:00:0b'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const host = await clientOf(command).request<Host>('POST', '/api/ops/hosts', defined({ name, roles: options.role, addresses: options.address, macs: options.mac, notes: options.notes }));
      out.result(host, () => out.line(t('inventory.msg.added-host', { name: host.name, roles: joined(host.roles), addresses: joined(host.addresses) })));
    });
  hosts
    .command('set')
    .description(t('inventory.hosts.set'))
    .argument('<name>', t('inventory.hosts.set.arg.name'))
    .option('-r, --role <role>', t('inventory.hosts.set.opt.role'), list)
    .option('--no-roles', t('inventory.hosts.set.opt.no-roles'))
    .option('-a, --address <ip>', t('inventory.hosts.set.opt.address'), list)
    .option('--no-addresses', t('inventory.hosts.set.opt.no-addresses'))
    .option('-m, --mac <iface=mac>', t('inventory.hosts.set.opt.mac'), macPair)
    .option('--no-macs', t('inventory.hosts.set.opt.no-macs'))
    .option('-n, --notes <text>', t('inventory.hosts.set.opt.notes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const body = defined({
        roles: options.roles === false ? [] : options.role,
        addresses: options.addresses === false ? [] : options.address,
        macs: options.macs === false ? {} : options.mac,
        notes: options.notes,
      });
      if (Object.keys(body).length === 0) throw invalidInput(t('inventory.input.nothing-to-change-give-role'));
      const host = await clientOf(command).request<Host>('PATCH', `/api/ops/hosts/${encodeURIComponent(name)}`, body);
      out.result(host, () => showHost(out, host));
    });
  hosts
    .command('rm')
    .description(t('inventory.hosts.rm'))
    .argument('<name>', t('inventory.hosts.rm.arg.name'))
    .option('-y, --yes', t('inventory.hosts.rm.opt.yes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmRemoval(t('cli.kind.host'), name, options.yes);
      await clientOf(command).request('DELETE', `/api/ops/hosts/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(t('inventory.msg.removed-host', { name })));
    });

  // ------------------------------------------------------------------ services
  const services = ops.command('services').description(t('inventory.ops.services'));
  services
    .command('list', { isDefault: true })
    .alias('ls')
    .description(t('inventory.services.list'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Service[]>('GET', '/api/ops/services');
      out.result(rows, () =>
        out.table(
          [t('col.service'), t('col.critical'), t('col.hosts'), t('col.groups'), t('col.source')],
          rows.map((s) => [s.name, s.critical ? 'yes' : 'no', joined(s.hosts), joined(s.groups), s.source]),
          t('inventory.empty.services'),
        ),
      );
    });
  services
    .command('show')
    .description(t('inventory.services.show'))
    .argument('<name>', t('inventory.services.show.arg.name'))
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const service = await clientOf(command).request<Service>('GET', `/api/ops/services/${encodeURIComponent(name)}`);
      out.result(service, () => showService(out, service));
    });
  services
    .command('add')
    .description(t('inventory.services.add'))
    .argument('<name>', t('inventory.services.add.arg.name'))
    .option('-c, --critical', t('inventory.services.add.opt.critical'))
    .option('-H, --host <host>', t('inventory.services.add.opt.host'), list)
    .option('-n, --notes <text>', t('inventory.services.add.opt.notes'))
    .addHelpText('after', examples('keisan ops services add authentication --critical --host auth1,auth2,auth3'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const service = await clientOf(command).request<Service>('POST', '/api/ops/services', defined({ name, critical: options.critical === true, hosts: options.host, notes: options.notes }));
      out.result(service, () => out.line(`Added service ${service.name}${service.critical ? ' (critical)' : ''} on ${joined(service.hosts)}.`));
    });
  services
    .command('set')
    .description(t('inventory.services.set'))
    .argument('<name>', t('inventory.services.set.arg.name'))
    .option('-c, --critical', t('inventory.services.set.opt.critical'))
    .option('--no-critical', t('inventory.services.set.opt.no-critical'))
    .option('-H, --host <host>', t('inventory.services.set.opt.host'), list)
    .option('-n, --notes <text>', t('inventory.services.set.opt.notes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const body = defined({ critical: options.critical, hosts: options.host, notes: options.notes });
      if (Object.keys(body).length === 0) throw invalidInput(t('inventory.input.nothing-to-change-give-critical'));
      const service = await clientOf(command).request<Service>('PATCH', `/api/ops/services/${encodeURIComponent(name)}`, body);
      out.result(service, () => showService(out, service));
    });
  services
    .command('rm')
    .description(t('inventory.services.rm'))
    .argument('<name>', t('inventory.services.rm.arg.name'))
    .option('-y, --yes', t('inventory.services.rm.opt.yes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmRemoval(t('cli.kind.service'), name, options.yes);
      await clientOf(command).request('DELETE', `/api/ops/services/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(t('inventory.msg.removed-service', { name })));
    });

  // ------------------------------------------------------------------ groups
  const groups = ops.command('groups').description(t('inventory.ops.groups'));
  groups
    .command('list', { isDefault: true })
    .alias('ls')
    .description(t('inventory.groups.list'))
    .addHelpText('after', examples('keisan ops groups', 'keisan ops groups show management'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Group[]>('GET', '/api/ops/groups');
      out.result(rows, () =>
        out.table(
          [t('col.group'), t('col.healthy'), t('col.min'), t('col.state'), t('col.service'), t('col.members'), t('col.why')],
          rows.map((g) => [g.name, `${g.healthy}/${g.total}`, g.minHealthy, stateColour[g.state](g.state), g.service, joined(g.members), g.reason]),
          t('inventory.empty.redundancy-groups'),
        ),
      );
    });
  groups
    .command('show')
    .description(t('inventory.groups.show'))
    .argument('<name>', t('inventory.groups.show.arg.name'))
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const group = await clientOf(command).request<Group>('GET', `/api/ops/groups/${encodeURIComponent(name)}`);
      out.result(group, () => showGroup(out, group));
    });
  groups
    .command('add')
    .description(t('inventory.groups.add'))
    .argument('<name>', t('inventory.groups.add.arg.name'))
    .requiredOption('-M, --member <host>', t('inventory.groups.add.opt.member'), list)
    .requiredOption('--min <n>', t('inventory.groups.add.opt.min'), positive)
    .option('-s, --service <service>', t('inventory.groups.add.opt.service'))
    .option('-n, --notes <text>', t('inventory.groups.add.opt.notes'))
    .addHelpText('after', examples('keisan ops groups add management --member mgmt1,mgmt2 --min 1 --service management', 'keisan ops groups add authentication -M auth1,auth2,auth3 --min 2'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const group = await clientOf(command).request<Group>('POST', '/api/ops/groups', defined({ name, members: options.member, minHealthy: options.min, service: options.service, notes: options.notes }));
      out.result(group, () => out.line(t('inventory.msg.added-group-at-least-healthy', { name: group.name, members: joined(group.members), minHealthy: group.minHealthy, healthy: group.healthy, state: group.state })));
    });
  groups
    .command('set')
    .description(t('inventory.groups.set'))
    .argument('<name>', t('inventory.groups.set.arg.name'))
    .option('-M, --member <host>', t('inventory.groups.set.opt.member'), list)
    .option('--min <n>', t('inventory.groups.set.opt.min'), positive)
    .option('-s, --service <service>', t('inventory.groups.set.opt.service'))
    .option('--no-service', t('inventory.groups.set.opt.no-service'))
    .option('-n, --notes <text>', t('inventory.groups.set.opt.notes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const body = defined({ members: options.member, minHealthy: options.min, service: options.service === false ? null : options.service, notes: options.notes });
      if (Object.keys(body).length === 0) throw invalidInput(t('inventory.input.nothing-to-change-give-member'));
      const group = await clientOf(command).request<Group>('PATCH', `/api/ops/groups/${encodeURIComponent(name)}`, body);
      out.result(group, () => showGroup(out, group));
    });
  groups
    .command('rm')
    .description(t('inventory.groups.rm'))
    .argument('<name>', t('inventory.groups.rm.arg.name'))
    .option('-y, --yes', t('inventory.groups.rm.opt.yes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmRemoval(t('cli.kind.group'), name, options.yes);
      await clientOf(command).request('DELETE', `/api/ops/groups/${encodeURIComponent(name)}`);
      out.result({ removed: name }, () => out.line(t('inventory.msg.removed-group', { name })));
    });

  // ------------------------------------------------------------------ the guard
  ops
    .command('check-takedown')
    .description(t('inventory.ops.check-takedown'))
    .argument('<hosts...>', t('inventory.ops.check-takedown.arg.hosts'))
    .addHelpText('after', examples('keisan ops check-takedown mgmt1', 'keisan ops check-takedown login1 login2 --json'))
    .action(async (targets, _options, command) => {
      const out = outputOf(command);
      const result = await clientOf(command).request<TakeDownCheck>('POST', '/api/ops/check-takedown', { hosts: targets });
      out.result(result, () => {
        for (const g of result.groups) out.line(t('inventory.msg.takedown-group', { group: g.group, healthyNow: g.healthyNow, total: g.total, healthyAfter: g.healthyAfter, targets: g.targets.join(', '), minimum: g.minHealthy }));
        if (result.unknownTargets.length > 0) out.line(pc.dim(t('inventory.msg.takedown-unknown', { hosts: result.unknownTargets.join(', ') })));
        if (result.allowed) out.line(pc.green(t('inventory.msg.takedown-allowed', { hosts: result.targets.join(', ') })));
        else for (const r of result.refusals) out.line(`${pc.red(t('inventory.msg.refused'))} ${r.reason}`);
      });
      if (!result.allowed) throw conflict(`refused: taking down ${result.targets.join(', ')} is not safe (${result.refusals.length} reason${result.refusals.length === 1 ? '' : 's'} above)`);
    });
}
