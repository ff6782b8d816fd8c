import { createInterface } from 'node:readline/promises';
import type { Command, CommandUnknownOpts } from '@commander-js/extra-typings';
import { clientOf, examples, outputOf } from '../cli/context.ts';
import { formatTime, type Output } from '../cli/output.ts';
import { invalidInput } from '../lib/errors.ts';
import { formatDuration } from '../lib/units.ts';
import type { Device } from './model.ts';

const path = (name: string) => `/api/devices/${encodeURIComponent(name)}`;

/** "free", "reserved by alice until 2026-03-02 10:00", "in use by alice until …". */
export function stateText(device: Device): string {
  if (device.state === 'free' || device.holder === null) return 'free';
  return `${device.state === 'in-use' ? 'in use' : 'reserved'} by ${device.holder} until ${formatTime(device.freeAt)}`;
}

const seconds = (s: number | null) => (s === null ? 'none' : formatDuration(s * 1000));

function showDevice(out: Output, device: Device): void {
  out.fields([
    ['device', device.name],
    ['kind', device.kind],
    ['description', device.description],
    ['state', stateText(device)],
    ['reserved since', device.reservedAt ? formatTime(device.reservedAt) : null],
    ['last activity', device.lastActivityAt ? formatTime(device.lastActivityAt) : null],
    ['held at the latest until', device.latestFreeAt ? formatTime(device.latestFreeAt) : null],
    ['idle release', seconds(device.idleReleaseSeconds)],
    ['maximum hold', seconds(device.maxHoldSeconds)],
  ]);
}

/** What the holder needs to know after reserving: until when, and what keeps it longer. */
function reservedText(device: Device): string {
  const latest = device.latestFreeAt ? `, ${formatTime(device.latestFreeAt)} at the latest` : '';
  return (
    `${device.name} is yours until ${formatTime(device.freeAt)}. Activity keeps it longer ` +
    `(it frees ${seconds(device.idleReleaseSeconds)} after your last activity${latest}); \`keisan release ${device.name}\` gives it back.`
  );
}

async function confirmRemoval(name: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw invalidInput(`removing device '${name}' needs --yes when not run from a terminal`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Remove device '${name}'? Type its name to confirm: `);
    if (answer.trim() !== name) throw invalidInput('not confirmed: nothing was removed');
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
    .description('shared devices (tape drives, instruments, interactive GPUs): free, reserved by whom until when, or in use')
    .argument('[device]', 'show this device in full')
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
        out.table(['DEVICE', 'KIND', 'STATE', 'DESCRIPTION'], rows.map((d) => [d.name, d.kind, stateText(d), d.description]), '(no devices: operators add them with keisan admin device add)'),
      );
    });

  program
    .command('reserve')
    .description('reserve a shared device, or renew your reservation; it frees up after your last activity (or --for), within its maximum hold time')
    .argument('<device>', 'the device')
    .option('--for <duration>', 'keep it at least this long, e.g. 2h (default: the device\'s idle release time)')
    .addHelpText('after', examples('keisan reserve tape0', 'keisan reserve tape0 --for 2h'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const device = await clientOf(command).request<Device>('POST', `${path(name)}/reserve`, options.for === undefined ? {} : { for: options.for });
      out.result(device, () => out.line(reservedText(device)));
    });

  // ------------------------------------------------------------------ admin
  const device = admin.command('device').description('shared devices that users reserve (operators)');
  device
    .command('add')
    .description('add a device users can reserve')
    .argument('<name>', 'device name (a-z, 0-9, _ and -)')
    .option('-k, --kind <kind>', 'what it is: tape-drive, gpu, instrument, …', 'device')
    .option('-d, --description <text>', 'where it is and what it is for')
    .option('--idle-release <duration>', 'a reservation ends this long after the holder\'s last activity', '20m')
    .option('--max-hold <duration>', 'a reservation ends at the latest this long after it began (default: no maximum)')
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
        out.line(`Added device ${created.name} (${created.kind}; idle release ${seconds(created.idleReleaseSeconds)}, maximum hold ${seconds(created.maxHoldSeconds)}).`),
      );
    });
  device
    .command('set')
    .description('change a device')
    .argument('<name>', 'the device')
    .option('-k, --kind <kind>', 'what it is')
    .option('-d, --description <text>', 'new description')
    .option('--idle-release <duration>', 'new idle release time')
    .option('--max-hold <duration>', 'new maximum hold time, or "none" to remove it')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const body = {
        ...(options.kind !== undefined ? { kind: options.kind } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.idleRelease !== undefined ? { idleRelease: options.idleRelease } : {}),
        ...(options.maxHold !== undefined ? { maxHold: options.maxHold === 'none' ? null : options.maxHold } : {}),
      };
      if (Object.keys(body).length === 0) throw invalidInput('nothing to change: give --kind, --description, --idle-release or --max-hold');
      const updated = await clientOf(command).request<Device>('PATCH', path(name), body);
      out.result(updated, () => showDevice(out, updated));
    });
  device
    .command('rm')
    .description('remove a device nobody holds')
    .argument('<name>', 'the device')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name, options, command) => {
      const out = outputOf(command);
      await confirmRemoval(name, options.yes);
      await clientOf(command).request('DELETE', path(name));
      out.result({ removed: name }, () => out.line(`Removed device ${name}.`));
    });
  device
    .command('list')
    .alias('ls')
    .description('list devices with their settings and state')
    .action(async (_options, command) => {
      const out = outputOf(command);
      const rows = await clientOf(command).request<Device[]>('GET', '/api/devices');
      out.result(rows, () =>
        out.table(
          ['DEVICE', 'KIND', 'IDLE RELEASE', 'MAX HOLD', 'STATE', 'DESCRIPTION'],
          rows.map((d) => [d.name, d.kind, seconds(d.idleReleaseSeconds), seconds(d.maxHoldSeconds), stateText(d), d.description]),
        ),
      );
    });
  device
    .command('break')
    .description("end someone's reservation now (written to the audit log with the reason)")
    .argument('<name>', 'the device')
    .requiredOption('-r, --reason <text>', 'why: the holder is shown it')
    .addHelpText('after', examples('keisan admin device break tape0 --reason "holder on leave; drive needed for the restore"'))
    .action(async (name, options, command) => {
      const out = outputOf(command);
      const client = clientOf(command);
      const before = await client.request<Device>('GET', path(name));
      const after = await client.request<Device>('POST', `${path(name)}/break`, { reason: options.reason });
      out.result(after, () => out.line(`Broke ${before.holder ? `${before.holder}'s` : 'the'} reservation of ${after.name}; it is free.`));
    });
}
