import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSettings } from '../../lib/config.ts';
import { KeisanError } from '../../lib/errors.ts';
import { hostInput, normaliseMac } from './model.ts';

/** keisan.yaml `inventory:` as operators write it, and the messages a mistake gets. */

const INVENTORY = {
  hosts: [
    { name: 'MGMT1', roles: ['management'], addresses: ['10.0.0.11', 'FD00::11'], macs: { eno1: '52-54-00-0A-00-0B' } },
    { name: 'mgmt2', roles: ['management'], addresses: ['10.0.0.12'], macs: { eno1: '5254.000a.000c' } },
  ],
  services: [{ name: 'management', critical: true, hosts: ['mgmt1', 'mgmt2'] }],
  groups: [{ name: 'management', members: ['mgmt1', 'mgmt2'], minHealthy: 1, service: 'management' }],
};

function refusal(inventory: unknown): string {
  try {
    parseSettings({ inventory }, 'keisan.yaml');
  } catch (error) {
    assert.ok(error instanceof KeisanError, String(error));
    assert.equal(error.code, 'INVALID_INPUT');
    return error.message;
  }
  assert.fail('keisan.yaml was accepted');
}

describe('keisan.yaml inventory', () => {
  it('is optional, and normalises names, IPv6 and MACs', () => {
    assert.equal(parseSettings({}, 'keisan.yaml').inventory, undefined);
    const settings = parseSettings({ inventory: INVENTORY }, 'keisan.yaml');
    assert.deepEqual(settings.inventory?.hosts[0], { name: 'mgmt1', roles: ['management'], addresses: ['10.0.0.11', 'fd00::11'], macs: { eno1: '52:54:00:0a:00:0b' }, notes: '' });
    assert.equal(settings.inventory?.hosts[1]?.macs.eno1, '52:54:00:0a:00:0c');
    assert.deepEqual(settings.inventory?.groups[0], { name: 'management', members: ['mgmt1', 'mgmt2'], minHealthy: 1, service: 'management', notes: '' });
  });

  it('names the entry and the field of each mistake', () => {
    assert.equal(
      refusal({ hosts: [{ name: 'mgmt1', addresses: ['10.0.0.300'], macs: { eno1: '52:54:00:0a:00' } }] }),
      "keisan.yaml: inventory.hosts.0.addresses.0: '10.0.0.300' is not an IPv4 or IPv6 address (write it without a /prefix); inventory.hosts.0.macs.eno1: '52:54:00:0a:00' is not a MAC address: write six hexadecimal pairs, e.g. 52:54:00:12:34:56",
    );
    assert.match(refusal({ hosts: [{ name: 'mgmt_1' }] }), /^keisan\.yaml: inventory\.hosts\.0\.name: host name is not valid/);
    assert.match(refusal({ hosts: [{ name: 'mgmt1', roles: ['Management!'] }] }), /inventory\.hosts\.0\.roles\.0: role is not valid: a-z, 0-9 and -/);
    assert.match(refusal({ hosts: [{ name: 'mgmt1', rack: 'B4' }] }), /inventory\.hosts\.0: unknown field 'rack'/);
    assert.match(refusal({ groups: [{ name: 'management', members: ['mgmt1'] }] }), /inventory\.groups\.0\.minHealthy: minHealthy must be a whole number/);
  });

  it('checks the references between entries, naming them', () => {
    const message = refusal({
      hosts: [{ name: 'mgmt1', addresses: ['10.0.0.11'], macs: { eno1: '52:54:00:0a:00:0b' } }, { name: 'mgmt2', addresses: ['10.0.0.11'], macs: { eno1: '52:54:00:0a:00:0b' } }, { name: 'mgmt1' }],
      services: [{ name: 'management', hosts: ['mgmt3'] }],
      groups: [{ name: 'management', members: ['mgmt1', 'mgmt3'], minHealthy: 3, service: 'mgmt' }],
    });
    for (const part of [
      'inventory.hosts.2.name: host mgmt1 is defined twice (also entry 0)',
      "inventory.hosts.1.addresses.0: host mgmt2: address 10.0.0.11 is already host mgmt1's",
      "inventory.hosts.1.macs.eno1: host mgmt2: MAC 52:54:00:0a:00:0b (eno1) is already host mgmt1's",
      "inventory.services.0.hosts.0: service management: host mgmt3 is not in the inventory's hosts",
      "inventory.groups.0.members.1: group management: member mgmt3 is not in the inventory's hosts",
      "inventory.groups.0.service: group management: service mgmt is not in the inventory's services",
      'inventory.groups.0.minHealthy: group management: minHealthy is 3 but it has 2 member(s)',
    ]) {
      assert.ok(message.includes(part), `missing "${part}" in: ${message}`);
    }
  });
});

describe('MAC addresses', () => {
  it('accepts the usual spellings, lower-case with colons; refuses the rest', () => {
    for (const text of ['52:54:00:AB:CD:EF', '52-54-00-ab-cd-ef', '5254.00ab.cdef', '525400ABCDEF']) assert.equal(normaliseMac(text), '52:54:00:ab:cd:ef');
    for (const text of ['52:54:00:ab:cd', '52:54-00:ab:cd:ef', 'gg:54:00:ab:cd:ef', '']) assert.equal(normaliseMac(text), null);
    const broadcast = hostInput.safeParse({ name: 'x', macs: { eth0: 'ff:ff:ff:ff:ff:ff' } });
    assert.ok(!broadcast.success);
    assert.equal(broadcast.error.issues[0]?.message, "ff:ff:ff:ff:ff:ff is not a device's MAC address");
  });
});
