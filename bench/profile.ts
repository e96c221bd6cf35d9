// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function and by file or package,
// hottest first. Pure apart from the CLI at the bottom, which reads one file and prints.
//   node bench/profile.ts FILE.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Hot {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time in (idle) and (program)/(garbage collector) pseudo-frames. */
  idleMs: number;
  gcMs: number;
  functions: Hot[];
  files: Hot[];
}

/** A span of the monotonic clock in µs (a profile's timestamps; process.hrtime.bigint() / 1000 in any process of the machine). */
export type Window = readonly [startUs: number, endUs: number];

/**
 * Self time per profile node, µs: each sample counts the time since the one before it. With
 * `windows`, only the samples taken inside one of them.
 */
export function selfTimeByNode(profile: CpuProfile, windows?: readonly Window[]): Map<number, number> {
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (windows && !windows.some(([a, b]) => at >= a && at <= b)) continue;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  return selfUs;
}

/** Self time per function ("name file:line") and per file (node_modules packages as one); with `windows`, within those. */
export function summarizeProfile(profile: CpuProfile, root: string, top = 25, windows?: readonly Window[]): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = selfTimeByNode(profile, windows);
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (frame.functionName === '(garbage collector)') gc += us;
    const file = fileLabel(frame.url, root);
    const fn = `${frame.functionName || '(anonymous)'}${file ? ` ${file}` : ''}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
    files.set(file || frame.functionName, (files.get(file || frame.functionName) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>): Hot[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 }));
  return { totalMs: total / 1000, idleMs: idle / 1000, gcMs: gc / 1000, functions: rank(functions), files: rank(files) };
}

/** "src/inbound/listener.ts", "node_modules/smtp-server", "node:internal/…" or "" for native frames. */
export function fileLabel(url: string, root: string): string {
  if (!url) return '';
  const p = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = p.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = p.slice(nm + '/node_modules/'.length).split('/');
    const pkg = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    return `node_modules/${pkg}`;
  }
  return p.startsWith('/') ? path.relative(root, p) : p;
}

export function formatSummary(s: ProfileSummary): string {
  const busy = s.totalMs - s.idleMs;
  const line = (h: Hot) => `  ${(h.share * 100).toFixed(1).padStart(5)} %  ${h.ms.toFixed(0).padStart(7)} ms  ${h.name}`;
  return [
    `profile: ${s.totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy (${s.gcMs.toFixed(0)} ms GC), ${s.idleMs.toFixed(0)} ms idle`,
    'self time by file or package (share of busy time):',
    ...s.files.map(line),
    'self time by function:',
    ...s.functions.map(line),
  ].join('\n');
}

if (import.meta.main) {
  const [file, ...rest] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/profile.ts FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const topAt = rest.indexOf('--top');
  const top = topAt >= 0 ? Number(rest[topAt + 1]) : 25;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`${formatSummary(summarizeProfile(profile, path.resolve(import.meta.dirname, '..'), top))}\n`);
}
