// The primary's connection table for [server] processes > 1 (Postfix's anvil(8) server): the open
// sessions per client address and network, and the connections each address opened in the last
// minute, counted across every session process, per listener role. A process asks before it
// greets a client and tells when the session ends; when a process dies its sessions are dropped.
// The total (limits.connections) is counted here too and refused when reached; stress mode and
// eviction stay in each process's own anvil (inbound/anvil.ts). Pure state; the clock is passed in.
import { admit, clientKeys, rateAdmit } from '../inbound/client-limits.ts';
import type { Admission, Role } from './protocol.ts';

export interface SharedLimits {
  /** limits.connections: all processes together (a session process evicts only within its own). */
  connections: number;
  perAddress: number;
  perNetwork: number;
  /** New connections per address in a minute on port 25 (0 = no limit). */
  perMinute: number;
  /** relay.networks: not rate-limited. */
  rateExempt: (ip: string) => boolean;
}

export class SharedAnvil {
  private readonly open = new Map<string, number>();
  /** Per process: its open sessions' count keys, to drop when it dies. */
  private readonly held = new Map<number, Map<string, number>>();
  private readonly opened = new Map<string, number[]>();

  private readonly limits: SharedLimits;
  private readonly now: () => number;

  constructor(limits: SharedLimits, now: () => number) {
    this.limits = limits;
    this.now = now;
  }

  admit(role: Role, ip: string, process: number): Admission {
    const keys = clientKeys(ip);
    const address = `${role} ${keys.address}`;
    const network = `${role} net ${keys.network}`;
    // Port 25 only, as in the single process (submission has no per-minute limit).
    const perMinute = role === 'mx' ? this.limits.perMinute : 0;
    if (perMinute > 0 && !this.limits.rateExempt(ip)) {
      const { recent, ok } = rateAdmit(this.opened.get(address) ?? [], this.now(), perMinute);
      if (!ok) {
        this.opened.set(address, recent);
        return { kind: 'refuse', limit: 'rate' };
      }
      recent.push(this.now());
      this.opened.set(address, recent);
    }
    const total = `${role} total`;
    const a = admit(
      { total: this.open.get(total) ?? 0, address: this.open.get(address) ?? 0, network: this.open.get(network) ?? 0 },
      { connections: this.limits.connections, perAddress: this.limits.perAddress, perNetwork: this.limits.perNetwork },
    );
    if (a.kind === 'refuse') return a;
    if (a.kind === 'full') return { kind: 'refuse', limit: 'total' };
    const mine = this.held.get(process) ?? new Map<string, number>();
    this.held.set(process, mine);
    for (const key of [address, network, total]) {
      bump(this.open, key, 1);
      bump(mine, key, 1);
    }
    return { kind: 'accept' };
  }

  left(role: Role, ip: string, process: number): void {
    const keys = clientKeys(ip);
    const mine = this.held.get(process);
    for (const key of [`${role} ${keys.address}`, `${role} net ${keys.network}`, `${role} total`]) {
      if (!mine?.get(key)) continue;
      bump(mine, key, -1);
      bump(this.open, key, -1);
    }
  }

  gone(process: number): void {
    for (const [key, n] of this.held.get(process) ?? []) bump(this.open, key, -n);
    this.held.delete(process);
  }

  /** Sessions counted now for an address on a role (tests, status). */
  openFor(role: Role, ip: string): number {
    return this.open.get(`${role} ${clientKeys(ip).address}`) ?? 0;
  }

  /** Forgets the minute of addresses that stopped connecting (called now and then). */
  sweep(): void {
    const now = this.now();
    for (const [k, times] of this.opened) if (times.every((t) => now - t >= 60_000)) this.opened.delete(k);
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
