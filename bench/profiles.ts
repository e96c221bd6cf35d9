// Where Sealpost's time goes across its processes: the --cpu-prof profiles of every process and
// thread (the primary, session 1…N, each one's event loop and offload thread) matched to their
// role, cut to a case's time windows, their self time grouped by kind of work (SQLite, IPC, TLS,
// SMTP parsing, mailauth, fs …), beside the /proc CPU of the same roles. Pure but for
// readProfiles (reads a directory).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type CpuProfile, fileLabel, type Hot, type ProfileNode, selfTimeByNode, summarizeProfile, type Window } from './profile.ts';
import { type CaseResult, starttlsTitle } from './report.ts';
import { type RoleCpu, type Roles, roleOrder } from './roles.ts';

/** Node's --cpu-prof file name: CPU.<yyyymmdd>.<hhmmss>.<pid>.<thread id>.<seq>.cpuprofile (thread 0: the main thread). */
export function parseProfileName(name: string): { pid: number; threadId: number } | undefined {
  const m = /^CPU\.\d{8}\.\d{6}\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(name);
  return m ? { pid: Number(m[1]), threadId: Number(m[2]) } : undefined;
}

/**
 * The thread a profile is of: the main thread is the event loop; a worker thread that ran
 * offload/writer-thread.ts is a Maildir writer (they start as the load needs, so their thread ids
 * say nothing), any other the checks thread (offload thread).
 */
export function threadLabel(threadId: number, profile: Pick<CpuProfile, 'nodes'>): string {
  if (threadId === 0) return 'event loop';
  return profile.nodes.some((n) => n.callFrame.url.includes('offload/writer-thread')) ? 'Maildir writers' : 'offload thread';
}

export type Group =
  | 'SQLite'
  | 'IPC (postMessage/serialize)'
  | 'TLS'
  | 'SMTP parsing'
  | 'mailauth'
  | 'fs'
  | 'net/streams'
  | 'queue'
  | 'Maildir delivery'
  | 'DNS'
  | 'logging'
  | 'ticks/timers'
  | 'module loading'
  | 'GC'
  | '(program)'
  | 'other';

const BY_FILE: [Group, string[]][] = [
  ['SQLite', ['node_modules/better-sqlite3', 'src/db/']],
  [
    'IPC (postMessage/serialize)',
    [
      'node:internal/child_process',
      'node:child_process',
      'node:internal/cluster',
      'node:cluster',
      'node:v8',
      'node:internal/worker',
      'node:worker_threads',
      'src/cluster/',
      'src/offload/client',
    ],
  ],
  ['TLS', ['node:_tls', 'node:tls', 'node:internal/tls', 'node:crypto', 'node:internal/crypto', 'src/tls/']],
  ['SMTP parsing', ['node_modules/smtp-server', 'src/inbound/', 'src/wire/', 'src/message/', 'src/intake/']],
  ['mailauth', ['node_modules/mailauth', 'node_modules/tldts', 'node_modules/ipaddr.js', 'src/mailauth/', 'src/dkim/', 'src/offload/thread']],
  ['fs', ['node:fs', 'node:internal/fs/']],
  ['net/streams', ['node:net', 'node:internal/net', 'node:internal/stream_base_commons', 'node:internal/streams/', 'node:stream']],
  ['queue', ['src/queue/']],
  ['Maildir delivery', ['src/local/']],
  ['DNS', ['node:dns', 'node:internal/dns/', 'src/dns/']],
  ['logging', ['node_modules/pino', 'node_modules/sonic-boom', 'node_modules/thread-stream', 'src/log/']],
  ['ticks/timers', ['node:internal/process/task_queues', 'node:internal/timers', 'node:timers']],
  // A thread's start-up, or a module imported on first use.
  ['module loading', ['node:internal/modules/', 'node:internal/bootstrap/']],
];

/** better-sqlite3's native methods (Statement, Database): self time in SQLite itself. */
const SQLITE_NATIVE = new Set(['run', 'get', 'all', 'iterate', 'prepare', 'exec', 'pluck', 'raw', 'expand', 'bind', 'pragma', 'checkpoint']);
/** V8's serializer and the channels' native sends. */
const IPC_NATIVE = new Set([
  'postMessage',
  'serialize',
  'deserialize',
  'structuredClone',
  'writeHeader',
  'readHeader',
  'writeValue',
  'readValue',
  'releaseBuffer',
]);

/**
 * The kind of work of a frame: by its file (a file label of profile.ts fileLabel); a native frame
 * (no file) by its name where that is telling, else as the JavaScript that called it
 * (`caller`: that frame's group; a TLS read called from node:_tls_wrap is TLS).
 */
export function groupOf(frame: { functionName: string; label: string }, caller: () => Group): Group {
  if (frame.functionName === '(garbage collector)') return 'GC';
  if (frame.functionName === '(program)') return '(program)';
  if (frame.functionName === '(root)') return 'other';
  if (frame.label === '') {
    if (SQLITE_NATIVE.has(frame.functionName)) {
      const c = caller();
      return c === 'queue' || c === 'SQLite' || c === 'other' ? 'SQLite' : c;
    }
    if (IPC_NATIVE.has(frame.functionName)) return 'IPC (postMessage/serialize)';
    return caller();
  }
  // The daemon runs dist/ (src/ compiled by scripts/setup) when it is up to date: the same modules.
  const label = frame.label.replace(/^dist\//, 'src/');
  for (const [group, prefixes] of BY_FILE) if (prefixes.some((p) => label.startsWith(p))) return group;
  return 'other';
}

export interface ThreadProfile {
  /** Sampled time that was not (idle), ms: JavaScript, GC, native code called from it, (program). */
  busyMs: number;
  gcMs: number;
  groups: Hot[];
  functions: Hot[];
}

/** A profile within `windows`: busy time, self time by group and the hottest functions (shares of the busy time). */
export function summarizeThread(profile: CpuProfile, root: string, windows: readonly Window[], top = 8): ThreadProfile {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, Group>();
  const group = (id: number): Group => {
    const known = memo.get(id);
    if (known) return known;
    const node = byId.get(id) as ProfileNode | undefined;
    const up = parent.get(id);
    const g = node
      ? groupOf({ functionName: node.callFrame.functionName, label: fileLabel(node.callFrame.url, root) }, () => (up === undefined ? 'other' : group(up)))
      : 'other';
    memo.set(id, g);
    return g;
  };
  const groups = new Map<Group, number>();
  let busy = 0;
  for (const [id, us] of selfTimeByNode(profile, windows)) {
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    busy += us;
    const g = group(id);
    groups.set(g, (groups.get(g) ?? 0) + us);
  }
  const s = summarizeProfile(profile, root, top, windows);
  return {
    busyMs: busy / 1000,
    gcMs: s.gcMs,
    groups: [...groups].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 })),
    functions: s.functions,
  };
}

/** One Sealpost case across its processes: /proc CPU per role, and each profiled thread's summary. */
export interface CaseAcross {
  title: string;
  messages: number;
  /** /proc, per role over the case's windows. */
  roleCpu: Record<string, RoleCpu>;
  /** The cgroup's figure for the same windows (every process that ran in it), when there was one. */
  groupCpuMs?: number;
  /** role → thread label → summary. */
  profiles?: Record<string, Record<string, ThreadProfile>>;
}

const perMsg = (ms: number, n: number) => (n > 0 ? (ms / n).toFixed(2) : '—');
const shares = (hot: Hot[], n: number) =>
  hot
    .slice(0, n)
    .map((h) => `${h.name} ${(h.share * 100).toFixed(0)} %`)
    .join(', ');

/** The rows of one case: per role its process, event loop and offload thread, /proc ms/msg beside the profile's busy ms/msg. */
export function formatCaseAcross(c: CaseAcross): string {
  const roles = Object.keys(c.roleCpu).sort(roleOrder);
  const total = roles.reduce((n, r) => n + (c.roleCpu[r]?.processMs ?? 0), 0);
  const group = c.groupCpuMs === undefined ? '' : `; the cgroup: ${perMsg(c.groupCpuMs, c.messages)} ms`;
  const lines = [`${c.title}: CPU per message over the process tree (/proc) ${perMsg(total, c.messages)} ms${group}`];
  const rows: string[][] = [['  role', '/proc ms/msg', 'profile busy ms/msg', 'where the profiled time goes (share of its busy time)']];
  const fns: string[] = [];
  for (const role of roles) {
    const cpu = c.roleCpu[role] as RoleCpu;
    const other = cpu.processMs - cpu.loopMs - cpu.offloadMs - cpu.writersMs;
    rows.push([
      `  ${role} (whole process)`,
      perMsg(cpu.processMs, c.messages),
      '',
      `other threads (libuv pool: fs, fsync; V8: GC) ${perMsg(other, c.messages)} ms/msg`,
    ]);
    for (const [thread, ms] of [
      ['event loop', cpu.loopMs],
      ['offload thread', cpu.offloadMs],
      ['Maildir writers', cpu.writersMs],
    ] as const) {
      const p = c.profiles?.[role]?.[thread];
      if (ms === 0 && !p) continue;
      rows.push([`    ${thread}`, perMsg(ms, c.messages), p ? perMsg(p.busyMs, c.messages) : '', p ? shares(p.groups, 6) : '']);
      if (p && p.functions.length > 0) fns.push(`  ${role}, ${thread}: ${shares(p.functions, 5)}`);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows)
    lines.push(r.map((cell, i) => (i === 0 || i === 3 ? cell.padEnd(i === 3 ? 0 : (widths[i] ?? 0)) : cell.padStart(widths[i] ?? 0))).join('  '));
  if (fns.length > 0) lines.push('  hottest functions by self time:', ...fns.map((f) => `  ${f}`));
  return lines.join('\n');
}

export interface ProfiledThread {
  file: string;
  role: string;
  thread: string;
  profile: CpuProfile;
}

/** The profiles in `dir` with their role (by pid; "pid N" for one the roles do not name) and thread. */
export async function readProfiles(dir: string, roles: Roles): Promise<ProfiledThread[]> {
  const out: ProfiledThread[] = [];
  for (const name of (await readdir(dir).catch(() => [])).sort()) {
    const id = parseProfileName(name);
    if (!id) continue;
    const profile = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as CpuProfile;
    out.push({ file: path.join(dir, name), role: roles.get(id.pid) ?? `pid ${id.pid}`, thread: threadLabel(id.threadId, profile), profile });
  }
  return out;
}

/** Each thread's summary within `windows`, by role and thread; of several Maildir writers of one role, the busiest. */
export function acrossProfiles(threads: readonly ProfiledThread[], root: string, windows: readonly Window[]): Record<string, Record<string, ThreadProfile>> {
  const out: Record<string, Record<string, ThreadProfile>> = {};
  for (const t of threads) {
    const byThread = (out[t.role] ??= {});
    const summary = summarizeThread(t.profile, root, windows);
    const seen = byThread[t.thread];
    if (!seen || summary.busyMs > seen.busyMs) byThread[t.thread] = summary;
  }
  return out;
}

/** A Sealpost daemon of the run: its roles (to name its profiles' processes) and where its profiles are. */
export interface ProfiledDaemon {
  roles: () => Roles;
  profileDir?: string;
}

/**
 * Sealpost's cases across its processes (those whose notes name a daemon: bench/main.ts across),
 * in the order of the cases: /proc CPU per role and, for a profiled daemon, its profiles cut to
 * the case's windows. One daemon's profiles are read at a time.
 */
export async function acrossCases(
  cases: readonly CaseResult[],
  daemons: ReadonlyMap<string, ProfiledDaemon>,
  root: string,
  cgroups: boolean,
): Promise<CaseAcross[]> {
  const daemonOf = (c: CaseResult) => (c.sealpost.error ? undefined : c.sealpost.notes?.['daemon']);
  const out = new Map<CaseResult, CaseAcross>();
  for (const [name, d] of daemons) {
    const mine = cases.filter((c) => daemonOf(c) === name);
    if (mine.length === 0) continue;
    const threads = d.profileDir ? await readProfiles(d.profileDir, d.roles()) : undefined;
    for (const c of mine) {
      const notes = c.sealpost.notes ?? {};
      const title =
        `${c.scenario === 'starttls' ? starttlsTitle(c) : `accept (${c.label})`}, C=${c.sessions}, ${c.size} B, ` +
        `${c.sealpost.messages} messages${c.cpus ? ` (servers on ${c.cpus} CPU)` : ''}${c.processes !== undefined && !c.label.startsWith('[server] processes') ? `, [server] processes = ${c.processes}` : ''}`;
      out.set(c, {
        title,
        messages: c.sealpost.messages,
        roleCpu: (notes['roleCpuMs'] ?? {}) as Record<string, RoleCpu>,
        ...(cgroups ? { groupCpuMs: c.sealpost.cpuMs } : {}),
        ...(threads ? { profiles: acrossProfiles(threads, root, (notes['windows'] ?? []) as Window[]) } : {}),
      });
    }
  }
  return cases.flatMap((c) => out.get(c) ?? []);
}
