// This server's public addresses when the config and the command line name none: the machine's
// global addresses from its interfaces (no network call). Reads os.networkInterfaces() only.
import os from 'node:os';
import { notPublic } from './checks/host.ts';

export function machineAddresses(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  const out: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) {
      if (i.internal || notPublic(i.address) || out.includes(i.address)) continue;
      out.push(i.address);
    }
  }
  return out;
}

/** --ip wins, then doctor.addresses, then the machine's; with which one it was. */
export function pickAddresses(
  flag: readonly string[],
  configured: readonly string[],
  machine: () => string[],
): { addresses: string[]; source: 'flag' | 'config' | 'machine' } {
  if (flag.length > 0) return { addresses: [...flag], source: 'flag' };
  if (configured.length > 0) return { addresses: [...configured], source: 'config' };
  return { addresses: machine(), source: 'machine' };
}
