import PDFDocument from 'pdfkit';
import { clippingText, formatAvailability, formatSpan, formatTime, impactText, periodText, type OutageReport } from './report.ts';

/**
 * The outage report as Markdown, HTML (one self-contained page, no script) and PDF (pdfkit,
 * its built-in Helvetica: no font files, nothing downloaded). Times are on the clock of the
 * report's time zone (UTC unless asked) and say which.
 */

export interface RenderOptions {
  facility: string;
}

interface Table {
  head: string[];
  rows: string[][];
}

function heading(report: OutageReport, options: RenderOptions): { title: string; lines: string[] } {
  const zone = report.timeZone;
  const at = (date: Date) => formatTime(date, zone);
  const title = `${options.facility}: outage report ${at(report.from)} – ${at(report.to)} ${zone}`;
  const lines = [
    `Period: ${at(report.from)} to ${at(report.to)} ${zone} (${formatSpan(report.to.getTime() - report.from.getTime())})` +
      (report.periodEnd.getTime() < report.to.getTime() ? `; availability is over the part elapsed, up to ${at(report.periodEnd)} ${zone} (${formatSpan(report.periodMs)})` : ''),
    `Generated ${at(report.generatedAt)} ${zone}. All times are ${zone}. Periods are clipped to the report's window; overlapping incidents are counted once in the totals.`,
  ];
  return { title, lines };
}

function incidentsTable(report: OutageReport): Table {
  const zone = report.timeZone;
  return {
    head: ['No.', 'Description', `Period (${zone})`, 'Duration', 'Service impact'],
    rows: report.rows.map((r) => {
      const note = clippingText(r, zone);
      return [
        String(r.number),
        `${r.title} (#${r.id}, ${r.severity}, ${r.cause})`,
        note ? `${periodText(r, zone)} (${note})` : periodText(r, zone),
        formatSpan(r.durationMs) + (r.ongoing ? ' so far' : ''),
        impactText(r.services),
      ];
    }),
  };
}

function totalLines(report: OutageReport): string[] {
  const t = report.totals;
  return [
    `Incidents with service impact: ${t.incidents} of ${report.rows.length}.`,
    `Their durations add up to ${formatSpan(t.sumOfRowsMs)}; ${formatSpan(t.overlapMs)} of that overlaps, so the total service-impact time is ${formatSpan(t.impactMs)}.`,
  ];
}

function servicesTable(report: OutageReport): Table {
  return {
    head: ['Service', 'Incidents', 'Service-impact time', 'Unavailable', 'Availability'],
    rows: report.services.map((s) => [s.service, String(s.incidents), formatSpan(s.impactMs), formatSpan(s.unavailableMs), formatAvailability(s.availability)]),
  };
}

function causesTable(report: OutageReport): Table {
  return { head: ['Cause', 'Incidents', 'Time'], rows: report.causes.map((c) => [c.cause, String(c.incidents), formatSpan(c.timeMs)]) };
}

const AVAILABILITY_NOTE = 'Availability = 1 − (time the service was all-unavailable or in partial outage, overlaps counted once) / the period. Degraded and some-jobs-aborted count as service impact, not as unavailability.';

// ------------------------------------------------------------------ Markdown

const mdCell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
function mdTable(table: Table, empty: string): string[] {
  if (table.rows.length === 0) return [`_${empty}_`];
  return [`| ${table.head.join(' | ')} |`, `|${table.head.map(() => ' --- ').join('|')}|`, ...table.rows.map((row) => `| ${row.map(mdCell).join(' | ')} |`)];
}

export function renderMarkdown(report: OutageReport, options: RenderOptions): string {
  const { title, lines } = heading(report, options);
  return [
    `# ${title}`,
    '',
    ...lines.map((l) => `${l}  `),
    '',
    '## Incidents',
    '',
    ...mdTable(incidentsTable(report), 'no incidents in this period'),
    '',
    ...totalLines(report),
    '',
    '## Availability per service',
    '',
    ...mdTable(servicesTable(report), 'no services'),
    '',
    AVAILABILITY_NOTE,
    '',
    '## Causes',
    '',
    ...mdTable(causesTable(report), 'no incidents'),
    '',
  ].join('\n');
}

// ------------------------------------------------------------------ HTML

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function htmlTable(table: Table, empty: string): string {
  if (table.rows.length === 0) return `<p><em>${escapeHtml(empty)}</em></p>`;
  const head = `<tr>${table.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = table.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

export function renderHtml(report: OutageReport, options: RenderOptions): string {
  const { title, lines } = heading(report, options);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 80em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #999; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
<h2>Incidents</h2>
${htmlTable(incidentsTable(report), 'no incidents in this period')}
${totalLines(report).map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
<h2>Availability per service</h2>
${htmlTable(servicesTable(report), 'no services')}
<p>${escapeHtml(AVAILABILITY_NOTE)}</p>
<h2>Causes</h2>
${htmlTable(causesTable(report), 'no incidents')}
</body>
</html>
`;
}

// ------------------------------------------------------------------ PDF

/** pdfkit's standard fonts are WinAnsi: keep to what they can show. */
const pdfText = (text: string) => text.replace(/[–—]/g, '-').replace(/−/g, '-').replace(/[^\x20-\x7E\xA0-\xFF]/g, '?');

function pdfTable(doc: PDFKit.PDFDocument, table: Table, widths: number[], empty: string): void {
  const left = doc.page.margins.left;
  const bottom = () => doc.page.height - doc.page.margins.bottom;
  if (table.rows.length === 0) {
    doc.font('Helvetica-Oblique').fontSize(9).text(empty, left).font('Helvetica');
    doc.moveDown(0.5);
    return;
  }
  const drawRow = (cells: string[], bold: boolean) => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(8.5);
    const heights = cells.map((c, i) => doc.heightOfString(pdfText(c), { width: widths[i]! - 6 }));
    const height = Math.max(...heights) + 6;
    if (doc.y + height > bottom()) doc.addPage();
    const top = doc.y;
    let x = left;
    cells.forEach((cell, i) => {
      doc.rect(x, top, widths[i]!, height).stroke('#999999');
      doc.fillColor('black').text(pdfText(cell), x + 3, top + 3, { width: widths[i]! - 6 });
      x += widths[i]!;
    });
    doc.x = left;
    doc.y = top + height;
  };
  drawRow(table.head, true);
  for (const row of table.rows) drawRow(row, false);
  doc.font('Helvetica').moveDown(0.5);
}

export function renderPdf(report: OutageReport, options: RenderOptions): Promise<Buffer> {
  const { title, lines } = heading(report, options);
  const doc = new PDFDocument({ size: 'A4', layout: 'landscape', margin: 40, info: { Title: pdfText(title), Creator: 'Keisan' } });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  const width = doc.page.width - doc.page.margins.left - doc.page.margins.right;
  const section = (text: string) => doc.moveDown(0.5).font('Helvetica-Bold').fontSize(12).text(pdfText(text)).font('Helvetica').fontSize(9).moveDown(0.3);
  doc.font('Helvetica-Bold').fontSize(15).text(pdfText(title));
  doc.font('Helvetica').fontSize(9).moveDown(0.3);
  for (const line of lines) doc.text(pdfText(line));
  section('Incidents');
  pdfTable(doc, incidentsTable(report), [30, 0.3 * width - 30, 0.3 * width, 0.12 * width, 0.28 * width], 'no incidents in this period');
  for (const line of totalLines(report)) doc.text(pdfText(line));
  section('Availability per service');
  pdfTable(doc, servicesTable(report), [0.25, 0.12, 0.2, 0.2, 0.23].map((f) => f * width * 0.8), 'no services');
  doc.text(pdfText(AVAILABILITY_NOTE));
  section('Causes');
  pdfTable(doc, causesTable(report), [0.3, 0.15, 0.25].map((f) => f * width), 'no incidents');
  doc.end();
  return done;
}
