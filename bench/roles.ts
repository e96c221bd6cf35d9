// The Sealpost daemon's processes by role ([server] processes): the primary and session 1…N, and
// in each the event loop, the checks thread and the Maildir writer threads, with their CPU time read from /proc (samples of
// proc.ts sampleTree). Pure: naming roles, CPU per role, differences of two readings.
import type { ProcessSample } from './proc.ts';

/** pid → "primary" | "session 1" | …: session processes numbered in the order they were first seen (pid order within one reading). */
export type Roles = ReadonlyMap<number, string>;

/**
 * A role's CPU time, ms: the whole process, its event loop (main thread), its checks thread
 * (`inbound-checks`, or a worker thread Node did not name) and its Maildir writers (`maildir-writer`).
 */
export interface RoleCpu {
  processMs: number;
  loopMs: number;
  offloadMs: number;
  writersMs: number;
}

/** The thread names of Sealpost's worker threads (offload/client.ts, offload/writers.ts), as /proc/PID/task/TID/comm has them. */
const CHECKS_THREAD = new Set(['inbound-checks', 'WorkerThread']);
const WRITER_THREAD = 'maildir-writer';

/**
 * `known` plus a role for every process of `tree` not in it: the primary is `primary`, every other
 * one a session process numbered after the highest known (a restarted one gets a new number).
 */
export function assignRoles(primary: number, tree: readonly ProcessSample[], known: Roles = new Map()): Map<number, string> {
  const roles = new Map(known);
  roles.set(primary, 'primary');
  let next = [...roles.values()].reduce((n, r) => Math.max(n, Number(/^session (\d+)$/.exec(r)?.[1] ?? 0)), 0);
  for (const p of [...tree].sort((a, b) => a.pid - b.pid)) {
    if (!roles.has(p.pid)) roles.set(p.pid, `session ${++next}`);
  }
  return roles;
}

/** CPU per role of one reading; a process without a role (started after the roles were named) counts as "pid N". */
export function cpuByRole(tree: readonly ProcessSample[], roles: Roles): Record<string, RoleCpu> {
  const out: Record<string, RoleCpu> = {};
  for (const p of tree) {
    const role = roles.get(p.pid) ?? `pid ${p.pid}`;
    const loopMs = p.threads.find((t) => t.tid === p.pid)?.cpuMs ?? 0;
    const sum = (named: (name: string) => boolean) => p.threads.filter((t) => t.tid !== p.pid && named(t.name)).reduce((n, t) => n + t.cpuMs, 0);
    out[role] = { processMs: p.cpuMs, loopMs, offloadMs: sum((n) => CHECKS_THREAD.has(n)), writersMs: sum((n) => n === WRITER_THREAD) };
  }
  return out;
}

/** `after − before` per role (a role absent before counts from 0; one gone after is left out: its CPU went to the primary's reaped children). */
export function roleCpuSince(before: Record<string, RoleCpu>, after: Record<string, RoleCpu>): Record<string, RoleCpu> {
  const out: Record<string, RoleCpu> = {};
  for (const [role, a] of Object.entries(after)) {
    const b = before[role] ?? { processMs: 0, loopMs: 0, offloadMs: 0, writersMs: 0 };
    out[role] = {
      processMs: a.processMs - b.processMs,
      loopMs: a.loopMs - b.loopMs,
      offloadMs: a.offloadMs - b.offloadMs,
      writersMs: a.writersMs - b.writersMs,
    };
  }
  return out;
}

/** The roles in reading order: primary first, then the session processes by number, then the rest. */
export function roleOrder(a: string, b: string): number {
  const rank = (r: string) => (r === 'primary' ? -1 : Number(/^session (\d+)$/.exec(r)?.[1] ?? 1e9));
  return rank(a) - rank(b) || a.localeCompare(b);
}
