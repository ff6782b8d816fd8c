import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  COMPUTE_APPS_FIELDS,
  DISCOVERY_FIELDS,
  SAMPLE_FIELDS,
  discoverGpus,
  normaliseGpuType,
  parseComputeAppsCsv,
  parseGpuSamplesCsv,
  parseNvidiaSmiTable,
  parseNvidiaSmiTopo,
  parseNvidiaSmiXml,
  parseQueryGpuCsv,
  parseXml,
  queryComputeApps,
  sampleGpus,
  type CommandRunner,
  type GpuSample,
} from './gpus.ts';
import type { GpuDevice } from './model.ts';

/** Recorded output of a real 2 × H200 machine (see fixtures/gpu-h200x2/README.md). */
const fixture = (name: string) => readFileSync(new URL(`./fixtures/gpu-h200x2/${name}`, import.meta.url), 'utf8');

const MIB = 1024 * 1024;
const UUID0 = 'GPU-2726df95-f728-6e35-6d57-28e17260e697';
const UUID1 = 'GPU-be83af57-c8d0-faf1-85fa-5c5d4ec99683';
/** 143771 MiB, the H200's memory as nvidia-smi reports it. */
const H200_BYTES = 150_754_820_096;

const H200X2: GpuDevice[] = [
  { index: 0, uuid: UUID0, type: 'h200', memBytes: H200_BYTES },
  { index: 1, uuid: UUID1, type: 'h200', memBytes: H200_BYTES },
];

/** Collects warnings so tests can assert there were none, or which. */
function collector(): { warn: (m: string) => void; warnings: string[] } {
  const warnings: string[] = [];
  return { warn: (m) => warnings.push(m), warnings };
}

const sample = (fields: Partial<GpuSample> & Pick<GpuSample, 'index' | 'uuid'>): GpuSample => ({
  name: 'NVIDIA H200',
  type: 'h200',
  pciBusId: null,
  memTotalBytes: null,
  memUsedBytes: null,
  memFreeBytes: null,
  utilizationGpuPercent: null,
  utilizationMemoryPercent: null,
  temperatureC: null,
  powerDrawW: null,
  powerLimitW: null,
  smClockMHz: null,
  ...fields,
});

describe('normaliseGpuType', () => {
  it('drops the vendor, lower-cases and joins words with "-"', () => {
    const cases: [string, string][] = [
      ['NVIDIA H200', 'h200'],
      ['NVIDIA A100-SXM4-80GB', 'a100-sxm4-80gb'],
      ['NVIDIA H100 80GB HBM3', 'h100-80gb-hbm3'],
      ['NVIDIA A100 80GB PCIe', 'a100-80gb-pcie'],
      ['Tesla V100-SXM2-32GB', 'v100-sxm2-32gb'],
      ['NVIDIA Tesla T4', 't4'],
      ['NVIDIA GeForce RTX 4090', 'geforce-rtx-4090'],
      ['NVIDIA RTX A6000', 'rtx-a6000'],
      ['  NVIDIA   H200 NVL  ', 'h200-nvl'],
      ['Quadro RTX 8000', 'quadro-rtx-8000'],
      ['[N/A]', 'unknown'],
      ['', 'unknown'],
    ];
    for (const [name, type] of cases) assert.equal(normaliseGpuType(name), type, name);
  });
});

describe('parseQueryGpuCsv', () => {
  it('reads the recorded busy and idle --query-gpu CSV (header with units) into the two H200s', () => {
    for (const file of ['query-gpu-busy.csv', 'query-gpu-idle.csv']) {
      const { warn, warnings } = collector();
      assert.deepEqual(parseQueryGpuCsv(fixture(file), { warn }), H200X2, file);
      assert.deepEqual(warnings, [], file);
    }
  });

  it('reads the discovery query: noheader,nounits; noheader with units; header with nounits', () => {
    const noheaderNounits = `0, ${UUID0}, NVIDIA H200, 143771\n1, ${UUID1}, NVIDIA H200, 143771\n`;
    const noheaderUnits = `0, ${UUID0}, NVIDIA H200, 143771 MiB\n1, ${UUID1}, NVIDIA H200, 143771 MiB\n`;
    const headerNounits = `index, uuid, name, memory.total [MiB]\n0, ${UUID0}, NVIDIA H200, 143771\n1, ${UUID1}, NVIDIA H200, 143771\n`;
    for (const text of [noheaderNounits, noheaderUnits, headerNounits]) {
      const { warn, warnings } = collector();
      assert.deepEqual(parseQueryGpuCsv(text, { warn }), H200X2, text);
      assert.deepEqual(warnings, []);
    }
  });

  it('without a header, uses the fields the caller asked for, in that order', () => {
    const text = `${UUID1}, 143771, 1, NVIDIA H200\n${UUID0}, 143771, 0, NVIDIA H200\n`;
    assert.deepEqual(parseQueryGpuCsv(text, { fields: ['uuid', 'memory.total', 'index', 'name'] }), H200X2);
  });

  it('CRLF line ends, trailing spaces, tabs and blank lines change nothing', () => {
    const messy = `\r\n${fixture('query-gpu-busy.csv')
      .split('\n')
      .map((line) => `${line}   \t`)
      .join('\r\n')}\r\n\r\n`;
    const { warn, warnings } = collector();
    assert.deepEqual(parseQueryGpuCsv(messy, { warn }), H200X2);
    assert.deepEqual(warnings, []);
  });

  it('a GPU whose memory is [N/A] is kept with 0 bytes and a warning', () => {
    const { warn, warnings } = collector();
    const gpus = parseQueryGpuCsv(`0, ${UUID0}, NVIDIA H200, [N/A]\n`, { warn });
    assert.deepEqual(gpus, [{ index: 0, uuid: UUID0, type: 'h200', memBytes: 0 }]);
    assert.deepEqual(warnings, [`GPU 0 (${UUID0}) does not report its memory size; taken as 0`]);
  });

  it('skips garbage lines with a warning naming the line, and keeps the good ones', () => {
    const { warn, warnings } = collector();
    const text = [
      `0, ${UUID0}, NVIDIA H200, 143771`,
      'Unable to determine the device handle for GPU0000:00:08.0: Unknown Error',
      `x, GPU-00000000-0000-0000-0000-000000000000, NVIDIA H200, 143771`,
      `1, ${UUID1}, NVIDIA H200, 143771`,
      `1, GPU-11111111-1111-1111-1111-111111111111, NVIDIA H200, 143771`,
      `2, [N/A], NVIDIA H200, 143771`,
    ].join('\n');
    assert.deepEqual(parseQueryGpuCsv(text, { warn }), H200X2);
    assert.deepEqual(warnings, [
      "nvidia-smi --query-gpu line 2: expected 4 comma-separated values (index, uuid, name, memory.total), found 1: 'Unable to determine the device handle for GPU0000:00:08.0: Unknown Error'; skipped",
      "nvidia-smi --query-gpu line 3: no GPU index ('x'): 'x, GPU-00000000-0000-0000-0000-000000000000, NVIDIA H200, 143771'; skipped",
      'nvidia-smi --query-gpu line 5: GPU 1 (GPU-11111111-1111-1111-1111-111111111111) is listed twice; the second is skipped',
      "nvidia-smi --query-gpu line 6: no GPU uuid ('[N/A]'): '2, [N/A], NVIDIA H200, 143771'; skipped",
    ]);
  });

  it("the driver's failure message instead of CSV gives no GPUs and says why", () => {
    const { warn, warnings } = collector();
    const text = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n\n";
    assert.deepEqual(parseQueryGpuCsv(text, { warn }), []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^nvidia-smi --query-gpu line 1: expected 4 comma-separated values .* found 1: 'NVIDIA-SMI has failed because/);
    assert.deepEqual(parseQueryGpuCsv(''), []);
  });
});

describe('parseGpuSamplesCsv', () => {
  it('reads every value of the recorded busy CSV exactly', () => {
    const { warn, warnings } = collector();
    assert.deepEqual(parseGpuSamplesCsv(fixture('query-gpu-busy.csv'), { warn }), [
      sample({
        index: 0,
        uuid: UUID0,
        pciBusId: '00000000:00:06.0',
        memTotalBytes: H200_BYTES,
        memUsedBytes: 21711 * MIB,
        memFreeBytes: 121446 * MIB,
        utilizationGpuPercent: 100,
        utilizationMemoryPercent: 7,
        temperatureC: 59,
        powerDrawW: 687.69,
        powerLimitW: 700,
        smClockMHz: 1980,
      }),
      sample({
        index: 1,
        uuid: UUID1,
        pciBusId: '00000000:00:07.0',
        memTotalBytes: H200_BYTES,
        memUsedBytes: 0,
        memFreeBytes: 143156 * MIB,
        utilizationGpuPercent: 0,
        utilizationMemoryPercent: 0,
        temperatureC: 35,
        powerDrawW: 80.54,
        powerLimitW: 700,
        smClockMHz: 345,
      }),
    ]);
    assert.deepEqual(warnings, []);
    assert.equal(21711 * MIB, 22_765_633_536);
  });

  it('reads every value of the recorded idle CSV exactly', () => {
    const idle = { memTotalBytes: H200_BYTES, memUsedBytes: 0, memFreeBytes: 150_109_945_856, utilizationGpuPercent: 0, utilizationMemoryPercent: 0, powerLimitW: 700, smClockMHz: 345 };
    assert.deepEqual(parseGpuSamplesCsv(fixture('query-gpu-idle.csv')), [
      sample({ index: 0, uuid: UUID0, pciBusId: '00000000:00:06.0', temperatureC: 37, powerDrawW: 80.44, ...idle }),
      sample({ index: 1, uuid: UUID1, pciBusId: '00000000:00:07.0', temperatureC: 35, powerDrawW: 80.6, ...idle }),
    ]);
  });

  it('the same query with nounits gives the same samples', () => {
    const nounits = fixture('query-gpu-busy.csv').replace(/ (MiB|%|W|MHz)(?=,|\n)/g, '');
    assert.notEqual(nounits, fixture('query-gpu-busy.csv'));
    assert.doesNotMatch(nounits.split('\n')[1]!, /MiB/);
    assert.deepEqual(parseGpuSamplesCsv(nounits), parseGpuSamplesCsv(fixture('query-gpu-busy.csv')));
    const noheader = nounits.split('\n').slice(1).join('\n');
    assert.deepEqual(parseGpuSamplesCsv(noheader, { fields: SAMPLE_FIELDS }), parseGpuSamplesCsv(fixture('query-gpu-busy.csv')));
  });

  it('[N/A], [Not Supported] and other bracketed words are null; a value in an unknown unit is null with a warning', () => {
    const { warn, warnings } = collector();
    const text = [
      'index, uuid, name, pci.bus_id, memory.total [MiB], memory.used [MiB], memory.free [MiB], utilization.gpu [%], utilization.memory [%], temperature.gpu, power.draw [W], power.limit [W], clocks.current.sm [MHz]',
      `0, ${UUID0}, NVIDIA H200, 00000000:00:06.0, 143771 MiB, [N/A], N/A, [Not Supported], [Unknown Error], [N/A], 12 parsecs, [Insufficient Permissions], 1980 MHz`,
    ].join('\n');
    assert.deepEqual(parseGpuSamplesCsv(text, { warn }), [
      sample({ index: 0, uuid: UUID0, pciBusId: '00000000:00:06.0', memTotalBytes: H200_BYTES, smClockMHz: 1980 }),
    ]);
    assert.deepEqual(warnings, ["nvidia-smi --query-gpu line 2: power.draw '12 parsecs' is not a number of W; taken as not reported"]);
  });

  it('output without an index column is refused as a whole with a warning', () => {
    const { warn, warnings } = collector();
    assert.deepEqual(parseGpuSamplesCsv('uuid, name\nGPU-1, NVIDIA H200\n', { warn }), []);
    assert.deepEqual(warnings, ["nvidia-smi --query-gpu output has no 'index' column (columns: uuid, name); nothing read"]);
  });
});

describe('parseComputeAppsCsv', () => {
  it('reads the recorded busy --query-compute-apps CSV', () => {
    const { warn, warnings } = collector();
    assert.deepEqual(parseComputeAppsCsv(fixture('query-apps-busy.csv'), { warn }), [
      { pid: 568, processName: 'python3', gpuUuid: UUID0, gpuBusId: '00000000:00:06.0', usedMemoryBytes: 21702 * MIB },
    ]);
    assert.equal(21702 * MIB, 22_756_196_352);
    assert.deepEqual(warnings, []);
  });

  it('no processes: only the header, nothing at all, or the "No running processes found" message', () => {
    const header = fixture('query-apps-busy.csv').split('\n')[0]!;
    for (const text of [`${header}\n`, '', 'No running processes found\n']) {
      const { warn, warnings } = collector();
      assert.deepEqual(parseComputeAppsCsv(text, { warn }), [], JSON.stringify(text));
      assert.deepEqual(warnings, []);
    }
  });

  it('noheader,nounits, a process name with a comma, [N/A] memory, CRLF; garbage is skipped with a warning', () => {
    const { warn, warnings } = collector();
    const text = [
      `568, python3, ${UUID0}, 00000000:00:06.0, 21702`,
      `901, /opt/app/run,fast, ${UUID1}, 00000000:00:07.0, [N/A]`,
      'garbage',
      `-4, bad, ${UUID1}, 00000000:00:07.0, 1`,
    ].join('\r\n');
    assert.deepEqual(parseComputeAppsCsv(text, { fields: COMPUTE_APPS_FIELDS, warn }), [
      { pid: 568, processName: 'python3', gpuUuid: UUID0, gpuBusId: '00000000:00:06.0', usedMemoryBytes: 21702 * MIB },
      { pid: 901, processName: '/opt/app/run,fast', gpuUuid: UUID1, gpuBusId: '00000000:00:07.0', usedMemoryBytes: null },
    ]);
    assert.deepEqual(warnings, [
      "nvidia-smi --query-compute-apps line 3: expected 5 comma-separated values (pid, process_name, gpu_uuid, gpu_bus_id, used_memory), found 1: 'garbage'; skipped",
      `nvidia-smi --query-compute-apps line 4: no process id ('-4'): '-4, bad, ${UUID1}, 00000000:00:07.0, 1'; skipped`,
    ]);
  });
});

describe('parseNvidiaSmiXml', () => {
  it('reads the recorded busy report: driver, CUDA, both GPUs and the process on GPU 0', () => {
    const { warn, warnings } = collector();
    const report = parseNvidiaSmiXml(fixture('nvidia-smi-q-busy.xml'), { warn });
    assert.deepEqual(warnings, []);
    assert.equal(report.timestamp, 'Mon Nov 23 00:25:29 2026');
    assert.equal(report.driverVersion, '580.159.04');
    assert.equal(report.cudaVersion, '13.0');
    assert.equal(report.attachedGpus, 2);
    assert.equal(report.gpus.length, 2);
    const common = {
      name: 'NVIDIA H200',
      type: 'h200',
      memTotalBytes: H200_BYTES,
      powerLimitW: 700,
      productBrand: 'NVIDIA',
      architecture: 'Hopper',
      memReservedBytes: 616 * MIB,
      persistenceMode: 'Enabled',
      migMode: 'Disabled',
      computeMode: 'Default',
      performanceState: 'P0',
    };
    assert.deepEqual(report.gpus[0], {
      ...common,
      index: 0,
      minorNumber: 0,
      uuid: UUID0,
      pciBusId: '00000000:00:06.0',
      serial: '1652826070244',
      memUsedBytes: 21711 * MIB,
      memFreeBytes: 121446 * MIB,
      utilizationGpuPercent: 100,
      utilizationMemoryPercent: 7,
      temperatureC: 59,
      memoryTemperatureC: 48,
      powerDrawW: 687.42,
      smClockMHz: 1980,
      processes: [{ pid: 568, type: 'C', processName: 'python3', usedMemoryBytes: 21702 * MIB }],
    });
    assert.deepEqual(report.gpus[1], {
      ...common,
      index: 1,
      minorNumber: 1,
      uuid: UUID1,
      pciBusId: '00000000:00:07.0',
      serial: '1652826072188',
      memUsedBytes: 0,
      memFreeBytes: 143156 * MIB,
      utilizationGpuPercent: 0,
      utilizationMemoryPercent: 0,
      temperatureC: 35,
      memoryTemperatureC: 40,
      powerDrawW: 80.54,
      smClockMHz: 345,
      processes: [],
    });
  });

  it('reads the recorded idle report: no processes, idle values', () => {
    const report = parseNvidiaSmiXml(fixture('nvidia-smi-q-idle.xml'));
    assert.equal(report.timestamp, 'Mon Nov 23 00:25:16 2026');
    assert.equal(report.driverVersion, '580.159.04');
    assert.equal(report.cudaVersion, '13.0');
    assert.deepEqual(
      report.gpus.map((g) => [g.index, g.minorNumber, g.uuid, g.memTotalBytes, g.memUsedBytes, g.utilizationGpuPercent, g.temperatureC, g.memoryTemperatureC, g.powerDrawW, g.smClockMHz, g.processes]),
      [
        [0, 0, UUID0, H200_BYTES, 0, 0, 37, 42, 80.31, 345, []],
        [1, 1, UUID1, H200_BYTES, 0, 0, 35, 41, 80.81, 345, []],
      ],
    );
  });

  it('the XML, the CSV and the table agree on the devices of the same machine', () => {
    const xml = parseNvidiaSmiXml(fixture('nvidia-smi-q-busy.xml'));
    const table = parseNvidiaSmiTable(fixture('nvidia-smi-busy.txt'));
    const fromXml: GpuDevice[] = xml.gpus.map((g) => ({ index: g.index, uuid: g.uuid, type: g.type, memBytes: g.memTotalBytes ?? 0 }));
    assert.deepEqual(fromXml, parseQueryGpuCsv(fixture('query-gpu-busy.csv')));
    assert.deepEqual(table.gpus.map((g) => [g.index, normaliseGpuType(g.name), g.pciBusId, g.memTotalBytes]), xml.gpus.map((g) => [g.index, g.type, g.pciBusId, g.memTotalBytes]));
    assert.deepEqual(
      parseComputeAppsCsv(fixture('query-apps-busy.csv')).map((a) => [a.pid, a.gpuUuid, a.usedMemoryBytes]),
      xml.gpus.flatMap((g) => g.processes.map((p) => [p.pid, g.uuid, p.usedMemoryBytes])),
    );
  });

  it('reads the older layout (power_readings, no CUDA version) and N/A values', () => {
    const old = `<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v10.dtd">
<nvidia_smi_log>
  <driver_version>470.82.01</driver_version>
  <attached_gpus>1</attached_gpus>
  <gpu id="00000000:3B:00.0">
    <product_name>Tesla V100-SXM2-32GB</product_name>
    <uuid>GPU-0a1b2c3d-0000-1111-2222-333344445555</uuid>
    <minor_number>N/A</minor_number>
    <fb_memory_usage><total>32510 MiB</total><used>N/A</used><free>32507 MiB</free></fb_memory_usage>
    <utilization><gpu_util>N/A</gpu_util></utilization>
    <temperature><gpu_temp>41 C</gpu_temp></temperature>
    <power_readings><power_draw>55.12 W</power_draw><power_limit>300.00 W</power_limit></power_readings>
    <processes/>
  </gpu>
</nvidia_smi_log>`;
    const report = parseNvidiaSmiXml(old);
    assert.equal(report.driverVersion, '470.82.01');
    assert.equal(report.cudaVersion, null);
    const [gpu] = report.gpus;
    assert.ok(gpu);
    assert.deepEqual(
      [gpu.index, gpu.minorNumber, gpu.type, gpu.pciBusId, gpu.memTotalBytes, gpu.memUsedBytes, gpu.utilizationGpuPercent, gpu.temperatureC, gpu.powerDrawW, gpu.powerLimitW, gpu.migMode, gpu.processes],
      [0, null, 'v100-sxm2-32gb', '00000000:3B:00.0', 32510 * MIB, null, null, 41, 55.12, 300, null, []],
    );
  });

  it('refuses XML that is not well formed, or not nvidia-smi output, naming the line', () => {
    assert.throws(() => parseNvidiaSmiXml('<nvidia_smi_log>\n<gpu>\n</nvidia_smi_log>'), /XML line 3: <\/nvidia_smi_log> closes <gpu>/);
    assert.throws(() => parseNvidiaSmiXml('<nvidia_smi_log>\n<gpu>'), /<gpu> is not closed/);
    assert.throws(() => parseNvidiaSmiXml('<?xml version="1.0"?><html></html>'), /not nvidia-smi -q -x output: the root element is <html>/);
    assert.throws(() => parseNvidiaSmiXml(''), /no root element/);
    assert.throws(() => parseNvidiaSmiXml(fixture('nvidia-smi-q-busy.xml').slice(0, 20_000)), /is not closed/);
  });
});

describe('parseXml', () => {
  it('reads attributes (with ">" in quotes), entities, CDATA, comments and self-closing tags', () => {
    const root = parseXml(`<?xml version="1.0"?><!DOCTYPE a [ <!ENTITY x "y"> ]><!-- c --><a k='v>w' n="&lt;1&gt;"><b>x &amp; y &#65;&#x42;</b><c/><d><![CDATA[<raw> & text]]></d></a>`);
    assert.deepEqual(root, {
      name: 'a',
      attributes: { k: 'v>w', n: '<1>' },
      text: '',
      children: [
        { name: 'b', attributes: {}, children: [], text: 'x & y AB' },
        { name: 'c', attributes: {}, children: [], text: '' },
        { name: 'd', attributes: {}, children: [], text: '<raw> & text' },
      ],
    });
  });

  it('refuses two roots, text outside the root and unclosed comments', () => {
    assert.throws(() => parseXml('<a/><b/>'), /a second root element <b>/);
    assert.throws(() => parseXml('hello <a/>'), /text outside the root element/);
    assert.throws(() => parseXml('<a><!-- open</a>'), /a comment is not closed/);
    assert.throws(() => parseXml('<a></b>'), /<\/b> closes <a>/);
  });
});

describe('parseNvidiaSmiTable', () => {
  it('reads the recorded busy table: versions, both GPUs and the process', () => {
    const { warn, warnings } = collector();
    const table = parseNvidiaSmiTable(fixture('nvidia-smi-busy.txt'), { warn });
    assert.deepEqual(warnings, []);
    const common = { name: 'NVIDIA H200', persistenceMode: 'On', fanPercent: null, performanceState: 'P0', powerLimitW: 700, memTotalBytes: H200_BYTES, computeMode: 'Default', migMode: 'Disabled' };
    assert.deepEqual(table, {
      smiVersion: '580.159.04',
      driverVersion: '580.159.04',
      cudaVersion: '13.0',
      gpus: [
        { ...common, index: 0, pciBusId: '00000000:00:06.0', temperatureC: 59, powerDrawW: 687, memUsedBytes: 21711 * MIB, utilizationGpuPercent: 100 },
        { ...common, index: 1, pciBusId: '00000000:00:07.0', temperatureC: 35, powerDrawW: 80, memUsedBytes: 0, utilizationGpuPercent: 0 },
      ],
      processes: [{ gpuIndex: 0, pid: 568, type: 'C', processName: 'python3', usedMemoryBytes: 21702 * MIB }],
    });
  });

  it('reads the recorded idle table: "No running processes found" is no process', () => {
    const { warn, warnings } = collector();
    const table = parseNvidiaSmiTable(fixture('nvidia-smi-idle.txt'), { warn });
    assert.deepEqual(warnings, []);
    assert.deepEqual(table.processes, []);
    assert.deepEqual(table.gpus.map((g) => [g.index, g.temperatureC, g.powerDrawW, g.memUsedBytes, g.utilizationGpuPercent]), [
      [0, 37, 80, 0, 0],
      [1, 36, 80, 0, 0],
    ]);
  });

  it('reads CRLF output and processes of older drivers (no GI/CI columns)', () => {
    const old = fixture('nvidia-smi-busy.txt')
      .replace('|    0   N/A  N/A             568      C   python3                               21702MiB |', '|    0              568      C   /usr/bin/python3 train.py             21702MiB |')
      .replaceAll('\n', '\r\n');
    const table = parseNvidiaSmiTable(old);
    assert.deepEqual(table.processes, [{ gpuIndex: 0, pid: 568, type: 'C', processName: '/usr/bin/python3 train.py', usedMemoryBytes: 21702 * MIB }]);
    assert.equal(table.gpus.length, 2);
  });
});

describe('parseNvidiaSmiTopo', () => {
  it('reads the recorded topology: the two GPUs joined by 18 NVLinks, CPU and NUMA affinity', () => {
    const { warn, warnings } = collector();
    assert.deepEqual(parseNvidiaSmiTopo(fixture('topo.txt'), { warn }), {
      devices: ['GPU0', 'GPU1'],
      links: { GPU0: { GPU0: 'X', GPU1: 'NV18' }, GPU1: { GPU0: 'NV18', GPU1: 'X' } },
      affinity: {
        GPU0: { 'CPU Affinity': '0-31', 'NUMA Affinity': '0', 'GPU NUMA ID': null },
        GPU1: { 'CPU Affinity': '0-31', 'NUMA Affinity': '0', 'GPU NUMA ID': null },
      },
    });
    assert.deepEqual(warnings, []);
  });

  it('reads a one-GPU machine recorded on an H100, colour codes and legend included', () => {
    const h100 = "\t\u001b[4mGPU0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\u001b[0m\nGPU0\t X \t0-15\t0\t\tN/A\n\nLegend:\n\n  X    = Self\n  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes (e.g., QPI/UPI)\n  NODE = Connection traversing PCIe as well as the interconnect between PCIe Host Bridges within a NUMA node\n  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge (typically the CPU)\n  PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe Host Bridge)\n  PIX  = Connection traversing at most a single PCIe bridge\n  NV#  = Connection traversing a bonded set of # NVLinks\n";
    assert.deepEqual(parseNvidiaSmiTopo(h100), {
      devices: ['GPU0'],
      links: { GPU0: { GPU0: 'X' } },
      affinity: { GPU0: { 'CPU Affinity': '0-15', 'NUMA Affinity': '0', 'GPU NUMA ID': null } },
    });
  });

  it('ignores colour codes and the legend that nvidia-smi prints on a terminal', () => {
    const coloured = `\x1b[4m${fixture('topo.txt').replace('\n', '\x1b[0m\n')}\nLegend:\n\n  X    = Self\n  SYS  = Connection traversing PCIe\n`;
    assert.deepEqual(parseNvidiaSmiTopo(coloured), parseNvidiaSmiTopo(fixture('topo.txt')));
  });
});

describe('discoverGpus and the other nvidia-smi runs', () => {
  /** A runner that answers like nvidia-smi would, recording what it was asked. */
  function fakeRunner(answer: (args: readonly string[]) => { code: number | null; stdout: string; stderr?: string }): { run: CommandRunner; calls: string[][] } {
    const calls: string[][] = [];
    return {
      calls,
      run: async (file, args) => {
        calls.push([file, ...args]);
        const { code, stdout, stderr = '' } = answer(args);
        return { code, stdout, stderr };
      },
    };
  }

  const enoent = async (): Promise<never> => {
    throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT', errno: -2, syscall: 'spawn nvidia-smi' });
  };

  it('asks nvidia-smi for index, uuid, name and memory as bare CSV, and returns the GPUs', async () => {
    const { run, calls } = fakeRunner(() => ({ code: 0, stdout: `0, ${UUID0}, NVIDIA H200, 143771\r\n1, ${UUID1}, NVIDIA H200, 143771\r\n` }));
    assert.deepEqual(await discoverGpus({ run }), { gpus: H200X2, reason: null, warnings: [] });
    assert.deepEqual(calls, [['nvidia-smi', `--query-gpu=${DISCOVERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits']]);
    assert.equal(calls[0]![1], '--query-gpu=index,uuid,name,memory.total');
  });

  it('an answer recorded on an H100 machine with this exact query', async () => {
    const { run } = fakeRunner(() => ({ code: 0, stdout: '0, GPU-39375159-0980-e2bd-772d-61f91b4f8a5e, NVIDIA H100 80GB HBM3, 81559\n' }));
    assert.deepEqual(await discoverGpus({ run }), {
      gpus: [{ index: 0, uuid: 'GPU-39375159-0980-e2bd-772d-61f91b4f8a5e', type: 'h100-80gb-hbm3', memBytes: 85_520_809_984 }],
      reason: null,
      warnings: [],
    });
  });

  it('no nvidia-smi (ENOENT): no GPUs, and the reason says it is not installed', async () => {
    const result = await discoverGpus({ run: enoent });
    assert.deepEqual(result.gpus, []);
    assert.match(result.reason ?? '', /^nvidia-smi is not installed \(not found on PATH\)/);
  });

  it('the real runner on a path that does not exist: no GPUs with the reason, no exception', async () => {
    const result = await discoverGpus({ nvidiaSmi: '/nonexistent/keisan-test/nvidia-smi' });
    assert.deepEqual(result.gpus, []);
    assert.match(result.reason ?? '', /^\/nonexistent\/keisan-test\/nvidia-smi is not installed/);
  });

  it('nvidia-smi failing (no driver, no devices, killed, permission) gives no GPUs and its own words', async () => {
    const cases: [Parameters<typeof fakeRunner>[0], RegExp][] = [
      [() => ({ code: 9, stdout: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n" }), /^nvidia-smi failed \(exit 9\): NVIDIA-SMI has failed because it couldn't communicate/],
      [() => ({ code: 6, stdout: 'No devices were found\n' }), /^nvidia-smi failed \(exit 6\): No devices were found$/],
      [() => ({ code: null, stdout: '' }), /^nvidia-smi was killed/],
      [() => ({ code: 2, stdout: '', stderr: 'Field "bogus" is not a valid field to query.\n' }), /exit 2\): Field "bogus" is not a valid field/],
    ];
    for (const [answer, reason] of cases) {
      const { run } = fakeRunner(answer);
      const result = await discoverGpus({ run });
      assert.deepEqual(result.gpus, []);
      assert.match(result.reason ?? '', reason);
    }
    const denied = await discoverGpus({ run: async () => Promise.reject(Object.assign(new Error('spawn EACCES'), { code: 'EACCES' })) });
    assert.match(denied.reason ?? '', /may not be run by this user/);
    const odd = await discoverGpus({ run: async () => Promise.reject(new Error('something else')) });
    assert.match(odd.reason ?? '', /could not be run: something else/);
  });

  it('exit 0 but nothing readable: no GPUs, the reason quotes the first problem', async () => {
    const { run } = fakeRunner(() => ({ code: 0, stdout: 'this is not CSV\n' }));
    const result = await discoverGpus({ run });
    assert.deepEqual(result.gpus, []);
    assert.match(result.reason ?? '', /^nvidia-smi's output could not be read: nvidia-smi --query-gpu line 1: expected 4/);
    assert.equal(result.warnings.length, 1);
    const empty = await discoverGpus({ run: fakeRunner(() => ({ code: 0, stdout: '' })).run });
    assert.deepEqual(empty, { gpus: [], reason: 'nvidia-smi lists no GPUs', warnings: [] });
  });

  it('sampleGpus and queryComputeApps run the recorded queries and read the recorded answers', async () => {
    const { run, calls } = fakeRunner((args) => ({
      code: 0,
      stdout: args[0]!.startsWith('--query-gpu=') ? fixture('query-gpu-busy.csv') : fixture('query-apps-busy.csv'),
    }));
    const samples = await sampleGpus({ run });
    assert.deepEqual(samples, { samples: parseGpuSamplesCsv(fixture('query-gpu-busy.csv')), reason: null, warnings: [] });
    const apps = await queryComputeApps({ run });
    assert.deepEqual(apps.apps.map((a) => [a.pid, a.gpuUuid]), [[568, UUID0]]);
    // The fixtures' README gives the exact commands they were recorded with.
    const readme = fixture('README.md');
    assert.ok(readme.includes(`nvidia-smi ${calls[0]!.slice(1).join(' ')}`), calls[0]!.join(' '));
    assert.ok(readme.includes(`nvidia-smi ${calls[1]!.slice(1).join(' ')}`), calls[1]!.join(' '));
    assert.deepEqual(await sampleGpus({ run: enoent }), { samples: [], reason: 'nvidia-smi is not installed (not found on PATH): no NVIDIA GPUs are used on this machine', warnings: [] });
  });
});
