// Where scripts/install-bench-peers put the unpacked peers, and the system users they run as.
// Side effects: none (reads /etc/passwd through getent).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The unprivileged user OpenSMTPD and chasquid deliver as (made by scripts/install-bench-peers). */
export const BENCH_USER = 'sealpost-bench';

export function benchPeersDir(): string {
  return process.env['SEALPOST_BENCH_PEERS'] ?? '/opt/sealpost-bench';
}

/** Whether a peer's binary is installed (relative to the unpacked root). */
export function installed(relative: string): boolean {
  return existsSync(path.join(benchPeersDir(), 'root', relative));
}

export function systemUser(name: string): { uid: number; gid: number } {
  const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}
