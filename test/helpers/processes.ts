// Which processes are still alive, read from /proc (Linux): for asserting that a daemon and its
// children are gone. Side effects: reads /proc only.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

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

/**
 * True when `pid` has a handler installed for `signal` (SigCgt in /proc/PID/status). Note that
 * Node always catches SIGINT and SIGTERM itself (it resets the terminal and re-raises them when
 * no JS listener exists), so for a Node process only other signals say anything.
 */
export function catchesSignal(pid: number, signal: NodeJS.Signals): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return false;
  }
  const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const number = os.constants.signals[signal];
  if (mask === undefined) return false;
  return ((BigInt(`0x${mask}`) >> BigInt(number - 1)) & 1n) === 1n;
}
