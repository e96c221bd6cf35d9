// Which processes are still alive, read from /proc (Linux): for asserting that a daemon and its
// children are gone. Side effects: reads /proc only.
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie: exited, not yet reaped), ... */
  state: string;
  ppid: number;
  pgrp: number;
}

/** /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  if (close === -1 || !Number.isInteger(pid)) return undefined;
  const [state, ppid, pgrp] = text.slice(close + 2).split(' ');
  if (state === undefined || ppid === undefined || pgrp === undefined) return undefined;
  return { pid, state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

function procStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone between readdir and read
  }
}

/** True while `pid` runs. A zombie has exited: only its parent's wait() is missing. */
export function isAlive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** Pids of the live (non-zombie) processes in process group `pgrp`. */
export function livePidsInGroup(pgrp: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat !== undefined && stat.pgrp === pgrp && stat.state !== 'Z') pids.push(stat.pid);
  }
  return pids;
}
