import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSettings, parseYaml } from '../../lib/config.ts';
import { DEFAULT_FACILITY_FILE } from '../../server/facility.ts';

describe('monitor.metrics settings', () => {
  it('defaults: every interface, port 9810, GPUs sampled', () => {
    assert.deepEqual(parseSettings({}, 'keisan.yaml').monitor.metrics, { listen: '0.0.0.0', port: 9810, gpus: true });
  });

  it('port false turns the agents’ /metrics off; a bad port is refused naming the field', () => {
    assert.equal(parseSettings({ monitor: { metrics: { port: false } } }, 'keisan.yaml').monitor.metrics.port, false);
    assert.throws(() => parseSettings({ monitor: { metrics: { port: 70000 } } }, 'keisan.yaml'), /monitor\.metrics\.port/);
    assert.throws(() => parseSettings({ monitor: { metrics: { prot: 1 } } }, 'keisan.yaml'), /monitor\.metrics/);
  });

  it('the commented example in the facility file template is valid', () => {
    const start = DEFAULT_FACILITY_FILE.indexOf('# monitor:\n');
    assert.ok(start >= 0, 'the template shows a monitor: section');
    const block = DEFAULT_FACILITY_FILE.slice(start).split('\n\n')[0]!;
    const text = block.split('\n').map((line) => line.replace(/^# /, '')).join('\n');
    const monitor = parseSettings(parseYaml(text, 'keisan.yaml'), 'keisan.yaml').monitor;
    assert.deepEqual(monitor.metrics, { listen: '0.0.0.0', port: 9810, gpus: true });
    assert.equal(monitor.interval, 15_000);
  });
});
