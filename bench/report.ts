// The benchmark's results: their shape (also the JSON written with --out), the figures derived
// from them (rates, ratios, CPU per message) and the side-by-side table. Pure.
import type { CaseAcross } from './profiles.ts';

/** One MTA's run of one case. Times are wall-clock ms from the start of the load. */
export interface SideFigures {
  messages: number;
  /** Until the load generator finished (every message answered 250); inbound only. */
  acceptMs?: number;
  /** Until the queue was empty (every message delivered: Maildir or sink). */
  drainMs: number;
  /** Server CPU (user + system) over drainMs, ms. */
  cpuMs: number;
  error?: string;
  /** Scenario facts: TLS negotiated, client CPU, peak memory … */
  notes?: Record<string, unknown>;
}

export interface CaseResult {
  scenario: 'inbound' | 'starttls' | 'outbound';
  label: string;
  sessions: number;
  size: number;
  messages: number;
  sealpost: SideFigures;
  postfix: SideFigures;
  /** The other peers' runs of the same case (Exim, OpenSMTPD, chasquid, Haraka), by name. */
  others?: Record<string, SideFigures>;
  /** CPUs the servers ran on, when not all of them (the scaling case). */
  cpus?: number;
  /** Sealpost's [server] processes, when bench/bench --processes set it. */
  processes?: number | 'auto';
  /** STARTTLS: the servers' certificate key (bench/bench --tls-keys). */
  tlsKey?: TlsKey;
}

export type TlsKey = 'rsa' | 'ecdsa';
export const TLS_KEYS: readonly TlsKey[] = ['rsa', 'ecdsa'];
const KEY_TITLES: Record<TlsKey, string> = { rsa: 'RSA-2048', ecdsa: 'ECDSA P-256' };

/** "STARTTLS TLSv1.3 resumed, ECDSA P-256" (the key only when the case says it). */
export function starttlsTitle(c: Pick<CaseResult, 'label' | 'tlsKey'>): string {
  return `STARTTLS ${c.label}${c.tlsKey ? `, ${KEY_TITLES[c.tlsKey]}` : ''}`;
}

/** Sealpost with N idle sessions (greeted, EHLO answered): Pss and VmRSS summed over its processes, KiB. */
export interface IdleFigure {
  connections: number;
  pssKiB: number;
  rssKiB: number;
}

/** Sealpost's VmRSS at the points of a memory case whose sealpost…KiB fields are Pss. */
export interface RssFigures {
  startKiB?: number;
  fillPeakKiB?: number;
  beforeKiB: number;
  peakKiB: number;
  afterKiB: number;
}

/**
 * Sealpost's figures are Pss summed over its processes (threads share their process's pages;
 * pages shared with other programs, such as the node binary, count by share), with VmRSS beside
 * them in `sealpostRss`.
 */
export interface MemoryResult {
  /** With N idle sessions; N = 0 is the baseline. */
  idle: IdleFigure[];
  /**
   * A queue of `messages` filled while the sink is down, then drained to it: Sealpost's Pss before
   * the fill, at its peak, before the drain, at its peak and `settleMs` after the queue is empty; Postfix's
   * Pss summed over its processes while the same queue drained in the outbound section, if it ran.
   */
  drain?: {
    messages: number;
    size: number;
    sealpostStartKiB: number;
    sealpostFillPeakKiB: number;
    sealpostBeforeKiB: number;
    sealpostPeakKiB: number;
    sealpostAfterKiB: number;
    settleMs: number;
    sealpostRss?: RssFigures;
    postfixPeakPssKiB?: number;
  };
  /**
   * `sessions` sessions from one address, each sending one message of `size` bytes to the local
   * mailbox at once: Sealpost's Pss before, at the peak until all are in the Maildir, and
   * `settleMs` after, the connections closed.
   */
  large?: {
    sessions: number;
    size: number;
    sealpostBeforeKiB: number;
    sealpostPeakKiB: number;
    sealpostAfterKiB: number;
    settleMs: number;
    acceptMs: number;
    drainMs: number;
    sealpostRss?: RssFigures;
  };
  /** A memory case that failed, and why. */
  errors?: string[];
}

export interface BenchReport {
  startedAt: string;
  machine: { cpus: number; kernel: string; node: string; postfix: string; loadavgStart: number[]; loadavgEnd: number[] };
  /** The peers besides Postfix, name → version, and how their CPU was measured. */
  peers?: Record<string, string>;
  cpuAccounting?: string;
  options: Record<string, unknown>;
  cases: CaseResult[];
  memory: MemoryResult;
  errors: string[];
  profiles: string[];
  /** Sealpost's inbound cases across its processes: /proc CPU per role and, with --profile, each thread's profile. */
  across?: CaseAcross[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Several rounds' notes as one: numbers added (in nested records too), lists joined, anything else the first round's. */
export function mergeNotes(all: readonly Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const notes of all) {
    for (const [k, v] of Object.entries(notes)) {
      const was = out[k];
      if (was === undefined) out[k] = isRecord(v) ? mergeNotes([v]) : v;
      else if (typeof v === 'number' && typeof was === 'number') out[k] = was + v;
      else if (Array.isArray(v) && Array.isArray(was)) out[k] = [...was, ...v];
      else if (isRecord(v) && isRecord(was)) out[k] = mergeNotes([was, v]);
    }
  }
  return out;
}

/** The rounds of one side as one run: counts and times summed (numeric notes too), the first error kept. */
export function addUp(sides: readonly SideFigures[]): SideFigures {
  const failed = sides.find((x) => x.error);
  if (failed) return failed;
  const total = (f: (x: SideFigures) => number) => sides.reduce((n, x) => n + f(x), 0);
  const notes = mergeNotes(sides.map((x) => x.notes ?? {}));
  const accepted = sides.every((x) => x.acceptMs !== undefined) ? { acceptMs: total((x) => x.acceptMs ?? 0) } : {};
  return { messages: total((x) => x.messages), ...accepted, drainMs: total((x) => x.drainMs), cpuMs: total((x) => x.cpuMs), notes };
}

export function rate(messages: number, ms: number | undefined): number | undefined {
  return ms && ms > 0 ? (messages * 1000) / ms : undefined;
}

export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

/** The headline figure of a case: accept rate inbound, drain rate outbound. */
export function headline(c: CaseResult, side: SideFigures): number | undefined {
  if (side.error) return undefined;
  return rate(side.messages, c.scenario === 'outbound' ? side.drainMs : side.acceptMs);
}

const kib = (bytes: number) => (bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`);
const num = (v: number | undefined, digits = 0) => (v === undefined ? '—' : v.toFixed(digits));
const mib = (k: number) => `${(k / 1024).toFixed(1)} MiB`;

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

/** CPU of Sealpost's busiest event loop over a case, ms: of any process when the case has them per role (roleCpuMs), else the primary's. */
export function busiestLoopMs(side: SideFigures): number {
  const roles = side.notes?.['roleCpuMs'];
  const loops = roles && typeof roles === 'object' ? Object.values(roles as Record<string, { loopMs?: number }>).map((r) => r.loopMs ?? 0) : [];
  return loops.length > 0 ? Math.max(...loops) : Number(side.notes?.['loopCpuMs'] ?? Number.NaN);
}

export function formatTable(r: BenchReport): string {
  const head = ['case', 'Sealpost msg/s', 'Postfix msg/s', 'ratio', 'Sealpost CPU/msg', 'Postfix CPU/msg', 'Sealpost loop'];
  const rows: string[][] = [];
  for (const c of r.cases) {
    const s = headline(c, c.sealpost);
    const p = headline(c, c.postfix);
    const what = c.scenario === 'outbound' ? 'queued → sink' : c.scenario === 'starttls' ? starttlsTitle(c) : 'accept';
    const cpu = (f: SideFigures) => (f.error ? '—' : `${num(f.cpuMs / f.messages, 2)} ms`);
    const loop = busiestLoopMs(c.sealpost);
    const busy = c.sealpost.error || Number.isNaN(loop) ? '—' : `${Math.round((100 * loop) / c.sealpost.drainMs)} %`;
    const variant = c.scenario === 'inbound' && c.label !== 'plain' ? ` (${c.label})` : '';
    const procs = c.processes !== undefined && !c.label.startsWith('[server] processes') ? `, processes = ${c.processes}` : '';
    rows.push([
      `${c.scenario === 'outbound' ? 'outbound' : 'inbound'} ${what}${procs}, C=${c.sessions}, ${kib(c.size)}, N=${c.messages}${variant}`,
      num(s),
      num(p),
      num(ratio(s, p), 2),
      cpu(c.sealpost),
      cpu(c.postfix),
      busy,
    ]);
    if (c.scenario !== 'outbound') {
      const se = c.sealpost.error ? undefined : rate(c.sealpost.messages, c.sealpost.drainMs);
      const pe = c.postfix.error ? undefined : rate(c.postfix.messages, c.postfix.drainMs);
      rows.push(['    … until delivered to the Maildir', num(se), num(pe), num(ratio(se, pe), 2), '', '', '']);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const lines = [
    `Sealpost vs Postfix ${r.machine.postfix}, same machine, same run: ${r.machine.cpus} CPUs, Node ${r.machine.node}, load average ${r.machine.loadavgStart.map((l) => l.toFixed(1)).join(' ')} at start, ${r.machine.loadavgEnd.map((l) => l.toFixed(1)).join(' ')} at end`,
    'ratio = Sealpost / Postfix (above 1: Sealpost is faster). CPU/msg: server CPU time (all processes and threads) from the first',
    'connection until the queue was empty. Sealpost loop: CPU time of its busiest event-loop thread (of any of its processes) over that wall time',
    '(near 100 %: that loop is the limit).',
    '',
    pad(head, widths),
    pad(
      widths.map((w) => '-'.repeat(w)),
      widths,
    ),
    ...rows.map((row) => pad(row, widths)),
  ];
  const scaling = processScaling(r.cases);
  if (scaling) lines.push('', scaling);
  lines.push(...formatPeers(r));
  const m = r.memory;
  // Pss, then VmRSS in brackets when it was read.
  const both = (pss: number, rss: number | undefined) => (rss === undefined ? mib(pss) : `${mib(pss)} (${mib(rss)})`);
  if (m.idle.length > 0) {
    lines.push('', 'Sealpost memory: Pss summed over its processes and threads (VmRSS in brackets):');
    const base = m.idle.find((i) => i.connections === 0);
    for (const i of m.idle) {
      const per = (now: number, then: number | undefined) => (((now - (then ?? 0)) * 1024) / i.connections / 1024).toFixed(1);
      const grown = i.connections > 0 ? `, +${per(i.pssKiB, base?.pssKiB)} (+${per(i.rssKiB, base?.rssKiB)}) KiB per connection` : ' (no connections)';
      lines.push(`  ${String(i.connections).padStart(5)} idle connections: ${both(i.pssKiB, i.rssKiB)}${grown}`);
    }
  }
  if (m.drain) {
    const d = m.drain;
    const rss = d.sealpostRss;
    const pf = d.postfixPeakPssKiB === undefined ? '' : ` (Postfix, all processes, Pss: ${mib(d.postfixPeakPssKiB)} peak)`;
    lines.push(
      `  while ${d.messages} queued messages of ${kib(d.size)} drain: ${both(d.sealpostBeforeKiB, rss?.beforeKiB)} before (${both(d.sealpostStartKiB, rss?.startKiB)} before the fill, ${both(d.sealpostFillPeakKiB, rss?.fillPeakKiB)} peak while filling),` +
        ` ${both(d.sealpostPeakKiB, rss?.peakKiB)} peak, ${both(d.sealpostAfterKiB, rss?.afterKiB)} ${d.settleMs / 1000} s after${pf}`,
    );
  }
  if (m.large) {
    const l = m.large;
    const rss = l.sealpostRss;
    lines.push(
      `  while ${l.sessions} sessions each send ${mib(l.size / 1024)} at once: ${both(l.sealpostBeforeKiB, rss?.beforeKiB)} before, ${both(l.sealpostPeakKiB, rss?.peakKiB)} peak,` +
        ` ${both(l.sealpostAfterKiB, rss?.afterKiB)} ${l.settleMs / 1000} s after (all accepted in ${(l.acceptMs / 1000).toFixed(1)} s, in the Maildir in ${(l.drainMs / 1000).toFixed(1)} s)`,
    );
  }
  for (const e of m.errors ?? []) lines.push(`  memory: ERROR ${e}`);
  for (const c of r.cases) {
    for (const [name, f] of [['Sealpost', c.sealpost] as const, ['Postfix', c.postfix] as const, ...Object.entries(c.others ?? {})]) {
      if (f.error) lines.push(`  ${c.scenario} C=${c.sessions} ${kib(c.size)} ${name}: ERROR ${f.error}`);
    }
  }
  for (const e of r.errors) lines.push(`error: ${e}`);
  return lines.join('\n');
}

/**
 * The scaling with [server] processes: the plain inbound case (on all CPUs) and its runs on
 * daemons of other counts (label "[server] processes = N"), Sealpost's rate and CPU per message
 * at each, the rate over the first's, and Postfix's rate in the same rounds (its drift).
 */
export function processScaling(cases: readonly CaseResult[]): string | undefined {
  const more = cases.filter((c) => c.scenario === 'inbound' && c.label.startsWith('[server] processes = '));
  const first = more[0];
  const base =
    first &&
    cases.find((c) => c.scenario === 'inbound' && c.label === 'plain' && c.cpus === undefined && c.sessions === first.sessions && c.size === first.size);
  if (!first || !base) return undefined;
  const s0 = headline(base, base.sealpost);
  const at = (c: CaseResult) => {
    const s = headline(c, c.sealpost);
    const cpu = c.sealpost.error ? '—' : (c.sealpost.cpuMs / c.sealpost.messages).toFixed(2);
    const eods = (c.sealpost.notes?.['eodMs'] ?? []) as { p50: number }[];
    const eod = eods.length > 0 ? `, end of data → 250 p50 ${num(eods.reduce((n, e) => n + e.p50, 0) / eods.length, 1)} ms` : '';
    return `${c.processes ?? 1}: ${num(s)} msg/s (${num(ratio(s, s0), 2)}), ${cpu} ms CPU/msg${eod}, Postfix ${num(headline(c, c.postfix))}`;
  };
  return `Scaling with [server] processes (inbound C=${base.sessions}, ${kib(base.size)}; Sealpost's rate ÷ the first count's): ${[base, ...more].map(at).join('; ')}`;
}

const PEER_TITLES: Record<string, string> = { exim: 'Exim', opensmtpd: 'OpenSMTPD', chasquid: 'chasquid', haraka: 'Haraka' };

/** The case's figure for one server: Postfix, or one of the others; undefined when it did not run it. */
function sideOf(c: CaseResult, name: string): SideFigures | undefined {
  return name === 'postfix' ? c.postfix : c.others?.[name];
}

/**
 * Every peer side by side (msg/s and Sealpost's ratio to each), then the scaling row: each
 * server's rate with the servers on all CPUs over its rate on one CPU, for the case run both ways.
 */
export function formatPeers(r: BenchReport): string[] {
  const others = Object.keys(r.peers ?? {});
  if (others.length === 0) return [];
  const names = ['postfix', ...others];
  const title = (n: string) => (n === 'postfix' ? 'Postfix' : (PEER_TITLES[n] ?? n));
  const head = ['case', 'Sealpost', ...names.flatMap((n) => [title(n), 'ratio'])];
  const rows: string[][] = [];
  for (const c of r.cases) {
    const s = headline(c, c.sealpost);
    const cells = names.flatMap((n) => {
      const side = sideOf(c, n);
      if (!side) return ['n/a', ''];
      const v = headline(c, side);
      return [side.error ? 'error' : num(v), num(ratio(s, v), 2)];
    });
    const what = c.scenario === 'outbound' ? 'outbound' : c.scenario === 'starttls' ? starttlsTitle(c) : 'inbound';
    const variant = c.scenario === 'inbound' && c.label !== 'plain' ? ` (${c.label})` : '';
    rows.push([`${what}, C=${c.sessions}, ${kib(c.size)}${variant}`, num(s), ...cells]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const versions = names.map((n) => `${title(n)} ${n === 'postfix' ? r.machine.postfix : r.peers?.[n]}`).join(', ');
  const lines = [
    '',
    `Sealpost vs every peer, msg/s (accept rate inbound, drain rate outbound); ratio = Sealpost ÷ that peer. Peers: ${versions}.`,
    `n/a: the peer cannot run that case here (see bench/peers/). Servers in equal-weight cpu groups: ${r.cpuAccounting ?? 'no'}.`,
    pad(head, widths),
    pad(
      widths.map((w) => '-'.repeat(w)),
      widths,
    ),
    ...rows.map((row) => pad(row, widths)),
  ];
  const one = r.cases.find((c) => c.cpus === 1);
  const all =
    one &&
    r.cases.find((c) => c.cpus === undefined && c.scenario === one.scenario && c.sessions === one.sessions && c.size === one.size && c.label === 'plain');
  if (one && all) {
    const factor = (name: string, a: SideFigures | undefined, b: SideFigures | undefined) => {
      const f = a && b ? ratio(headline(all, a), headline(one, b)) : undefined;
      return `${name} ${num(f, 2)}`;
    };
    lines.push(
      `Scaling, ${r.machine.cpus} CPUs ÷ 1 CPU (inbound C=${one.sessions}, ${kib(one.size)}): ` +
        [factor('Sealpost', all.sealpost, one.sealpost), ...names.map((n) => factor(title(n), sideOf(all, n), sideOf(one, n)))].join(', '),
    );
  }
  return lines;
}
