import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeisanError } from '../../lib/errors.ts';
import { parseSettings, parseYaml } from '../../lib/config.ts';
import { DEFAULT_FACILITY_FILE } from '../../server/facility.ts';
import { parseUpsAddress, policyForQueue, powerSettings } from './settings.ts';

const refused = (power: unknown): string => {
  try {
    parseSettings({ power }, 'keisan.yaml');
  } catch (error) {
    assert.ok(error instanceof KeisanError);
    assert.equal(error.code, 'INVALID_INPUT');
    return error.message;
  }
  assert.fail('expected the settings to be refused');
};

describe('power settings', () => {
  it('defaults: 3 min grace, 5 s polls, requeue, systemctl poweroff', () => {
    const s = powerSettings.parse({ ups: 'myups@localhost' });
    assert.deepEqual(s.ups, { name: 'myups', host: 'localhost', port: 3493 });
    assert.equal(s.enabled, true);
    assert.equal(s.gracePeriod, 180_000);
    assert.equal(s.pollInterval, 5000);
    assert.equal(s.shutdownHost, true);
    assert.equal(s.shutdownCommand, 'systemctl poweroff');
    assert.equal(s.jobs.default, 'requeue');
    assert.equal(s.jobs.checkpointSignal, 'SIGUSR1');
    assert.equal(parseSettings({}, 'keisan.yaml').power, undefined);
  });

  it('reads durations, ports, IPv6 and per-queue policies', () => {
    const s = parseSettings({ power: { ups: 'dummy@127.0.0.1:13493', gracePeriod: '2s', pollInterval: '500ms', shutdownHost: false, jobs: { default: 'kill', queues: { huge: 'checkpoint' }, checkpointSignal: 'SIGUSR2', checkpointWait: '1m' } } }, 'keisan.yaml').power!;
    assert.equal(s.ups.port, 13493);
    assert.equal(s.gracePeriod, 2000);
    assert.equal(policyForQueue(s.jobs, 'huge'), 'checkpoint');
    assert.equal(policyForQueue(s.jobs, 'short'), 'kill');
    assert.equal(s.jobs.checkpointWait, 60_000);
    assert.deepEqual(parseUpsAddress('ups1@[::1]:3493'), { name: 'ups1', host: '::1', port: 3493 });
  });

  it('the commented power: block of the facility file template is valid once uncommented', () => {
    const start = DEFAULT_FACILITY_FILE.indexOf('# power:\n');
    assert.ok(start > 0);
    const block = DEFAULT_FACILITY_FILE.slice(start).split('\n\n')[0]!.split('\n').map((line) => line.replace(/^# /, '')).join('\n');
    const power = parseSettings(parseYaml(block, 'template'), 'template').power!;
    assert.deepEqual(power.ups, { name: 'myups', host: 'localhost', port: 3493 });
    assert.equal(policyForQueue(power.jobs, 'huge'), 'checkpoint');
  });

  it('bad config is refused with the field and what to write', () => {
    assert.match(refused({}), /power\.ups: missing: the UPS to watch: write the UPS as NAME@HOST\[:PORT\]/);
    assert.match(refused({ ups: 'localhost:3493' }), /power\.ups: 'localhost:3493' is not a UPS address/);
    assert.match(refused({ ups: 'u@h:70000' }), /power\.ups: 'u@h:70000': the port must be 1 to 65535/);
    assert.match(refused({ ups: 'u@h', gracePeriod: 'soon' }), /power\.gracePeriod: /);
    assert.match(refused({ ups: 'u@h', gracePeriod: '1s', pollInterval: '5s' }), /power\.gracePeriod: must be at least pollInterval/);
    assert.match(refused({ ups: 'u@h', pollInterval: '100ms' }), /power\.pollInterval: at least 500ms/);
    assert.match(refused({ ups: 'u@h', password: 'secret' }), /power\.password: a password never goes in keisan\.yaml/);
    assert.match(refused({ ups: 'u@h', user: 'monuser' }), /power\.passwordFile: user 'monuser' needs a passwordFile/);
    assert.match(refused({ ups: 'u@h', passwordFile: 'ups.pass' }), /power\.user: passwordFile is given but no user/);
    assert.match(refused({ ups: 'u@h', jobs: { default: 'pause' } }), /power\.jobs\.default: must be one of requeue, checkpoint, kill/);
    assert.match(refused({ ups: 'u@h', jobs: { checkpointSignal: 'SIGKILL' } }), /power\.jobs\.checkpointSignal: SIGKILL and SIGSTOP cannot be caught/);
    assert.match(refused({ ups: 'u@h', shutdownCommand: '' }), /power\.shutdownCommand: must not be empty/);
    assert.match(refused({ ups: 'u@h', upsmon: true }), /power: unknown field 'upsmon'/);
  });
});
