import { formatDuration, formatSize } from '../../lib/units.ts';

/**
 * Alert summaries and descriptions: `{{ $labels.host }}`, `{{ $value }}`, `{{ $summary }}` (the
 * latest check result's summary), with optional pipes as in Prometheus templates:
 * `{{ $value | humanize }}`, `| humanize1024`, `| humanizePercentage`, `| humanizeDuration`,
 * `| printf "%.1f"`. Checked when the settings load, so a typo is a config error, not a blank.
 */
export interface TemplateData {
  labels: Record<string, string>;
  value: number;
  summary: string;
}

const PLACEHOLDER = /\{\{\s*(.*?)\s*\}\}/g;
const PIPES = ['humanize', 'humanize1024', 'humanizePercentage', 'humanizeDuration'];

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}

function humanize(value: number): string {
  if (!Number.isFinite(value) || value === 0) return formatNumber(value);
  const prefixes = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const;
  for (const [factor, prefix] of prefixes) if (Math.abs(value) >= factor) return `${Number((value / factor).toFixed(2))}${prefix}`;
  return String(Number(value.toFixed(3)));
}

function apply(pipe: string, value: unknown): string {
  const number = typeof value === 'number' ? value : Number(value);
  if (pipe === 'humanize') return humanize(number);
  if (pipe === 'humanize1024') return formatSize(number);
  if (pipe === 'humanizePercentage') return `${Number((number * 100).toFixed(1))}%`;
  if (pipe === 'humanizeDuration') return formatDuration(number * 1000);
  const printf = /^printf\s+"%\.(\d)f"$/.exec(pipe);
  if (printf) return number.toFixed(Number(printf[1]));
  return String(value);
}

/** Why a template cannot be rendered, or null when it is fine. */
export function templateProblem(template: string): string | null {
  for (const match of template.matchAll(PLACEHOLDER)) {
    const [head, ...pipes] = match[1]!.split('|').map((part) => part.trim());
    if (!/^\$(value|summary|labels\.[a-zA-Z_][a-zA-Z0-9_]*)$/.test(head ?? '')) {
      return `'${match[0]}' at column ${match.index + 1}: write {{ $value }}, {{ $summary }} or {{ $labels.NAME }}`;
    }
    for (const pipe of pipes) {
      if (!PIPES.includes(pipe) && !/^printf\s+"%\.\df"$/.test(pipe)) {
        return `'${match[0]}': unknown '| ${pipe}': use ${PIPES.join(', ')} or printf "%.1f"`;
      }
    }
  }
  const rest = template.replace(PLACEHOLDER, '');
  if (rest.includes('{{') || rest.includes('}}')) return "unbalanced '{{' or '}}'";
  return null;
}

export function renderTemplate(template: string, data: TemplateData): string {
  return template.replace(PLACEHOLDER, (_whole, inner: string) => {
    const [head, ...pipes] = inner.split('|').map((part) => part.trim());
    let value: unknown = '';
    if (head === '$value') value = data.value;
    else if (head === '$summary') value = data.summary;
    else if (head?.startsWith('$labels.')) value = data.labels[head.slice('$labels.'.length)] ?? '';
    if (pipes.length === 0) return typeof value === 'number' ? formatNumber(value) : String(value);
    let text: unknown = value;
    for (const pipe of pipes) text = apply(pipe, text);
    return String(text);
  });
}
