import { formatAvailability, formatSpan, formatUtc } from '../report.ts';
import { STATE_LABELS, type ComponentState, type PublicIncident, type PublicMaintenance, type StatusPage, type UptimeDay } from './model.ts';
import type { StatusView } from './service.ts';

/**
 * The status page as HTML (one page, no script: readable in any browser and by screen readers,
 * every colour with its text label, a 90-bar uptime strip of plain HTML/CSS, fits a phone) and
 * as Atom 1.0 and RSS 2.0 feeds. Every text from the database is escaped; characters XML does
 * not allow are dropped. Times are UTC and say so. The HTML is also well-formed XML (void elements
 * closed with "/>"), so tests check its nesting and escaping with the same parser as the feeds.
 */

// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text for HTML or XML: & < > " ' escaped, characters XML 1.0 forbids removed. */
export function escapeXml(text: string): string {
  return text.replace(NOT_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
const e = escapeXml;

const utc = (iso: string) => `${formatUtc(new Date(iso))} UTC`;
const time = (iso: string) => `<time datetime="${e(iso)}">${e(utc(iso))}</time>`;
const STATUS_LABELS: Record<PublicIncident['status'], string> = { investigating: 'Investigating', identified: 'Identified', monitoring: 'Monitoring', resolved: 'Resolved' };
/** A symbol besides the colour, so the state reads without colour too. */
const STATE_MARK: Record<ComponentState | 'no-data', string> = { operational: '✔', degraded: '▲', 'partial-outage': '◆', 'major-outage': '✖', 'under-maintenance': '⚙', 'no-data': '·' };

const CSS = `
:root{--ok:#1a7f37;--deg:#9a6700;--part:#bc4c00;--maj:#cf222e;--mnt:#0969da;--none:#d0d7de;--fg:#1f2328;--muted:#57606a;--bg:#fff;--line:#d0d7de}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main,header,footer{max-width:60rem;margin:0 auto;padding:0 1rem}header{padding-top:1.5rem}
h1{font-size:1.75rem;margin:.5rem 0}h2{font-size:1.3rem;margin:2rem 0 .75rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}h3{font-size:1.05rem;margin:0}
a{color:#0550ae}.muted{color:var(--muted);font-size:.9rem}
.overall{padding:1rem;border-radius:6px;color:#fff;font-weight:600;font-size:1.15rem;margin:1rem 0}
.s-operational{--c:var(--ok)}.s-degraded{--c:var(--deg)}.s-partial-outage{--c:var(--part)}.s-major-outage{--c:var(--maj)}.s-under-maintenance{--c:var(--mnt)}.s-no-data{--c:var(--none)}
.overall{background:var(--c)}.state{color:var(--c);font-weight:600;white-space:nowrap}
ul.plain,ol.plain{list-style:none;margin:0;padding:0}
.component{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:.5rem 0}
.component .top{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.25rem 1rem;align-items:baseline}
.bars{display:flex;gap:1px;height:2rem;margin:.5rem 0 .25rem;padding:0;list-style:none}
.bars li{flex:1 1 0;min-width:0;background:var(--c);border-radius:1px}
.scale{display:flex;justify-content:space-between;font-size:.8rem;color:var(--muted)}
.scale .short{display:none}
article{border-left:4px solid var(--c);padding:.25rem 0 .25rem 1rem;margin:1rem 0}
.updates li{margin:.4rem 0}
.sr{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
details{margin:.25rem 0}summary{cursor:pointer;color:var(--muted);font-size:.9rem}
footer{margin-top:2rem;padding-bottom:2rem}
@media (max-width:40rem){.bars li:nth-child(-n+60){display:none}.scale .long{display:none}.scale .short{display:inline}h1{font-size:1.4rem}}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#30363d;--none:#30363d;--ok:#3fb950;--deg:#d29922;--part:#db6d28;--maj:#f85149;--mnt:#4493f8}a{color:#4493f8}.overall{color:#0d1117}}
`;

function stateBadge(state: ComponentState): string {
  return `<span class="state s-${state}"><span aria-hidden="true">${STATE_MARK[state]}</span> ${e(STATE_LABELS[state])}</span>`;
}

const percent = (fraction: number | null) => (fraction === null ? 'no data' : formatAvailability(fraction));

function dayTitle(d: UptimeDay): string {
  if (d.state === 'no-data') return `${d.date}: no data`;
  const parts = [`${d.date}: ${percent(d.uptime)}`];
  if (d.majorMs > 0) parts.push(`major outage ${formatSpan(d.majorMs)}`);
  if (d.partialMs > 0) parts.push(`partial outage ${formatSpan(d.partialMs)}`);
  if (d.degradedMs > 0) parts.push(`degraded ${formatSpan(d.degradedMs)}`);
  if (d.maintenanceMs > 0) parts.push(`maintenance ${formatSpan(d.maintenanceMs)}`);
  return parts.join(', ');
}

function componentHtml(c: StatusPage['components'][number]): string {
  const u = c.uptime;
  const bars = u.daily.map((d) => `<li class="s-${d.state}" title="${e(dayTitle(d))}"></li>`).join('');
  const notable = u.daily.filter((d) => d.state !== 'operational' && d.state !== 'no-data');
  const noData = u.daily.filter((d) => d.state === 'no-data').length;
  const summary = `${u.fraction === null ? 'No uptime data yet' : `${percent(u.fraction)} uptime over the days with data`}${noData > 0 && u.fraction !== null ? ` (no data for ${noData} of ${u.days} days)` : ''}`;
  return `<li class="component" id="component-${e(c.name)}">
<div class="top"><h3>${e(c.displayName)}</h3>${stateBadge(c.state)}</div>
${c.description ? `<p class="muted">${e(c.description)}</p>` : ''}${c.since ? `<p class="muted">${e(STATE_LABELS[c.state])} since ${time(c.since)}</p>` : ''}
<ol class="bars" aria-hidden="true">${bars}</ol>
<div class="scale" aria-hidden="true"><span class="long">${u.days} days ago</span><span class="short">30 days ago</span><span>${e(summary)}</span><span>today</span></div>
<p class="sr">${e(summary)}.</p>
${
  notable.length > 0
    ? `<details><summary>${notable.length} day${notable.length === 1 ? '' : 's'} not fully operational</summary><ul>${notable
        .reverse()
        .map((d) => `<li>${e(dayTitle(d))}</li>`)
        .join('')}</ul></details>`
    : ''
}
</li>`;
}

function incidentHtml(i: PublicIncident, heading: 'h2' | 'h3' = 'h3'): string {
  const affected = i.components.map((c) => `${c.displayName} (${STATE_LABELS[c.state].toLowerCase()})`).join(', ');
  const period = i.endedAt ? `${time(i.startedAt)} – ${time(i.endedAt)} (${e(formatSpan(new Date(i.endedAt).getTime() - new Date(i.startedAt).getTime()))})` : `since ${time(i.startedAt)}`;
  const updates = i.updates.map((u) => `<li>${time(u.at)} — <strong>${e(STATUS_LABELS[u.status])}</strong>: ${e(u.text)}</li>`).join('\n');
  return `<article id="incident-${i.id}" class="s-${i.status === 'resolved' ? 'operational' : i.impact}">
${heading === 'h3' ? `<h3><a href="/status/incidents/${i.id}">${e(i.title)}</a></h3>` : `<h2>${e(i.title)}</h2>`}
<p>${e(STATUS_LABELS[i.status])} · ${e(STATE_LABELS[i.impact])} · ${e(affected)}<br/><span class="muted">${period}</span></p>
${updates ? `<ol class="plain updates">${updates}</ol>` : ''}
</article>`;
}

function maintenanceHtml(m: PublicMaintenance): string {
  const components = m.components.length > 0 ? m.components.map((c) => c.displayName).join(', ') : 'no listed component';
  const when = `${time(m.windowStart)} – ${time(m.windowEnd)}`;
  const progress = m.inProgress ? `in progress since ${m.startedAt ? time(m.startedAt) : 'its start'}${m.state === 'halted' ? ' (halted)' : ''}` : m.state === 'pending-approval' ? 'scheduled (not yet approved)' : 'scheduled';
  return `<article id="maintenance-${m.id}" class="s-under-maintenance"><h3>${e(m.title)}</h3><p>${progress} · window ${when}<br/>Affects: ${e(components)}</p></article>`;
}

export interface PageLinks {
  atom: string;
  rss: string;
  json: string;
}

function head(title: string, siteTitle: string, links: PageLinks): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>${e(title)}</title>
<link rel="alternate" type="application/atom+xml" title="${e(siteTitle)} (Atom)" href="${e(links.atom)}"/>
<link rel="alternate" type="application/rss+xml" title="${e(siteTitle)} (RSS)" href="${e(links.rss)}"/>
<style>${CSS}</style>
</head>`;
}

/** One incident's page (the feeds link to it): its status, impact, period and every public update. */
export function renderIncidentHtml(incident: PublicIncident, siteTitle: string, links: PageLinks): string {
  return `${head(`${incident.title} — ${siteTitle}`, siteTitle, links)}
<body>
<header>
<p><a href="/status">← ${e(siteTitle)}</a></p>
<h1>Incident: ${e(incident.title)}</h1>
</header>
<main>
${incidentHtml(incident, 'h2')}
</main>
<footer class="muted"><p>All times are UTC. <a href="${e(links.json)}">JSON</a></p></footer>
</body>
</html>
`;
}

export function renderStatusHtml(page: StatusPage, links: PageLinks): string {
  const p = page;
  const current = p.incidents.current.length > 0 ? p.incidents.current.map((i) => incidentHtml(i)).join('\n') : '<p>No current incidents.</p>';
  const maintenance = [...p.maintenance.inProgress, ...p.maintenance.scheduled];
  return `${head(`${p.title}: ${p.overall.text}`, p.title, links)}
<body>
<header>
<h1>${e(p.title)}</h1>
<p class="overall s-${p.overall.state}" role="status"><span aria-hidden="true">${STATE_MARK[p.overall.state]}</span> ${e(p.overall.text)}</p>
<p class="muted">Updated ${time(p.generatedAt)}. All times are UTC. Follow: <a href="${e(links.atom)}">Atom</a> · <a href="${e(links.rss)}">RSS</a> · <a href="${e(links.json)}">JSON</a></p>
</header>
<main>
<section aria-labelledby="h-current"><h2 id="h-current">Current incidents</h2>
${current}
</section>
<section aria-labelledby="h-maintenance"><h2 id="h-maintenance">Maintenance</h2>
${maintenance.length > 0 ? maintenance.map(maintenanceHtml).join('\n') : '<p>No maintenance in progress or scheduled.</p>'}
</section>
<section aria-labelledby="h-components"><h2 id="h-components">Components</h2>
<p class="muted">Bars: one per day, the last ${p.components[0]?.uptime.days ?? 90} days (UTC), coloured by the day's worst state; hover for details.</p>
<ul class="plain">
${p.components.map(componentHtml).join('\n')}
</ul>
<p class="muted">${e(p.uptimeRule)}</p>
</section>
<section aria-labelledby="h-recent"><h2 id="h-recent">Resolved in the last ${p.incidents.recentDays} days</h2>
${p.incidents.recent.length > 0 ? p.incidents.recent.map((i) => incidentHtml(i)).join('\n') : '<p>No incidents resolved recently.</p>'}
</section>
</main>
<footer class="muted"><p>Keisan status page. States: ${(['operational', 'degraded', 'partial-outage', 'major-outage', 'under-maintenance'] as const).map((s) => `${STATE_MARK[s]} ${STATE_LABELS[s]}`).join(' · ')}.</p></footer>
</body>
</html>
`;
}

// ------------------------------------------------------------------ feeds

export interface FeedOptions {
  /** The page's absolute address, e.g. https://keisan.example.org:8470 (no trailing slash). */
  baseUrl: string;
  facility: string;
}

interface FeedEntry {
  id: string;
  title: string;
  link: string;
  published: string;
  updated: string;
  html: string;
}

function incidentEntry(i: PublicIncident, base: string): FeedEntry {
  const affected = i.components.map((c) => `${c.displayName}: ${STATE_LABELS[c.state]}`).join(', ');
  const html = [
    `<p><strong>${e(STATUS_LABELS[i.status])}</strong> — ${e(affected)}. Started ${e(utc(i.startedAt))}${i.endedAt ? `, ended ${e(utc(i.endedAt))}` : ''}.</p>`,
    i.updates.length > 0 ? `<ul>${i.updates.map((u) => `<li>${e(utc(u.at))} — <strong>${e(STATUS_LABELS[u.status])}</strong>: ${e(u.text)}</li>`).join('')}</ul>` : '',
  ].join('');
  const prefix = i.status === 'resolved' ? 'Resolved' : STATUS_LABELS[i.status];
  return { id: `${base}/status#incident-${i.id}`, title: `${prefix}: ${i.title}`, link: `${base}/status/incidents/${i.id}`, published: i.startedAt, updated: i.updatedAt, html };
}

function maintenanceEntry(m: PublicMaintenance, base: string, now: string): FeedEntry {
  const components = m.components.map((c) => c.displayName).join(', ') || 'no listed component';
  const html = `<p>${m.inProgress ? 'In progress' : m.state === 'pending-approval' ? 'Scheduled (not yet approved)' : 'Scheduled'}: ${e(utc(m.windowStart))} – ${e(utc(m.windowEnd))}. Affects: ${e(components)}.</p>`;
  const updated = m.startedAt ?? now;
  return { id: `${base}/status#maintenance-${m.id}`, title: `${m.inProgress ? 'Maintenance in progress' : 'Scheduled maintenance'}: ${m.title}`, link: `${base}/status#maintenance-${m.id}`, published: m.startedAt ?? m.windowStart, updated, html };
}

function entriesOf(view: StatusView, base: string): FeedEntry[] {
  const now = view.page.generatedAt;
  return [...view.page.maintenance.inProgress, ...view.page.maintenance.scheduled].map((m) => maintenanceEntry(m, base, now)).concat(view.feedIncidents.map((i) => incidentEntry(i, base)));
}

const isoSeconds = (iso: string) => new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Atom 1.0 (RFC 4287): the feed, its author, one entry per incident and per maintenance. */
export function renderAtom(view: StatusView, o: FeedOptions): string {
  const base = o.baseUrl;
  const entries = entriesOf(view, base);
  const updated = entries.reduce((latest, x) => (x.updated > latest ? x.updated : latest), '1970-01-01T00:00:00.000Z');
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<id>${e(`${base}/status`)}</id>
<title>${e(view.page.title)}</title>
<subtitle>${e(view.page.overall.text)}</subtitle>
<updated>${isoSeconds(entries.length > 0 ? updated : view.page.generatedAt)}</updated>
<link rel="self" type="application/atom+xml" href="${e(`${base}/status/feed.atom`)}"/>
<link rel="alternate" type="text/html" href="${e(`${base}/status`)}"/>
<author><name>${e(o.facility)}</name></author>
<generator>Keisan</generator>
${entries
  .map(
    (x) => `<entry>
<id>${e(x.id)}</id>
<title>${e(x.title)}</title>
<link rel="alternate" type="text/html" href="${e(x.link)}"/>
<published>${isoSeconds(x.published)}</published>
<updated>${isoSeconds(x.updated)}</updated>
<content type="html">${e(x.html)}</content>
</entry>`,
  )
  .join('\n')}
</feed>
`;
}

/** RSS 2.0: the channel and one item per incident and per maintenance (dates in RFC 822, GMT). */
export function renderRss(view: StatusView, o: FeedOptions): string {
  const base = o.baseUrl;
  const entries = entriesOf(view, base);
  const rfc822 = (iso: string) => new Date(iso).toUTCString();
  return `<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>${e(view.page.title)}</title>
<link>${e(`${base}/status`)}</link>
<description>${e(`${view.page.overall.text}. Incidents and maintenance of ${o.facility}.`)}</description>
<language>en</language>
<lastBuildDate>${rfc822(view.page.generatedAt)}</lastBuildDate>
<atom:link href="${e(`${base}/status/feed.rss`)}" rel="self" type="application/rss+xml"/>
${entries
  .map(
    (x) => `<item>
<title>${e(x.title)}</title>
<link>${e(x.link)}</link>
<guid isPermaLink="false">${e(x.id)}</guid>
<pubDate>${rfc822(x.updated)}</pubDate>
<description>${e(x.html)}</description>
</item>`,
  )
  .join('\n')}
</channel>
</rss>
`;
}
