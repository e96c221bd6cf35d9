// The transport table lookup (pure), Postfix's transport(5) in TOML: which next hop a destination
// domain goes to. Precedence: the exact domain, then ".parent" entries from the closest parent
// outward, then [outbound] relay, then MX delivery.
import type { NextHop, RelayAuth, TlsLevel } from '../config/types.ts';

export type Transport =
  | { kind: 'mx' }
  | {
      kind: 'relay';
      /** What chose it: "relay" ([outbound] relay) or the [outbound.transport] key ("example.com", ".internal.example"). */
      via: string;
      protocol: 'smtp' | 'smtps';
      host: string;
      port: number;
      /** False for "[host]": the host itself, no MX lookup. */
      mxLookup: boolean;
      /** undefined: the destination's own TLS policy. */
      tls: TlsLevel | undefined;
      auth: RelayAuth | undefined;
    };

function relayTo(via: string, hop: NextHop): Transport {
  return { kind: 'relay', via, protocol: hop.protocol, host: hop.host, port: hop.port, mxLookup: hop.mxLookup, tls: hop.tls, auth: hop.auth };
}

export function chooseTransport(domain: string, transports: Readonly<Record<string, NextHop>>, relay: NextHop | undefined): Transport {
  const name = domain.toLowerCase();
  const exact = Object.hasOwn(transports, name) ? transports[name] : undefined;
  if (exact) return relayTo(name, exact);
  const labels = name.split('.');
  for (let i = 1; i < labels.length; i++) {
    const key = `.${labels.slice(i).join('.')}`;
    const parent = Object.hasOwn(transports, key) ? transports[key] : undefined;
    if (parent) return relayTo(key, parent);
  }
  return relay ? relayTo('relay', relay) : { kind: 'mx' };
}

/** The transport as the hop record and `queue show` name it: "relay", "transport example.com"; undefined for MX delivery. */
export function transportLabel(t: Transport): string | undefined {
  if (t.kind === 'mx') return undefined;
  return t.via === 'relay' ? 'relay' : `transport ${t.via}`;
}
