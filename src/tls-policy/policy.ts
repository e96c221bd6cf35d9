// The TLS policy for one destination domain (pure): explicit table entry, then DANE, then MTA-STS,
// then tls_default (RFC 8461 §2: DANE wins over MTA-STS). Postfix's levels (none, may, encrypt,
// verify, dane, dane-only); MTA-STS enforce means verify. DANE is decided per MX host once its
// TLSA records are known (outbound/hop.ts hostPolicy): a "dane" policy keeps the MTA-STS policy
// for the hosts without DANE.
import { isDaneLevel, type TlsLevel } from '../config/types.ts';
import type { StsPolicy } from './mta-sts.ts';

/**
 * 'dane': the MX host's TLSA records set the level (outbound/hop.ts hostPolicy). 'tls-required': a
 * `TLS-Required: No` message with its destination's MTA-STS or DANE set aside (RFC 8689 §5).
 */
export type PolicySource = 'table' | 'mta-sts' | 'default' | 'transport' | 'dane' | 'tls-required';

export interface TlsPolicy {
  level: TlsLevel;
  source: PolicySource;
  /** The MTA-STS policy for the domain, when there is one (mode enforce or testing). */
  sts?: StsPolicy & { id: string };
}

/**
 * The table entry for `domain`: the exact name first, then ".parent" entries from the closest
 * parent outward (".example.net" matches a.example.net and a.b.example.net, not example.net).
 */
export function tableLevel(domain: string, table: Readonly<Record<string, TlsLevel>>): TlsLevel | undefined {
  const name = domain.toLowerCase();
  if (Object.hasOwn(table, name)) return table[name];
  const labels = name.split('.');
  for (let i = 1; i < labels.length; i++) {
    const key = `.${labels.slice(i).join('.')}`;
    if (Object.hasOwn(table, key)) return table[key];
  }
  return undefined;
}

export function choosePolicy(
  domain: string,
  table: Readonly<Record<string, TlsLevel>>,
  sts: (StsPolicy & { id: string }) | undefined,
  tlsDefault: TlsLevel,
): TlsPolicy {
  const active = sts && sts.mode !== 'none' ? sts : undefined;
  const explicit = tableLevel(domain, table);
  if (explicit !== undefined) return { level: explicit, source: 'table', ...(active ? { sts: active } : {}) };
  // DANE first: each MX host's TLSA records decide, MTA-STS only for hosts without them.
  if (isDaneLevel(tlsDefault)) return { level: tlsDefault, source: 'default', ...(active ? { sts: active } : {}) };
  // RFC 8461 §5: enforce → deliver only over verified TLS to matching MX hosts.
  if (active?.mode === 'enforce') return { level: 'verify', source: 'mta-sts', sts: active };
  return { level: tlsDefault, source: 'default', ...(active ? { sts: active } : {}) };
}
