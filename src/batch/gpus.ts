import { spawn } from 'node:child_process';
import type { GpuDevice } from './model.ts';

/**
 * GPU discovery and sampling from `nvidia-smi`, the tool every NVIDIA driver installs. Parsers
 * are pure functions over the text nvidia-smi prints (tested against recorded output of a real
 * 2 × H200 machine in ./fixtures/gpu-h200x2/); running the tool goes through an injected
 * runner, so nothing here needs a GPU to be tested.
 *
 * Formats read:
 * - `--query-gpu=… --format=csv[,noheader][,nounits]`: with a header, columns are found by
 *   name (and the header's `[MiB]` gives the unit); without one, the caller says which fields
 *   were asked for. Values may carry units (`143771 MiB`, `100 %`, `687.69 W`, `1980 MHz`) or
 *   not (`nounits`). `[N/A]`, `[Not Supported]` and other bracketed words mean "not reported".
 * - `--query-compute-apps=… --format=csv`
 * - `-q -x` (XML), read with the small XML reader below (the format is regular and the
 *   reader is ~80 lines; no dependency needed).
 * - the default table (`nvidia-smi` alone) and `nvidia-smi topo -m`.
 * Lines that cannot be read are skipped with a warning naming the line; nothing here throws
 * on odd input except parseXml on XML that is not well formed.
 */

const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------------- types

/** A richer view of one GPU at one moment, for monitoring. null = not reported. */
export interface GpuSample {
  index: number;
  uuid: string;
  /** The product name as nvidia-smi prints it, e.g. "NVIDIA H200". */
  name: string;
  /** normaliseGpuType(name), e.g. "h200". */
  type: string;
  pciBusId: string | null;
  memTotalBytes: number | null;
  memUsedBytes: number | null;
  memFreeBytes: number | null;
  utilizationGpuPercent: number | null;
  utilizationMemoryPercent: number | null;
  temperatureC: number | null;
  powerDrawW: number | null;
  powerLimitW: number | null;
  smClockMHz: number | null;
}

/** A process using a GPU (`--query-compute-apps`). */
export interface GpuComputeApp {
  pid: number;
  processName: string;
  gpuUuid: string;
  gpuBusId: string | null;
  /** null when not reported (e.g. "[N/A]" inside containers). */
  usedMemoryBytes: number | null;
}

export interface ParseOptions {
  /**
   * The fields asked for, in order, for output without a header (`noheader`). Ignored when
   * the text has a header line: then the header says which column is which.
   */
  fields?: readonly string[];
  /** Receives one message per line skipped or value not understood. */
  warn?: (message: string) => void;
}

// ---------------------------------------------------------------------------------- names

const VENDOR_PREFIX = /^(nvidia|tesla|amd|intel)\s+/i;

/**
 * A GPU model name as jobs ask for it: lower case, without the vendor, words joined by "-".
 * "NVIDIA H200" → "h200", "NVIDIA A100-SXM4-80GB" → "a100-sxm4-80gb",
 * "Tesla V100-SXM2-32GB" → "v100-sxm2-32gb", "NVIDIA GeForce RTX 4090" → "geforce-rtx-4090".
 */
export function normaliseGpuType(name: string): string {
  let text = name.trim();
  while (VENDOR_PREFIX.test(text)) text = text.replace(VENDOR_PREFIX, '');
  const type = text
    .toLowerCase()
    .replace(/\(tm\)|\(r\)/g, '')
    .replace(/[^a-z0-9.+]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return type === '' || type === 'n-a' ? 'unknown' : type;
}

// ---------------------------------------------------------------------------------- values

/** nvidia-smi's ways of saying a value is not there: "[N/A]", "N/A", "[Not Supported]", … */
export function isNotReported(cell: string): boolean {
  const text = cell.trim();
  return text === '' || /^\[.*\]$/.test(text) || /^(n\/a|not supported|unknown|not available)$/i.test(text);
}

interface Quantity {
  value: number;
  unit: string | null;
}

function quantity(cell: string): Quantity | null | 'bad' {
  if (isNotReported(cell)) return null;
  const match = /^([-+]?\d+(?:\.\d+)?)\s*([A-Za-z%/]+)?$/.exec(cell.trim());
  if (!match) return 'bad';
  return { value: Number(match[1]), unit: match[2] ?? null };
}

const BYTE_FACTORS: Record<string, number> = {
  b: 1,
  kib: 1024,
  kb: 1024,
  mib: MIB,
  mb: MIB,
  gib: 1024 * MIB,
  gb: 1024 * MIB,
  tib: 1024 * 1024 * MIB,
};

/** What a number means in each unit nvidia-smi uses, converted to the unit we keep. */
type Kind = 'bytes' | 'percent' | 'celsius' | 'watts' | 'mhz' | 'count';

const DEFAULT_UNIT: Record<Kind, string | null> = { bytes: 'MiB', percent: '%', celsius: 'C', watts: 'W', mhz: 'MHz', count: null };

function convert(q: Quantity, kind: Kind, headerUnit: string | null): number | 'bad' {
  const unit = q.unit ?? headerUnit ?? DEFAULT_UNIT[kind];
  switch (kind) {
    case 'bytes': {
      const factor = BYTE_FACTORS[(unit ?? 'MiB').toLowerCase()];
      return factor === undefined ? 'bad' : Math.round(q.value * factor);
    }
    case 'percent':
      return unit === null || unit === '%' ? q.value : 'bad';
    case 'celsius':
      return unit === null || /^c$/i.test(unit) ? q.value : 'bad';
    case 'watts':
      if (unit === null || unit === 'W') return q.value;
      return unit === 'mW' ? q.value / 1000 : 'bad';
    case 'mhz':
      if (unit === null || /^mhz$/i.test(unit)) return q.value;
      return /^ghz$/i.test(unit) ? q.value * 1000 : 'bad';
    case 'count':
      return unit === null ? q.value : 'bad';
  }
}

// ---------------------------------------------------------------------------------- CSV

/** Header names nvidia-smi prints that differ from the names one queries. */
const FIELD_ALIASES: Record<string, string> = {
  gpu_name: 'name',
  'clocks.current.sm': 'clocks.sm',
  'clocks.current.graphics': 'clocks.gr',
  'clocks.current.memory': 'clocks.mem',
  'clocks.current.video': 'clocks.video',
  used_gpu_memory: 'used_memory',
};

const canonicalField = (name: string) => {
  const lower = name.trim().toLowerCase();
  return FIELD_ALIASES[lower] ?? lower;
};

const HEADER_CELL = /^[a-z_][a-z0-9_.]*(\s*\[[^\]]*\])?$/i;

interface CsvRow {
  line: number;
  text: string;
  cells: Map<string, string>;
}

interface CsvTable {
  fields: string[];
  units: Map<string, string | null>;
  rows: CsvRow[];
}

/** Lines of nvidia-smi's output that are messages, not data. */
const MESSAGE_LINES = /^(no running processes found|no devices were found)\.?$/i;

/**
 * Splits nvidia-smi CSV into rows keyed by field name. A free-text field (the process name)
 * takes the extra cells when a value itself held a comma.
 */
function readCsv(text: string, what: string, options: ParseOptions, defaults: readonly string[], freeText: string | null): CsvTable {
  const warn = options.warn ?? (() => undefined);
  const lines = text.split(/\r\n|\n|\r/);
  let fields: string[] | null = null;
  const units = new Map<string, string | null>();
  const rows: CsvRow[] = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const number = i + 1;
    if (line === '' || MESSAGE_LINES.test(line)) return;
    let cells = line.split(',').map((c) => c.trim());
    if (fields === null) {
      if (cells.every((c) => HEADER_CELL.test(c))) {
        fields = cells.map((c) => canonicalField(c.replace(/\s*\[[^\]]*\]$/, '')));
        cells.forEach((c, k) => units.set(fields![k]!, /\[([^\]]*)\]$/.exec(c)?.[1] ?? null));
        return;
      }
      fields = defaults.map(canonicalField);
    }
    const want = fields.length;
    if (cells.length > want && freeText !== null && fields.includes(freeText)) {
      const at = fields.indexOf(freeText);
      const extra = cells.length - want;
      cells = [...cells.slice(0, at), cells.slice(at, at + extra + 1).join(','), ...cells.slice(at + extra + 1)];
    }
    if (cells.length !== want) {
      warn(`${what} line ${number}: expected ${want} comma-separated values (${fields.join(', ')}), found ${cells.length}: '${shorten(line)}'; skipped`);
      return;
    }
    rows.push({ line: number, text: line, cells: new Map(fields.map((f, k) => [f, cells[k]!])) });
  });
  return { fields: fields ?? defaults.map(canonicalField), units, rows };
}

const shorten = (text: string) => (text.length > 120 ? `${text.slice(0, 117)}...` : text);

/** Reads typed values out of one CSV row, collecting what could not be understood. */
class RowReader {
  readonly problems: string[] = [];
  constructor(
    private readonly row: CsvRow,
    private readonly units: Map<string, string | null>,
  ) {}

  has(field: string): boolean {
    return this.row.cells.has(field);
  }

  text(field: string): string | null {
    const cell = this.row.cells.get(field);
    return cell === undefined || isNotReported(cell) ? null : cell;
  }

  number(field: string, kind: Kind): number | null {
    const cell = this.row.cells.get(field);
    if (cell === undefined) return null;
    const q = quantity(cell);
    if (q === null) return null;
    const value = q === 'bad' ? 'bad' : convert(q, kind, this.units.get(field) ?? null);
    if (value === 'bad') {
      this.problems.push(`${field} '${cell}' is not a ${kind === 'count' ? 'number' : `number of ${DEFAULT_UNIT[kind] ?? kind}`}`);
      return null;
    }
    return value;
  }

  integer(field: string): number | null {
    const value = this.number(field, 'count');
    if (value !== null && !Number.isInteger(value)) {
      this.problems.push(`${field} '${this.row.cells.get(field)}' is not a whole number`);
      return null;
    }
    return value;
  }
}

/** The fields `discoverGpus` asks for. */
export const DISCOVERY_FIELDS = ['index', 'uuid', 'name', 'memory.total'] as const;

/** The fields `sampleGpus` asks for (the query of the recorded fixtures). */
export const SAMPLE_FIELDS = [
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'memory.total',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'utilization.memory',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'clocks.sm',
] as const;

/** The fields `queryComputeApps` asks for. */
export const COMPUTE_APPS_FIELDS = ['pid', 'process_name', 'gpu_uuid', 'gpu_bus_id', 'used_memory'] as const;

/**
 * `--query-gpu` output (any field set that includes index, uuid and name) as samples, sorted by
 * index. Rows without a usable index, uuid or name are skipped with a warning; other values
 * that are missing or not reported are null.
 */
export function parseGpuSamplesCsv(text: string, options: ParseOptions = {}): GpuSample[] {
  const warn = options.warn ?? (() => undefined);
  const table = readCsv(text, 'nvidia-smi --query-gpu', options, options.fields ?? SAMPLE_FIELDS, 'name');
  for (const required of ['index', 'uuid', 'name']) {
    if (!table.fields.includes(required)) {
      if (table.rows.length > 0) warn(`nvidia-smi --query-gpu output has no '${required}' column (columns: ${table.fields.join(', ')}); nothing read`);
      return [];
    }
  }
  const samples: GpuSample[] = [];
  const seen = new Set<string>();
  for (const row of table.rows) {
    const r = new RowReader(row, table.units);
    const index = r.integer('index');
    const uuid = r.text('uuid');
    const name = r.text('name');
    const sample: Omit<GpuSample, 'index' | 'uuid' | 'name' | 'type'> = {
      pciBusId: r.text('pci.bus_id'),
      memTotalBytes: r.number('memory.total', 'bytes'),
      memUsedBytes: r.number('memory.used', 'bytes'),
      memFreeBytes: r.number('memory.free', 'bytes'),
      utilizationGpuPercent: r.number('utilization.gpu', 'percent'),
      utilizationMemoryPercent: r.number('utilization.memory', 'percent'),
      temperatureC: r.number('temperature.gpu', 'celsius'),
      powerDrawW: r.number('power.draw', 'watts'),
      powerLimitW: r.number('power.limit', 'watts'),
      smClockMHz: r.number('clocks.sm', 'mhz'),
    };
    const where = `nvidia-smi --query-gpu line ${row.line}`;
    if (index === null || index < 0 || uuid === null || /\s/.test(uuid) || name === null) {
      const why = index === null || index < 0 ? `no GPU index ('${row.cells.get('index')}')` : uuid === null || /\s/.test(uuid) ? `no GPU uuid ('${row.cells.get('uuid')}')` : 'no GPU name';
      warn(`${where}: ${why}: '${shorten(row.text)}'; skipped`);
      continue;
    }
    for (const problem of r.problems) warn(`${where}: ${problem}; taken as not reported`);
    if (seen.has(`i${index}`) || seen.has(`u${uuid}`)) {
      warn(`${where}: GPU ${index} (${uuid}) is listed twice; the second is skipped`);
      continue;
    }
    seen.add(`i${index}`).add(`u${uuid}`);
    samples.push({ index, uuid, name, type: normaliseGpuType(name), ...sample });
  }
  return samples.sort((a, b) => a.index - b.index);
}

/**
 * `--query-gpu` output as the devices the scheduler assigns: index, uuid, type, memory. Reads
 * the discovery query (`index,uuid,name,memory.total`, with or without header and units) and
 * any wider one with a header, such as the monitoring query.
 */
export function parseQueryGpuCsv(text: string, options: ParseOptions = {}): GpuDevice[] {
  const warn = options.warn ?? (() => undefined);
  const samples = parseGpuSamplesCsv(text, { ...options, fields: options.fields ?? DISCOVERY_FIELDS });
  return samples.map((s) => {
    if (s.memTotalBytes === null) warn(`GPU ${s.index} (${s.uuid}) does not report its memory size; taken as 0`);
    return { index: s.index, uuid: s.uuid, type: s.type, memBytes: s.memTotalBytes ?? 0 };
  });
}

/** `--query-compute-apps` output: the processes using GPUs. */
export function parseComputeAppsCsv(text: string, options: ParseOptions = {}): GpuComputeApp[] {
  const warn = options.warn ?? (() => undefined);
  const table = readCsv(text, 'nvidia-smi --query-compute-apps', options, options.fields ?? COMPUTE_APPS_FIELDS, 'process_name');
  const apps: GpuComputeApp[] = [];
  for (const row of table.rows) {
    const r = new RowReader(row, table.units);
    const pid = r.integer('pid');
    const gpuUuid = r.text('gpu_uuid');
    const where = `nvidia-smi --query-compute-apps line ${row.line}`;
    if (pid === null || pid <= 0 || gpuUuid === null) {
      warn(`${where}: ${pid === null || pid <= 0 ? `no process id ('${row.cells.get('pid')}')` : 'no GPU uuid'}: '${shorten(row.text)}'; skipped`);
      continue;
    }
    const usedMemoryBytes = r.number('used_memory', 'bytes');
    for (const problem of r.problems) warn(`${where}: ${problem}; taken as not reported`);
    apps.push({ pid, processName: r.text('process_name') ?? '', gpuUuid, gpuBusId: r.text('gpu_bus_id'), usedMemoryBytes });
  }
  return apps;
}

// ---------------------------------------------------------------------------------- XML

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text, entities decoded, trimmed. */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[body] ?? whole;
  });
}

/**
 * A small XML reader, enough for nvidia-smi's `-q -x` (elements, attributes, text, comments,
 * the DOCTYPE, CDATA). Throws an Error naming the line on XML that is not well formed.
 */
export function parseXml(text: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let pos = 0;
  const lineOf = (at: number) => text.slice(0, at).split('\n').length;
  const fail = (at: number, message: string): never => {
    throw new Error(`XML line ${lineOf(at)}: ${message}`);
  };
  const find = (needle: string, from: number, what: string) => {
    const at = text.indexOf(needle, from);
    return at === -1 ? fail(from, `${what} is not closed`) : at;
  };
  const addText = (at: number, chunk: string) => {
    const top = stack.at(-1);
    if (top) top.text += chunk;
    else if (chunk.trim() !== '') fail(at, 'text outside the root element');
  };
  while (pos < text.length) {
    const lt = text.indexOf('<', pos);
    addText(pos, decodeEntities(lt === -1 ? text.slice(pos) : text.slice(pos, lt)));
    if (lt === -1) break;
    if (text.startsWith('<!--', lt)) {
      pos = find('-->', lt + 4, 'a comment') + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const end = find(']]>', lt + 9, 'a CDATA section');
      addText(lt, text.slice(lt + 9, end));
      pos = end + 3;
    } else if (text.startsWith('<?', lt)) {
      pos = find('?>', lt + 2, 'a processing instruction') + 2;
    } else if (text.startsWith('<!', lt)) {
      // <!DOCTYPE …>, possibly with an internal subset in [ ].
      let depth = 0;
      let i = lt + 2;
      for (; i < text.length; i++) {
        const c = text[i];
        if (c === '[') depth++;
        else if (c === ']') depth--;
        else if (c === '>' && depth <= 0) break;
      }
      if (i >= text.length) fail(lt, 'a declaration is not closed');
      pos = i + 1;
    } else if (text.startsWith('</', lt)) {
      const gt = find('>', lt, 'an end tag');
      const name = text.slice(lt + 2, gt).trim();
      const open = stack.pop();
      if (!open) fail(lt, `</${name}> closes nothing`);
      else if (open.name !== name) fail(lt, `</${name}> closes <${open.name}>`);
      else {
        open.text = open.text.trim();
        if (stack.length === 0) root = open;
      }
      pos = gt + 1;
    } else {
      // A start tag; attribute values may hold '>'.
      let i = lt + 1;
      let quote: string | null = null;
      for (; i < text.length; i++) {
        const c = text[i];
        if (quote) {
          if (c === quote) quote = null;
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      if (i >= text.length) fail(lt, 'a start tag is not closed');
      const inner = text.slice(lt + 1, i);
      const selfClosing = inner.endsWith('/');
      const body = selfClosing ? inner.slice(0, -1) : inner;
      const nameMatch = /^([A-Za-z_:][\w:.-]*)/.exec(body);
      if (!nameMatch) fail(lt, `'<${shorten(body)}' is not a tag`);
      const element: XmlElement = { name: nameMatch![1]!, attributes: {}, children: [], text: '' };
      for (const a of body.slice(nameMatch![1]!.length).matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        element.attributes[a[1]!] = decodeEntities(a[2] ?? a[3] ?? '');
      }
      const parent = stack.at(-1);
      if (parent) parent.children.push(element);
      else if (root) fail(lt, `a second root element <${element.name}>`);
      if (selfClosing) {
        if (!parent) root = element;
      } else stack.push(element);
      pos = i + 1;
    }
  }
  if (stack.length > 0) fail(text.length, `<${stack.at(-1)!.name}> is not closed`);
  if (!root) fail(0, 'no root element');
  return root!;
}

/** The first descendant along a path of element names: childAt(gpu, 'fb_memory_usage', 'total'). */
export function childAt(element: XmlElement | undefined, ...path: string[]): XmlElement | undefined {
  let current = element;
  for (const name of path) current = current?.children.find((c) => c.name === name);
  return current;
}

const xmlText = (element: XmlElement | undefined, ...path: string[]): string | null => {
  const found = childAt(element, ...path);
  return found === undefined || isNotReported(found.text) ? null : found.text;
};

/** A process on a GPU, from the XML report or the default table. */
export interface GpuProcess {
  pid: number;
  /** "C" compute, "G" graphics, "C+G"; null when not shown. */
  type: string | null;
  processName: string;
  usedMemoryBytes: number | null;
}

export interface NvidiaSmiXmlGpu extends GpuSample {
  /** The /dev/nvidiaN number; may differ from the index (nvidia-smi's enumeration order). */
  minorNumber: number | null;
  productBrand: string | null;
  architecture: string | null;
  serial: string | null;
  memReservedBytes: number | null;
  memoryTemperatureC: number | null;
  persistenceMode: string | null;
  /** Current MIG mode ("Enabled" / "Disabled"), null on GPUs without MIG. */
  migMode: string | null;
  computeMode: string | null;
  performanceState: string | null;
  processes: GpuProcess[];
}

export interface NvidiaSmiXmlReport {
  timestamp: string | null;
  driverVersion: string | null;
  cudaVersion: string | null;
  attachedGpus: number | null;
  gpus: NvidiaSmiXmlGpu[];
}

/**
 * `nvidia-smi -q -x`. The XML has no index element: GPUs appear in nvidia-smi's index order,
 * so the position is the index (the one CUDA_VISIBLE_DEVICES and --query-gpu use); the minor
 * number is reported separately. Reads both the current layout (gpu_power_readings, driver
 * 530 and later) and the older one (power_readings).
 */
export function parseNvidiaSmiXml(text: string, options: Pick<ParseOptions, 'warn'> = {}): NvidiaSmiXmlReport {
  const warn = options.warn ?? (() => undefined);
  const root = parseXml(text);
  if (root.name !== 'nvidia_smi_log') throw new Error(`not nvidia-smi -q -x output: the root element is <${root.name}>, not <nvidia_smi_log>`);
  const attached = xmlText(root, 'attached_gpus');
  const gpuElements = root.children.filter((c) => c.name === 'gpu');
  const gpus = gpuElements.map((gpu, index): NvidiaSmiXmlGpu => {
    const where = `GPU ${index}`;
    const num = (kind: Kind, ...path: string[]): number | null => {
      const cell = xmlText(gpu, ...path);
      if (cell === null) return null;
      const q = quantity(cell);
      const value = q === null ? null : q === 'bad' ? 'bad' : convert(q, kind, null);
      if (value === 'bad') {
        warn(`nvidia-smi -q -x ${where}: ${path.join('/')} '${cell}' is not understood; taken as not reported`);
        return null;
      }
      return value;
    };
    const name = xmlText(gpu, 'product_name') ?? 'unknown';
    const minor = num('count', 'minor_number');
    const processes = (childAt(gpu, 'processes')?.children ?? [])
      .filter((p) => p.name === 'process_info')
      .flatMap((p): GpuProcess[] => {
        const pid = Number(xmlText(p, 'pid'));
        if (!Number.isInteger(pid) || pid <= 0) {
          warn(`nvidia-smi -q -x ${where}: a process without a valid pid ('${xmlText(p, 'pid') ?? ''}'); skipped`);
          return [];
        }
        const used = xmlText(p, 'used_memory');
        const q = used === null ? null : quantity(used);
        const bytes = q === null || q === 'bad' ? null : convert(q, 'bytes', null);
        return [{ pid, type: xmlText(p, 'type'), processName: xmlText(p, 'process_name') ?? '', usedMemoryBytes: bytes === 'bad' ? null : bytes }];
      });
    return {
      index,
      uuid: xmlText(gpu, 'uuid') ?? '',
      name,
      type: normaliseGpuType(name),
      pciBusId: gpu.attributes.id ?? xmlText(gpu, 'pci', 'pci_bus_id'),
      memTotalBytes: num('bytes', 'fb_memory_usage', 'total'),
      memUsedBytes: num('bytes', 'fb_memory_usage', 'used'),
      memFreeBytes: num('bytes', 'fb_memory_usage', 'free'),
      utilizationGpuPercent: num('percent', 'utilization', 'gpu_util'),
      utilizationMemoryPercent: num('percent', 'utilization', 'memory_util'),
      temperatureC: num('celsius', 'temperature', 'gpu_temp'),
      powerDrawW:
        num('watts', 'gpu_power_readings', 'average_power_draw') ??
        num('watts', 'gpu_power_readings', 'instant_power_draw') ??
        num('watts', 'power_readings', 'power_draw'),
      powerLimitW: num('watts', 'gpu_power_readings', 'current_power_limit') ?? num('watts', 'power_readings', 'power_limit'),
      smClockMHz: num('mhz', 'clocks', 'sm_clock'),
      minorNumber: minor,
      productBrand: xmlText(gpu, 'product_brand'),
      architecture: xmlText(gpu, 'product_architecture'),
      serial: xmlText(gpu, 'serial'),
      memReservedBytes: num('bytes', 'fb_memory_usage', 'reserved'),
      memoryTemperatureC: num('celsius', 'temperature', 'memory_temp'),
      persistenceMode: xmlText(gpu, 'persistence_mode'),
      migMode: xmlText(gpu, 'mig_mode', 'current_mig'),
      computeMode: xmlText(gpu, 'compute_mode'),
      performanceState: xmlText(gpu, 'performance_state'),
      processes,
    };
  });
  const attachedGpus = attached === null ? null : Number(attached);
  if (attachedGpus !== null && attachedGpus !== gpus.length) {
    warn(`nvidia-smi -q -x says ${attachedGpus} GPUs are attached but describes ${gpus.length}`);
  }
  return {
    timestamp: xmlText(root, 'timestamp'),
    driverVersion: xmlText(root, 'driver_version'),
    cudaVersion: xmlText(root, 'cuda_version'),
    attachedGpus: attachedGpus !== null && Number.isInteger(attachedGpus) ? attachedGpus : null,
    gpus,
  };
}

// ---------------------------------------------------------------------------------- default table

export interface NvidiaSmiTableGpu {
  index: number;
  /** As shown in the table: long names may be cut short there. */
  name: string;
  pciBusId: string;
  persistenceMode: string | null;
  fanPercent: number | null;
  temperatureC: number | null;
  performanceState: string | null;
  powerDrawW: number | null;
  powerLimitW: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  utilizationGpuPercent: number | null;
  computeMode: string | null;
  migMode: string | null;
}

export interface NvidiaSmiTable {
  smiVersion: string | null;
  driverVersion: string | null;
  cudaVersion: string | null;
  gpus: NvidiaSmiTableGpu[];
  processes: (GpuProcess & { gpuIndex: number })[];
}

const tableNumber = (cell: string | undefined, kind: Kind): number | null => {
  if (cell === undefined) return null;
  const q = quantity(cell);
  if (q === null || q === 'bad') return null;
  const value = convert(q, kind, null);
  return value === 'bad' ? null : value;
};

/**
 * The table `nvidia-smi` prints with no arguments: what a person pastes into a ticket. The
 * machine-readable formats are better; this reads the table when that is all there is.
 */
export function parseNvidiaSmiTable(text: string, options: Pick<ParseOptions, 'warn'> = {}): NvidiaSmiTable {
  const warn = options.warn ?? (() => undefined);
  const lines = text.split(/\r\n|\n|\r/);
  const result: NvidiaSmiTable = { smiVersion: null, driverVersion: null, cudaVersion: null, gpus: [], processes: [] };
  let section: 'head' | 'gpus' | 'processes-head' | 'processes' | 'done' = 'head';
  let current: NvidiaSmiTableGpu | null = null;
  let rowOfGpu = 0;
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    const number = i + 1;
    const version = /NVIDIA-SMI\s+(\S+)\s+Driver Version:\s+(\S+)(?:\s+CUDA Version:\s+(\S+))?/.exec(line);
    if (version) {
      result.smiVersion = version[1]!;
      result.driverVersion = version[2]!;
      result.cudaVersion = version[3] && !isNotReported(version[3]) ? version[3] : null;
      return;
    }
    if (/^\|\s*Processes:/.test(line)) {
      section = 'processes-head';
      return;
    }
    if (/^\|=+/.test(line)) {
      if (section === 'head') section = 'gpus';
      else if (section === 'processes-head') section = 'processes';
      return;
    }
    if (section === 'gpus') {
      if (line === '') {
        section = 'done';
        return;
      }
      if (/^\+[-+]+\+$/.test(line)) {
        current = null;
        return;
      }
      if (!line.startsWith('|')) return;
      const cells = line.split('|').slice(1, -1);
      if (cells.length < 3) return;
      const [left = '', middle = '', right = ''] = cells;
      const first = /^\s*(\d+)\s+(.+?)\s+(On|Off)\s*$/.exec(left);
      if (current === null && first) {
        const bus = /^\s*(\S+)\s+(\S+)\s*$/.exec(middle);
        current = {
          index: Number(first[1]),
          name: first[2]!,
          pciBusId: bus?.[1] ?? '',
          persistenceMode: first[3]!,
          fanPercent: null,
          temperatureC: null,
          performanceState: null,
          powerDrawW: null,
          powerLimitW: null,
          memUsedBytes: null,
          memTotalBytes: null,
          utilizationGpuPercent: null,
          computeMode: null,
          migMode: null,
        };
        result.gpus.push(current);
        rowOfGpu = 1;
        return;
      }
      if (current === null) {
        warn(`nvidia-smi table line ${number}: not a GPU row: '${shorten(line.trim())}'; skipped`);
        return;
      }
      const gpu: NvidiaSmiTableGpu = current;
      rowOfGpu++;
      if (rowOfGpu === 2) {
        const state = /^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*\/\s*(\S+)\s*$/.exec(left);
        if (state) {
          gpu.fanPercent = tableNumber(state[1]!.replace(/%$/, ' %'), 'percent');
          gpu.temperatureC = tableNumber(state[2]!.replace(/C$/, ' C'), 'celsius');
          gpu.performanceState = isNotReported(state[3]!) ? null : state[3]!;
          gpu.powerDrawW = tableNumber(state[4]!, 'watts');
          gpu.powerLimitW = tableNumber(state[5]!, 'watts');
        }
        const memory = /^\s*(\S+)\s*\/\s*(\S+)\s*$/.exec(middle);
        if (memory) {
          gpu.memUsedBytes = tableNumber(memory[1]!, 'bytes');
          gpu.memTotalBytes = tableNumber(memory[2]!, 'bytes');
        }
        const util = /^\s*(\S+?)%?\s+(\S+)\s*$/.exec(right);
        if (util) {
          gpu.utilizationGpuPercent = tableNumber(util[1]!, 'percent');
          gpu.computeMode = util[2]!;
        }
        if (!state || !memory || !util) warn(`nvidia-smi table line ${number}: GPU ${gpu.index}'s state row is not understood: '${shorten(line.trim())}'`);
      } else if (rowOfGpu === 3) {
        const mig = right.trim();
        gpu.migMode = mig === '' || isNotReported(mig) ? null : mig;
      }
      return;
    }
    if (section === 'processes') {
      if (!line.startsWith('|')) return;
      const body = line.slice(1, -1).trim();
      if (body === '' || MESSAGE_LINES.test(body)) return;
      // GPU  GI  CI  PID  Type  Process name  GPU Memory (the GI and CI columns since driver 450)
      const withInstances = /^(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(C\+G|C|G|M\+C|M)\s+(.*?)\s+(\S+)$/.exec(body);
      const plain = withInstances ? null : /^(\d+)\s+(\d+)\s+(C\+G|C|G)\s+(.*?)\s+(\S+)$/.exec(body);
      if (withInstances) {
        result.processes.push({
          gpuIndex: Number(withInstances[1]),
          pid: Number(withInstances[4]),
          type: withInstances[5]!,
          processName: withInstances[6]!,
          usedMemoryBytes: tableNumber(withInstances[7]!, 'bytes'),
        });
      } else if (plain) {
        result.processes.push({ gpuIndex: Number(plain[1]), pid: Number(plain[2]), type: plain[3]!, processName: plain[4]!, usedMemoryBytes: tableNumber(plain[5]!, 'bytes') });
      } else {
        warn(`nvidia-smi table line ${number}: not a process row: '${shorten(body)}'; skipped`);
      }
    }
  });
  return result;
}

// ---------------------------------------------------------------------------------- topology

export interface GpuTopology {
  /** The device columns in order: "GPU0", "GPU1", and "NIC0"… where shown. */
  devices: string[];
  /** links[a][b]: "X" (self), "NV18" (18 NVLinks), "SYS", "NODE", "PHB", "PXB", "PIX". */
  links: Record<string, Record<string, string>>;
  /** Per device row: the CPU and NUMA affinity columns, by their header name. */
  affinity: Record<string, Record<string, string | null>>;
}

/** `nvidia-smi topo -m` (colour codes stripped, or not: they are removed here too). */
export function parseNvidiaSmiTopo(text: string, options: Pick<ParseOptions, 'warn'> = {}): GpuTopology {
  const warn = options.warn ?? (() => undefined);
  // eslint-disable-next-line no-control-regex
  const lines = text.replace(/\x1b\[[0-9;]*m/g, '').split(/\r\n|\n|\r/);
  const headerAt = lines.findIndex((l) => {
    const cells = l.split('\t').map((c) => c.trim());
    return cells[0] === '' && cells.includes('GPU0');
  });
  const topology: GpuTopology = { devices: [], links: {}, affinity: {} };
  if (headerAt === -1) {
    if (text.trim() !== '') warn('nvidia-smi topo -m: no header line with GPU0 found; nothing read');
    return topology;
  }
  const header = lines[headerAt]!.split('\t').map((c) => c.trim()).slice(1);
  const deviceCount = header.findIndex((h) => !/^(GPU|NIC)\d+$/.test(h));
  const devices = deviceCount === -1 ? header : header.slice(0, deviceCount);
  const extras = deviceCount === -1 ? [] : header.slice(deviceCount).filter((h) => h !== '');
  topology.devices = devices;
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || /^\s*Legend/i.test(line)) break;
    const cells = line.split('\t').map((c) => c.trim());
    const name = cells[0]!;
    if (!devices.includes(name)) {
      warn(`nvidia-smi topo -m line ${i + 1}: '${shorten(name)}' is not one of the devices ${devices.join(', ')}; skipped`);
      continue;
    }
    const links = cells.slice(1, 1 + devices.length);
    if (links.length !== devices.length || links.some((l) => l === '')) {
      warn(`nvidia-smi topo -m line ${i + 1}: expected ${devices.length} link columns for ${name}; skipped`);
      continue;
    }
    topology.links[name] = Object.fromEntries(devices.map((d, k) => [d, links[k]!]));
    let rest = cells.slice(1 + devices.length);
    // nvidia-smi pads some rows with an empty column; keep the columns aligned with the header.
    if (rest.length > extras.length) rest = rest.filter((c) => c !== '');
    topology.affinity[name] = Object.fromEntries(extras.map((h, k) => [h, rest[k] === undefined || isNotReported(rest[k]!) ? null : rest[k]!]));
  }
  return topology;
}

// ---------------------------------------------------------------------------------- running nvidia-smi

export interface CommandResult {
  /** Exit status; null when killed by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program without a shell. Rejects only when it cannot be started (an Error with
 * `code: 'ENOENT'` when it is not installed); a non-zero exit resolves with the code.
 */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

/** The real runner: a child process with a time limit (a wedged driver can hang nvidia-smi). */
export function spawnRunner(timeoutMs = 20_000): CommandRunner {
  return (file, args) =>
    new Promise((resolve, reject) => {
      // Our own timer, not spawn's `timeout`: that one outlives a spawn that failed (ENOENT) and holds the process open.
      const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      timer.unref();
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
}

export interface GpuToolOptions {
  run?: CommandRunner;
  /** The nvidia-smi to run (default: found on PATH). */
  nvidiaSmi?: string;
}

export interface GpuDiscovery {
  gpus: GpuDevice[];
  /** Why no GPUs were found; null when some were. */
  reason: string | null;
  warnings: string[];
}

type Outcome = { ok: true; stdout: string; warnings: string[] } | { ok: false; reason: string; warnings: string[] };

async function runNvidiaSmi(options: GpuToolOptions, args: string[]): Promise<Outcome> {
  const run = options.run ?? spawnRunner();
  const file = options.nvidiaSmi ?? 'nvidia-smi';
  let result: CommandResult;
  try {
    result = await run(file, args);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const reason =
      code === 'ENOENT'
        ? `${file} is not installed (not found on PATH): no NVIDIA GPUs are used on this machine`
        : code === 'EACCES'
          ? `${file} may not be run by this user (permission denied)`
          : `${file} could not be run: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, reason, warnings: [] };
  }
  if (result.code !== 0) {
    const said = firstLine(result.stdout) || firstLine(result.stderr);
    const how = result.code === null ? 'was killed (it did not finish in time?)' : `failed (exit ${result.code})`;
    return { ok: false, reason: `${file} ${how}${said ? `: ${said}` : ''}`, warnings: [] };
  }
  return { ok: true, stdout: result.stdout, warnings: result.stderr.trim() ? [`${file} wrote to stderr: ${firstLine(result.stderr)}`] : [] };
}

const firstLine = (text: string) => shorten(text.trim().split(/\r?\n/)[0]?.trim() ?? '');

/**
 * The GPUs of this machine, for the scheduler. Never throws: without nvidia-smi, or when it
 * fails (no driver loaded, "No devices were found"), returns no GPUs and the reason.
 */
export async function discoverGpus(options: GpuToolOptions = {}): Promise<GpuDiscovery> {
  const outcome = await runNvidiaSmi(options, [`--query-gpu=${DISCOVERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits']);
  if (!outcome.ok) return { gpus: [], reason: outcome.reason, warnings: outcome.warnings };
  const warnings = [...outcome.warnings];
  const gpus = parseQueryGpuCsv(outcome.stdout, { fields: DISCOVERY_FIELDS, warn: (m) => warnings.push(m) });
  const reason = gpus.length > 0 ? null : warnings.length > 0 ? `nvidia-smi's output could not be read: ${warnings[0]}` : 'nvidia-smi lists no GPUs';
  return { gpus, reason, warnings };
}

/** The current state of each GPU, for monitoring. Never throws (see discoverGpus). */
export async function sampleGpus(options: GpuToolOptions = {}): Promise<{ samples: GpuSample[]; reason: string | null; warnings: string[] }> {
  const outcome = await runNvidiaSmi(options, [`--query-gpu=${SAMPLE_FIELDS.join(',')}`, '--format=csv']);
  if (!outcome.ok) return { samples: [], reason: outcome.reason, warnings: outcome.warnings };
  const warnings = [...outcome.warnings];
  const samples = parseGpuSamplesCsv(outcome.stdout, { fields: SAMPLE_FIELDS, warn: (m) => warnings.push(m) });
  return { samples, reason: samples.length > 0 ? null : 'nvidia-smi reported no GPUs', warnings };
}

/** The processes using GPUs now (to find who holds a GPU). Never throws. */
export async function queryComputeApps(options: GpuToolOptions = {}): Promise<{ apps: GpuComputeApp[]; reason: string | null; warnings: string[] }> {
  const outcome = await runNvidiaSmi(options, [`--query-compute-apps=${COMPUTE_APPS_FIELDS.join(',')}`, '--format=csv']);
  if (!outcome.ok) return { apps: [], reason: outcome.reason, warnings: outcome.warnings };
  const warnings = [...outcome.warnings];
  const apps = parseComputeAppsCsv(outcome.stdout, { fields: COMPUTE_APPS_FIELDS, warn: (m) => warnings.push(m) });
  return { apps, reason: null, warnings };
}

/** The /dev/nvidiaN minor number of each GPU, by uuid, from `nvidia-smi -q -x`. Never throws; empty when unknown. */
export async function gpuMinorNumbers(options: GpuToolOptions = {}): Promise<Map<string, number>> {
  const outcome = await runNvidiaSmi(options, ['-q', '-x']);
  const minors = new Map<string, number>();
  if (!outcome.ok) return minors;
  try {
    for (const gpu of parseNvidiaSmiXml(outcome.stdout).gpus) if (gpu.minorNumber !== null) minors.set(gpu.uuid, gpu.minorNumber);
  } catch {
    // unreadable: GPUs stay unfenced, and the executor says so
  }
  return minors;
}
