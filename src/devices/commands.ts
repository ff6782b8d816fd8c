import { createInterface } from 'node:readline/promises';
import type { Command, CommandUnknownOpts } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../cli/context.ts';
import { formatTime, type Output } from '../cli/output.ts';
import { invalidInput } from '../lib/errors.ts';
import { formatDuration } from '../lib/units.ts';
import type { Device } from './model.ts';
import { t } from '../lib/i18n/index.ts';

const path = (name: string) => `/api/devices/${encodeURIComponent(name)}`;

/** "free", "reserved by alice until 2026-03-02 10:00", "in use by alice until …". */
export function stateText(device: Device): string {
  if (device.state === 'free' || device.holder === null) return 'free';
  return `${device.state === 'in-use' ? 'in use' : 'reserved'} by ${device.holder} until ${formatTime(device.freeAt)}`;
}

const seconds = (s: number | null) => (s === null ? 'none' : formatDuration(s * 1000));

function showDevice(out: Output, device: Device): void {
  out.fields([
    [t('field.device'), device.name],
    [t('field.kind'), device.kind],
    [t('field.description'), device.description],
    [t('field.state'), stateText(device)],
    [t('field.reserved-since'), device.reservedAt ? formatTime(device.reservedAt) : null],
    [t('field.last-activity'), device.lastActivityAt ? formatTime(device.lastActivityAt) : null],
    [t('field.held-at-the-latest-until'), device.latestFreeAt ? formatTime(device.latestFreeAt) : null],
    [t('field.idle-release'), seconds(device.idleReleaseSeconds)],
    [t('field.maximum-hold'), seconds(device.maxHoldSeconds)],
  ]);
}

/** What the holder needs to know after reserving: until when, and what keeps it longer. */
function reservedText(device: Device): string {
  const latest = device.latestFreeAt ? t('devices.msg.at-the-latest', { time: formatTime(device.latestFreeAt) }) : '';
  return t('devices.msg.reserved', { name: device.name, until: formatTime(device.freeAt), idle: seconds(device.idleReleaseSeconds), latest });
}

async function confirmRemoval(name: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw invalidInput(t('cli.confirm.needs-yes', { kind: t('cli.kind.device'), name }));
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(t('cli.confirm.remove', { kind: t('cli.kind.device'), name }));
    if (answer.trim() !== name) throw invalidInput(t('cli.confirm.not-confirmed'));
  } finally {
    rl.close();
  }
}

/** `keisan release DEVICE` (the batch room's `release` command hands device names here). */
export async function releaseDevice(name: string, command: CommandUnknownOpts): Promise<Device> {
  return clientOf(command).request<Device>('POST', `${path(name)}/release`);
}

export function registerDeviceCommands(program: Command, admin: Command): void {
  program
    .command('devices')
    .description(t('devices.devices'))
    .argument('[device]', t('devices.devices.arg.device'))
    .addHelpText('after', examples('keisan devices', 'keisan devices tape0', 'keisan devices --json'))
    .action(async (name, _options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      if (name !== undefined) {
        const device = await client.request<Device>('GET', path(name));
        out.result(device, () => showDevice(out, device));
        return;
      }
      const rows = await client.request<Device[]>('GET', '/api/devices');
      out.result(rows, () =>
        out.table([t('col.device'), t('col.kind'), t('col.state'), t('col.description')], rows.map((d) => [d.name, d.kind, stateText(d), d.description]), t('devices.empty.devices')),
      );
    });

  program
    .command('reserve')
    .description(t('devices.reserve'))
    .argument('<device>', t('devices.reserve.arg.device'))
    .option('--for <duration>', t('devices.reserve.opt.for'))
    .addHelpText('after', examples('keisan reserve tape0', 'keisan reserve tape0 --for 2h'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const device = await clientOf(command).request<Device>('POST', `${path(name)}/reserve`, options.for === undefined ? {} : { for: options.for });
      out.result(device, () => out.line(reservedText(device)));
    });

  // ------------------------------------------------------------------ admin
  const device = admin.command('device').description(t('devices.device'));
  device
    .command('add')
    .description(t('devices.device.add'))
    .argument('<name>', t('devices.device.add.arg.name'))
    .option('-k, --kind <kind>', t('devices.device.add.opt.kind'), 'device')
    .option('-d, --description <text>', t('devices.device.add.opt.description'))
    .option('--idle-release <duration>', t('devices.device.add.opt.idle-release'), '20m')
    .option('--max-hold <duration>', t('devices.device.add.opt.max-hold'))
    .addHelpText('after', examples('keisan admin device add tape0 --kind tape-drive -d "LTO-9 drive in rack B4" --max-hold 8h', 'keisan admin device add gpu-viz --kind gpu --idle-release 30m'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const created = await clientOf(command).request<Device>('POST', '/api/devices', {
        name,
        kind: options.kind,
        description: options.description,
        idleRelease: options.idleRelease,
        maxHold: options.maxHold,
      });
      out.result(created, () =>
        out.line(t('devices.msg.added-device-idle-release-maximum', { name: created.name, kind: created.kind, idleReleaseSeconds: seconds(created.idleReleaseSeconds), maxHoldSeconds: seconds(created.maxHoldSeconds) })),
      );
    });
  device
    .command('set')
    .description(t('devices.device.set'))
    .argument('<name>', t('devices.device.set.arg.name'))
    .option('-k, --kind <kind>', t('devices.device.set.opt.kind'))
    .option('-d, --description <text>', t('devices.device.set.opt.description'))
    .option('--idle-release <duration>', t('devices.device.set.opt.idle-release'))
    .option('--max-hold <duration>', t('devices.device.set.opt.max-hold'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const body = {
        ...(options.kind !== undefined ? { kind: options.kind } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.idleRelease !== undefined ? { idleRelease: options.idleRelease } : {}),
        ...(options.maxHold !== undefined ? { maxHold: options.maxHold === 'none' ? null : options.maxHold } : {}),
      };
      if (Object.keys(body).length === 0) throw invalidInput(t('devices.input.nothing-to-change-give-kind'));
      const updated = await clientOf(command).request<Device>('PATCH', path(name), body);
      out.result(updated, () => showDevice(out, updated));
    });
  device
    .command('rm')
    .description(t('devices.device.rm'))
    .argument('<name>', t('devices.device.rm.arg.name'))
    .option('-y, --yes', t('devices.device.rm.opt.yes'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmRemoval(name, options.yes);
      await clientOf(command).request('DELETE', path(name));
      out.result({ removed: name }, () => out.line(t('devices.msg.removed-device', { name })));
    });
  device
    .command('list')
    .alias('ls')
    .description(t('devices.device.list'))
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Device[]>('GET', '/api/devices');
      out.result(rows, () =>
        out.table(
          [t('col.device'), t('col.kind'), t('col.idle-release'), t('col.max-hold'), t('col.state'), t('col.description')],
          rows.map((d) => [d.name, d.kind, seconds(d.idleReleaseSeconds), seconds(d.maxHoldSeconds), stateText(d), d.description]),
        ),
      );
    });
  device
    .command('break')
    .description(t('devices.device.break'))
    .argument('<name>', t('devices.device.break.arg.name'))
    .requiredOption('-r, --reason <text>', t('devices.device.break.opt.reason'))
    .addHelpText('after', examples('keisan admin device break tape0 --reason "holder on leave; drive needed for the restore"'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const before = await client.request<Device>('GET', path(name));
      const after = await client.request<Device>('POST', `${path(name)}/break`, { reason: options.reason });
      out.result(after, () => out.line(before.holder ? t('devices.msg.broke-holder', { holder: before.holder, name: after.name }) : t('devices.msg.broke', { name: after.name })));
    });
}
