import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inNetwork, loginNetworkDecision, loginNetworks, normaliseAddress, parseNetwork } from './login-networks.ts';

describe('login networks', () => {
  it('parses and normalises IPv4 and IPv6 networks; refuses host bits, bad prefixes and non-addresses', () => {
    assert.deepEqual(loginNetworks.parse(['10.1.0.0/16', '2001:DB8:0::/32', '192.0.2.7', '::/0']), ['10.1.0.0/16', '2001:db8::/32', '192.0.2.7/32', '::/0']);
    const bits = parseNetwork('10.1.2.3/16');
    assert.ok('error' in bits);
    assert.match(bits.error, /did you mean 10\.1\.0\.0\/16\?/);
    const v6bits = parseNetwork('2001:db8::1/32');
    assert.ok('error' in v6bits);
    assert.match(v6bits.error, /did you mean 2001:db8::\/32\?/);
    assert.ok('error' in parseNetwork('10.1.0.0/33'));
    assert.ok('error' in parseNetwork('lab.example.org/24'));
    const twice = loginNetworks.safeParse(['10.1.0.0/16', '10.1.0.0/16']);
    assert.equal(twice.success, false);
    assert.match(twice.error!.issues[0]!.message, /listed twice/);
  });

  it('matches addresses, IPv4-mapped IPv6 clients included', () => {
    assert.equal(normaliseAddress('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(inNetwork('10.1.2.3', '10.1.0.0/16'), true);
    assert.equal(inNetwork('::ffff:10.1.2.3', '10.1.0.0/16'), true);
    assert.equal(inNetwork('10.2.0.1', '10.1.0.0/16'), false);
    assert.equal(inNetwork('2001:db8:1::5', '2001:db8::/32'), true);
    assert.equal(inNetwork('2001:db9::5', '2001:db8::/32'), false);
    assert.equal(inNetwork('10.1.2.3', '2001:db8::/32'), false);
    assert.equal(inNetwork('not-an-address', '0.0.0.0/0'), false);
  });

  it('decides: unrestricted workgroups allow anywhere; restricted ones need one of their networks; the refusal says where and whom to ask', () => {
    const lab = { workgroup: 'lab', networks: ['10.1.0.0/16', '2001:db8::/32'], admins: ['bob'] };
    const open = { workgroup: 'open', networks: [], admins: [] };
    assert.equal(loginNetworkDecision('alice', '192.0.2.7', [open]).allowed, true);
    const inside = loginNetworkDecision('alice', '10.1.9.9', [lab, open]);
    assert.deepEqual(inside, { allowed: true, reason: "10.1.9.9 is in workgroup lab's login network 10.1.0.0/16", network: '10.1.0.0/16' });
    assert.equal(loginNetworkDecision('alice', '2001:db8:42::1', [lab]).allowed, true);
    // An unrestricted second workgroup does not widen lab's restriction.
    const outside = loginNetworkDecision('alice', '192.0.2.7', [lab, open]);
    assert.equal(outside.allowed, false);
    assert.equal(
      outside.reason,
      "alice may not log in from 192.0.2.7: it is not in any network alice's workgroups allow (workgroup lab: 10.1.0.0/16, 2001:db8::/32); log in from one of those networks, or ask bob (workgroup admin) or an operator to add yours",
    );
    assert.equal(loginNetworkDecision('alice', null, [lab]).allowed, false);
    assert.match((loginNetworkDecision('alice', 'host.example.org', [lab]) as { reason: string }).reason, /'host\.example\.org' \(not an IP address\)/);
    // Operators may always log in from loopback (the server's own host); others may not.
    assert.equal(loginNetworkDecision('olga', '127.0.0.1', [lab], { operator: true }).allowed, true);
    assert.equal(loginNetworkDecision('olga', '::1', [lab], { operator: true }).allowed, true);
    assert.equal(loginNetworkDecision('olga', '192.0.2.7', [lab], { operator: true }).allowed, false);
    assert.equal(loginNetworkDecision('alice', '127.0.0.1', [lab]).allowed, false);
    // Two restricting workgroups: any of their networks will do.
    const other = { workgroup: 'astro', networks: ['192.0.2.0/24'], admins: [] };
    assert.equal(loginNetworkDecision('alice', '192.0.2.7', [lab, other]).allowed, true);
  });
});
