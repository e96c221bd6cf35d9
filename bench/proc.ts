// What the benchmark measures about processes, read from /proc (Linux): CPU time of a process or
// of a whole Postfix process group, memory (Pss and VmRSS, of a process group or of a process and
// its descendants), and a sampler for peaks.
// Side effects: reads /proc only.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on every Linux architecture we run on. */
const TICK_MS = 10;

interface Stat {
  pgrp: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

/** /proc/PID/stat after the "(comm)" field: state ppid pgrp … utime(14) stime(15) cutime(16) cstime(17). */
function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z') return undefined;
  const n = (i: number) => Number(f[i] ?? 0);
  return { pgrp: n(2), utime: n(11), stime: n(12), cutime: n(13), cstime: n(14) };
}

/** User + system CPU time of one process (all its threads), ms. */
export function processCpuMs(pid: number): number {
  const s = readStat(pid);
  return s ? (s.utime + s.stime) * TICK_MS : 0;
}

/** CPU time of one thread, ms: for Node, the main thread (tid = pid) is the event loop. */
export function threadCpuMs(pid: number, tid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11] ?? 0) + Number(f[12] ?? 0)) * TICK_MS;
}

function groupPids(pgrp: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (readStat(Number(name))?.pgrp === pgrp) pids.push(Number(name));
  }
  return pids;
}

/**
 * CPU time of a Postfix instance, ms: its live processes (the master's process group) plus the
 * children the master has already reaped (its cutime/cstime). Take differences of two readings.
 */
export function groupCpuMs(leader: number): number {
  let total = 0;
  for (const pid of groupPids(leader)) {
    const s = readStat(pid);
    if (!s) continue;
    total += s.utime + s.stime;
    if (pid === leader) total += s.cutime + s.cstime;
  }
  return total * TICK_MS;
}

function statusField(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident memory of one process, KiB. */
export function rssKiB(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** Proportional set size summed over a process group, KiB: shared pages counted once overall. */
export function groupPssKiB(leader: number): number {
  let total = 0;
  for (const pid of groupPids(leader)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      total += m ? Number(m[1]) : 0;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** The direct children of every process, from the ppid field of /proc/PID/stat. */
function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  return children;
}

/** `pid` and all its descendants (a daemon's worker processes, whatever their process group). */
export function processTree(pid: number): number[] {
  const children = childrenByParent();
  const tree: number[] = [];
  const todo = [pid];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    tree.push(next);
    todo.push(...(children.get(next) ?? []));
  }
  return tree;
}

export interface TreeMemory {
  /** Proportional set size summed over the processes (threads share their process's): pages shared with others counted by share. */
  pssKiB: number;
  /** Resident set size summed over the processes (VmRSS: shared pages counted in full by each). */
  rssKiB: number;
}

/** Pss and Rss of `pid` and its descendants, from /proc/PID/smaps_rollup, KiB. */
export function treeMemoryKiB(pid: number): TreeMemory {
  const total = { pssKiB: 0, rssKiB: 0 };
  for (const p of processTree(pid)) {
    try {
      const text = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      total.pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
      total.rssKiB += Number(/^Rss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export interface MemoryPeak {
  peakKiB: number;
  lastKiB: number;
  samples: number;
}

/** Samples `read()` every `intervalMs` until stopped; returns the peak and the last value. */
export function sampleMemory(read: () => number, intervalMs: number): { stop(): MemoryPeak } {
  const peak: MemoryPeak = { peakKiB: 0, lastKiB: 0, samples: 0 };
  const take = () => {
    const v = read();
    peak.samples++;
    peak.lastKiB = v;
    if (v > peak.peakKiB) peak.peakKiB = v;
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { ...peak };
    },
  };
}

/**
 * CPU time of `pid` and its live descendants, plus the children it has reaped (its cutime and
 * cstime: PostgreSQL's backends that ended), ms. Take differences of two readings.
 */
export function treeCpuMs(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    const s = readStat(p);
    if (!s) continue;
    total += s.utime + s.stime + (p === pid ? s.cutime + s.cstime : 0);
  }
  return total * TICK_MS;
}

export interface ThreadSample {
  tid: number;
  /** /proc/PID/task/TID/comm: "MainThread" (the event loop), a worker thread's name ("inbound-checks", "maildir-writer"; "WorkerThread" unnamed), "libuv-worker" … */
  name: string;
  cpuMs: number;
}

export interface ProcessSample {
  pid: number;
  ppid: number;
  /** User + system CPU of the process (all its threads), plus the children it reaped, ms. */
  cpuMs: number;
  threads: ThreadSample[];
}

/** One thread's name and CPU time, or undefined when it is gone. */
function readThread(pid: number, tid: number): ThreadSample | undefined {
  try {
    const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return { tid, name, cpuMs: (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * TICK_MS };
  } catch {
    return undefined;
  }
}

/** The threads of process `pid` with their CPU time (one that ends meanwhile is left out); undefined when the process is gone. */
export function threadsOf(pid: number): ThreadSample[] | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  return tids.flatMap((t) => readThread(pid, Number(t)) ?? []);
}

/** Every process of `pid`'s tree with its threads' CPU time: the figures bench/roles.ts assigns to roles. */
export function sampleTree(pid: number): ProcessSample[] {
  const out: ProcessSample[] = [];
  for (const p of processTree(pid)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z') continue;
    const n = (i: number) => Number(f[i] ?? 0);
    const threads = threadsOf(p);
    if (!threads) continue;
    out.push({ pid: p, ppid: n(1), cpuMs: (n(11) + n(12) + n(13) + n(14)) * TICK_MS, threads });
  }
  return out;
}
