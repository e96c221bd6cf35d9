// The benchmark's control groups: every server in a cpu group of its own with the same weight, so
// a server of many processes cannot out-compete a one-process server under outside load, all of
// them inside one cpuset (`--cpus 1` pins the servers to CPU 0 and the load generators to the
// other CPUs), and each group's CPU time and memory read from the kernel, which counts every
// process and thread of the server, reaped or orphaned. cgroup v2 when mounted, else v1 (cpu,
// cpuacct, cpuset hierarchies). Side effects: directories under /sys/fs/cgroup (removed by
// close()), processes moved into them.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup';
const NAME = `sealpost-bench-${process.pid}`;

export interface ServerGroup {
  readonly name: string;
  /** Moves `pid` and every process descending from it into the group (later children follow by themselves). */
  adopt(pid: number): void;
  /** CPU time of everything that ever ran in the group, ms. */
  cpuMs(): number;
  /** Proportional set size summed over the group's processes, KiB. */
  pssKiB(): number;
}

export interface ServerGroups {
  readonly kind: 'v2' | 'v1';
  group(name: string): ServerGroup;
  /**
   * Runs the servers on CPUs 0…n-1 from now on; when that leaves CPUs over, this process (and so
   * every load generator it starts afterwards) runs on those, else anywhere.
   */
  setCpus(n: number): void;
  close(): void;
}

function write(file: string, value: string): void {
  writeFileSync(file, value);
}

function children(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function descendants(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i] as number));
  return all;
}

function procs(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function pss(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      total += m ? Number(m[1]) : 0;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

function moveAll(files: string[], pid: number): void {
  for (const p of descendants(pid)) {
    for (const f of files) {
      try {
        write(f, String(p));
      } catch {
        // exited meanwhile
      }
    }
  }
}

/** "0-1" for CPUs a…b. */
const range = (a: number, b: number) => (a === b ? String(a) : `${a}-${b}`);

function moveOut(dir: string, to: string): void {
  for (const p of procs(dir)) {
    try {
      write(path.join(to, 'cgroup.procs'), String(p));
    } catch {
      // exited meanwhile
    }
  }
}

/**
 * The groups for one run, the servers on `cpus` CPUs, or undefined when this machine has no
 * writable cgroup file system (the bench then measures CPU per process tree and says so).
 */
export function openServerGroups(cpus: number): ServerGroups | undefined {
  const total = os.cpus().length;
  const made: string[] = [];
  const mk = (dir: string) => {
    mkdirSync(dir);
    made.push(dir);
  };
  const removeAll = (parentOf: (dir: string) => string) => {
    for (const dir of [...made].reverse()) {
      moveOut(dir, parentOf(dir));
      try {
        rmdirSync(dir);
      } catch {
        // still busy: left for the next boot
      }
    }
  };
  try {
    const v2 = existsSync(path.join(ROOT, 'cgroup.controllers'));
    if (!v2) for (const h of ['cpu', 'cpuacct', 'cpuset']) if (!existsSync(path.join(ROOT, h, 'cgroup.procs'))) return undefined;
    // v2: one tree; v1: the cpu and cpuacct trees hold a group per server, the cpuset tree the servers and the load.
    const cpuTop = v2 ? path.join(ROOT, NAME) : path.join(ROOT, 'cpu', NAME);
    const acctTop = v2 ? cpuTop : path.join(ROOT, 'cpuacct', NAME);
    const setTop = v2 ? cpuTop : path.join(ROOT, 'cpuset', NAME);
    const mems = v2 ? '' : readFileSync(path.join(ROOT, 'cpuset', 'cpuset.mems'), 'utf8').trim();
    for (const dir of new Set([cpuTop, acctTop, setTop])) mk(dir);
    // A v1 cpuset starts empty; its children may only use what it has.
    if (!v2) {
      write(path.join(setTop, 'cpuset.cpus'), range(0, total - 1));
      write(path.join(setTop, 'cpuset.mems'), mems);
    }
    if (v2) write(path.join(cpuTop, 'cgroup.subtree_control'), '+cpu +cpuset');
    const cpuset = (name: string) => {
      const dir = path.join(setTop, name);
      mk(dir);
      if (!v2) {
        write(path.join(dir, 'cpuset.cpus'), range(0, total - 1));
        write(path.join(dir, 'cpuset.mems'), mems);
      }
      return dir;
    };
    const servers = cpuset('servers');
    const load = cpuset('load');
    if (v2) write(path.join(servers, 'cgroup.subtree_control'), '+cpu');
    const groups: ServerGroups = {
      kind: v2 ? 'v2' : 'v1',
      group(name) {
        if (v2) {
          const dir = path.join(servers, name);
          mk(dir);
          write(path.join(dir, 'cpu.weight'), '100');
          return {
            name,
            adopt: (pid) => moveAll([path.join(dir, 'cgroup.procs')], pid),
            cpuMs: () => Number(/^usage_usec (\d+)/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0) / 1000,
            pssKiB: () => pss(procs(dir)),
          };
        }
        const cpu = path.join(cpuTop, name);
        const acct = path.join(acctTop, name);
        mk(cpu);
        mk(acct);
        write(path.join(cpu, 'cpu.shares'), '1024');
        return {
          name,
          adopt: (pid) => moveAll([path.join(cpu, 'cgroup.procs'), path.join(acct, 'cgroup.procs'), path.join(servers, 'cgroup.procs')], pid),
          cpuMs: () => Number(readFileSync(path.join(acct, 'cpuacct.usage'), 'utf8').trim()) / 1e6,
          pssKiB: () => pss(procs(acct)),
        };
      },
      setCpus(n) {
        const k = Math.max(1, Math.min(n, total));
        write(path.join(servers, 'cpuset.cpus'), range(0, k - 1));
        write(path.join(load, 'cpuset.cpus'), k < total ? range(k, total - 1) : range(0, total - 1));
        write(path.join(load, 'cgroup.procs'), String(process.pid));
      },
      close() {
        write(path.join(v2 ? ROOT : path.join(ROOT, 'cpuset'), 'cgroup.procs'), String(process.pid));
        removeAll((dir) => (v2 ? ROOT : path.join(ROOT, path.relative(ROOT, dir).split(path.sep)[0] as string)));
      },
    };
    groups.setCpus(cpus);
    return groups;
  } catch (err) {
    process.stderr.write(`bench: no control groups (${(err as Error).message}); CPU is read per process tree\n`);
    removeAll(() => ROOT);
    return undefined;
  }
}
