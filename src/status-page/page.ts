// The status page (pure): the facts `sealpost status --json` gives, the week of hourly counts
// and the doctor's last findings → one HTML document with inline SVG charts and inline CSS: no
// script, no request for anything else (the page's CSP says so). All text is escaped.
import type { DoctorRecord } from '../doctor/startup.ts';
import { levelBars, shareChart, stackedBars } from './charts.ts';
import { escapeText as e } from './escape.ts';
import { shares, type Week } from './history.ts';

/** What the page shows of `sealpost status --json` (cli/status.ts's StatusReport has these fields). */
export interface StatusFacts {
  hostname: string;
  configFile: string;
  checkedAt: string;
  listeners: readonly { kind: string; address: string; answering: boolean; error?: string }[];
  certificates: readonly { source: string; names: readonly string[]; notAfter?: string; daysLeft?: number; renewal: string; lastError?: string }[];
  queue: { messages: number; oldestReceivedAt: string | null; recipients: Readonly<Record<string, Readonly<Record<string, number>>>> } | null;
  lastErrors: readonly { at: string; queueId: string; to: string; host?: string; result: string; error: string }[];
  refused: { dnsbl: number } | null;
  dnssec: { validating: boolean; why: string };
}

export interface PageData {
  facts: StatusFacts;
  week: Week;
  doctor: DoctorRecord | undefined;
}

/** Delivery errors of one destination: how many, the newest first. */
export interface ErrorGroup {
  to: string;
  count: number;
  results: string[];
  newest: StatusFacts['lastErrors'][number];
}

/** The errors grouped by destination, the destination with the newest error first. */
export function groupErrors(errors: StatusFacts['lastErrors']): ErrorGroup[] {
  const groups = new Map<string, ErrorGroup>();
  for (const err of [...errors].sort((a, b) => b.at.localeCompare(a.at))) {
    const g = groups.get(err.to);
    if (!g) groups.set(err.to, { to: err.to, count: 1, results: [err.result], newest: err });
    else {
      g.count++;
      if (!g.results.includes(err.result)) g.results.push(err.result);
    }
  }
  return [...groups.values()];
}

const RESULT_WORDS: Record<string, string> = { transient: 'deferred', permanent: 'bounced', mixed: 'partly delivered' };

export function renderPage(d: PageData): string {
  const f = d.facts;
  const w = d.week;
  const answering = f.listeners.filter((l) => l.answering).length;
  const sections = [
    `<header><h1>${e(f.hostname)}</h1><p>Sealpost status, ${e(f.checkedAt.replace('T', ' ').slice(0, 19))} UTC · ${answering} of ${f.listeners.length} listeners answer · DNSSEC ${f.dnssec.validating ? 'validated' : 'not validated'}</p></header>`,
    section(
      'TLS share per hour, last 7 days',
      shareChart({
        id: 'chart-tls',
        title: 'Connections with TLS',
        from: w.from,
        series: [
          { name: 'inbound sessions', key: 'inbound', values: shares(w.inbound.tls, w.inbound.sessions) },
          { name: 'outbound connections', key: 'outbound', values: shares(w.outbound.tls, w.outbound.connections) },
        ],
      }) +
        `<p class="note">${e(weekShare('inbound', w.inbound.tls, w.inbound.sessions))}; ${e(weekShare('outbound', w.outbound.tls, w.outbound.connections))}.</p>`,
    ),
    section(
      'Messages per hour by outcome, last 7 days',
      stackedBars({
        id: 'chart-messages',
        title: 'Remote deliveries by outcome; messages received',
        from: w.from,
        stacks: [
          { name: 'delivered', key: 'delivered', values: w.outbound.delivered },
          { name: 'partly delivered', key: 'mixed', values: w.outbound.mixed },
          { name: 'deferred', key: 'deferred', values: w.outbound.deferred },
          { name: 'bounced', key: 'bounced', values: w.outbound.bounced },
        ],
        line: { name: 'received', key: 'received', values: w.inbound.received },
      }) +
        `<p class="note">${sum(w.inbound.received)} received, ${sum(w.outbound.delivered)} delivered, ${sum(w.outbound.deferred)} deferred, ${sum(w.outbound.bounced)} bounced this week (one per message and destination domain; local deliveries are not counted per hour)${f.refused ? `; ${f.refused.dnsbl} connections refused by DNSBL in the last day` : ''}.</p>`,
    ),
    queueSection(f.queue),
    certificatesSection(f.certificates),
    errorsSection(groupErrors(f.lastErrors)),
    doctorSection(d.doctor, f.configFile),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(f.hostname)}: Sealpost status</title><style>${CSS}</style></head>
<body>${sections.join('\n')}</body></html>
`;
}

function section(title: string, body: string, id?: string): string {
  return `<section${id ? ` id="${id}"` : ''}><h2>${e(title)}</h2>${body}</section>`;
}

function queueSection(q: StatusFacts['queue']): string {
  if (q === null) return section('Queue', '<p>No database yet: the daemon has not run with this data_dir.</p>', 'queue');
  const items = Object.entries(q.recipients).flatMap(([transport, byState]) =>
    Object.entries(byState).map(([state, value]) => ({ label: `${transport} ${state}`, key: state, value })),
  );
  const head = `<p>${q.messages} message${q.messages === 1 ? '' : 's'} in the queue${q.oldestReceivedAt ? `, the oldest received ${e(q.oldestReceivedAt)}` : ''}.</p>`;
  return section('Queue', head + levelBars({ id: 'chart-queue', title: 'Recipients by state', items }), 'queue');
}

function certificatesSection(certs: StatusFacts['certificates']): string {
  if (certs.length === 0) return section('Certificates', '<p>None yet (the daemon makes a self-signed one on first start).</p>', 'certificates');
  const rows = certs.map((c) => {
    const days = c.daysLeft;
    const cls = days === undefined ? '' : days < 0 ? 'bad' : days < 14 ? 'warn' : 'good';
    const left = days === undefined ? 'no certificate' : days < 0 ? `expired ${-days} days ago` : `${days} days left`;
    return `<tr><td>${e(c.source)}</td><td>${e(c.names.join(', ') || '-')}</td><td>${e(c.notAfter?.slice(0, 10) ?? '-')}</td><td class="days ${cls}" data-days="${days ?? ''}">${e(left)}</td><td>${e(c.lastError ? `last error: ${c.lastError}` : c.renewal)}</td></tr>`;
  });
  return section(
    'Certificates',
    `<table><thead><tr><th>source</th><th>names</th><th>expires</th><th>days left</th><th>renewal</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    'certificates',
  );
}

function errorsSection(groups: ErrorGroup[]): string {
  if (groups.length === 0) return section('Last delivery errors', '<p>None.</p>', 'errors');
  const rows = groups.map(
    (g) =>
      `<tr class="error-group" data-destination="${e(g.to)}" data-count="${g.count}"><td>${e(g.to)}</td><td>${g.count}</td><td>${e(g.results.map((r) => RESULT_WORDS[r] ?? r).join(', '))}</td><td>${e(g.newest.at.replace('T', ' ').slice(0, 19))}</td><td class="reason">${e(g.newest.error)}${g.newest.host && !g.newest.error.includes(g.newest.host) ? ` <span class="host">(${e(g.newest.host)})</span>` : ''}<br><span class="hint">sealpost queue show ${e(g.newest.queueId)}</span></td></tr>`,
  );
  return section(
    'Last delivery errors, by destination',
    `<table><thead><tr><th>destination</th><th>errors</th><th>result</th><th>newest</th><th>reason (newest)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    'errors',
  );
}

function doctorSection(d: DoctorRecord | undefined, configFile: string): string {
  const command = `sealpost doctor --config ${configFile}`;
  if (d === undefined) return section('Doctor', `<p>Not run yet (it runs at daemon start; or run <code>${e(command)}</code>).</p>`, 'doctor');
  const problems = d.findings.filter((x) => x.level !== 'ok');
  const items = problems.map(
    (x) =>
      `<li class="finding ${x.level}"><b>${x.level === 'error' ? 'ERROR' : 'WARNING'}</b> ${e(x.subject)}: ${e(x.found)}${x.fix ? `<br><span class="hint">fix: ${e(x.fix)}</span>` : ''}</li>`,
  );
  return section(
    'Doctor',
    `<p>${plural(d.counts.error, 'error')}, ${plural(d.counts.warning, 'warning')}, ${d.counts.ok} ok at start-up ${e(d.checkedAt)}; checks again: <code>${e(command)}</code>.</p>${items.length > 0 ? `<ul>${items.join('')}</ul>` : ''}`,
    'doctor',
  );
}

function weekShare(what: string, tls: readonly number[], total: readonly number[]): string {
  const t = sum(tls);
  const n = sum(total);
  return `${what}: ${t} of ${n} with TLS${n > 0 ? ` (${Math.round((t / n) * 100)}%)` : ''}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

const CSS = `
body{font:14px/1.4 "DejaVu Sans",system-ui,sans-serif;margin:0 auto;max-width:900px;padding:12px 20px;color:#1d2330;background:#fbfbfd}
h1{font-size:22px;margin:6px 0}h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #dde;padding-bottom:3px}
header p,.note{color:#555;margin:4px 0}.hint{color:#667;font-size:12px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e6e6ee;vertical-align:top}th{font-weight:600;color:#444}
.days.good{color:#1a7f37}.days.warn{color:#b35900;font-weight:600}.days.bad{color:#c11;font-weight:600}
.finding.error b{color:#c11}.finding.warning b{color:#b35900}
svg.chart{width:100%;height:auto;display:block}
svg .title{font-size:13px;font-weight:600;fill:#333}svg .legend,svg .axis,svg .label,svg .value,svg .empty{font-size:11px;fill:#555}
svg .plot{fill:#fff;stroke:#ccd}svg .grid{stroke:#eef}svg .line{fill:none;stroke-width:1.5}
.s-inbound{fill:#2563eb;stroke:#2563eb}.s-outbound{fill:#d97706;stroke:#d97706}
.s-delivered{fill:#16a34a;stroke:#16a34a}.s-mixed{fill:#84cc16;stroke:#84cc16}.s-deferred{fill:#f59e0b;stroke:#f59e0b}.s-bounced{fill:#dc2626;stroke:#dc2626}
.s-received{fill:#1e3a8a;stroke:#1e3a8a}svg path.s-received{stroke-dasharray:3 2}
.s-queued{fill:#2563eb}.s-active{fill:#16a34a}.s-held{fill:#9333ea}.s-failed{fill:#dc2626}
svg rect.swatch{stroke:none}svg .line.s-inbound,svg .line.s-outbound,svg .line.s-received{fill:none}
`;
