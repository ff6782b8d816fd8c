import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSettings } from '../../lib/config.ts';
import { advertisedUrl, haSettings, requireHaDatabase } from './settings.ts';

describe('ha: in keisan.yaml', () => {
  it('reads the servers as origins, with the defaults', () => {
    const ha = haSettings.parse({ servers: ['http://a.example.org:8470/', 'https://b.example.org:8470'] });
    assert.deepEqual(ha.servers, ['http://a.example.org:8470', 'https://b.example.org:8470']);
    assert.equal(ha.pollEvery, 500);
  });

  it('refuses mistakes with messages naming the field', () => {
    assert.throws(() => parseSettings({ ha: { servers: ['http://a:1'] } }, 'keisan.yaml'), /ha\.servers: ha\.servers lists every server of the pair/);
    assert.throws(() => parseSettings({ ha: { servers: ['http://a:1', 'http://b:1'], advertise: 'http://c:1' } }, 'keisan.yaml'), /ha\.advertise: ha\.advertise http:\/\/c:1 is not one of ha\.servers/);
    assert.throws(() => parseSettings({ ha: { servers: ['http://a:1', 'ftp://b:1'] } }, 'keisan.yaml'), /is not an http\(s\) URL/);
    assert.throws(() => parseSettings({ ha: { servers: ['http://a:1', 'http://a:1'] } }, 'keisan.yaml'), /lists a URL twice/);
    assert.throws(() => parseSettings({ ha: { servers: ['http://a:1', 'http://b:1'], pollEvery: '1m' } }, 'keisan.yaml'), /between 100ms and 10s/);
    assert.throws(() => parseSettings({ ha: { servers: ['http://a:1', 'http://b:1'], poll: 1 } }, 'keisan.yaml'), /unknown field 'poll'/);
  });

  it('finds this server in the list by host name and port, or by ha.advertise', () => {
    const ha = haSettings.parse({ servers: ['http://keisan1:8470', 'http://keisan2:8470'] });
    assert.equal(advertisedUrl(ha, { port: 8470, hostNames: ['keisan2', '10.0.0.2'] }), 'http://keisan2:8470');
    assert.throws(() => advertisedUrl(ha, { port: 8470, hostNames: ['keisan3'] }), /set ha\.advertise/);
    assert.equal(advertisedUrl({ ...ha, advertise: 'http://keisan1:8470' }, { port: 1, hostNames: [] }), 'http://keisan1:8470');
  });

  it('needs PostgreSQL', () => {
    assert.throws(() => requireHaDatabase('sqlite:'), /two servers can only share a PostgreSQL database/);
    requireHaDatabase('postgres://keisan@db/keisan');
  });
});
