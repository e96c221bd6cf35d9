// The inbound checks as one unit, built from their settings: a DNS resolver and cache of their own
// (dns.servers, never node's global one), mailauth's DKIM keys parsed once per key record, and the
// verifier, SPF check, warm-up and streamed DKIM over them. The same code wherever the checks run:
// on the checks thread (offload/thread.ts) or on the event loop (offload/adaptive.ts). Loads
// mailauth: import it only where the checks are needed, when they are.
//
//   inboundChecks(settings, observe?) → { verify, spf, warm, stream }

import { cachingResolver } from '../dns/cache.ts';
import type { NodeResolverOptions } from '../dns/node-resolver.ts';
import { createNodeResolver } from '../dns/node-resolver.ts';
import { isTemporary } from '../dns/resolver.ts';
import { warmUp } from './checks.ts';
import { installDkimKeyCache } from './dkim-keys.ts';
import { mailauthResolver } from './resolver.ts';
import { startStreamedDkim } from './streaming.ts';
import { createInboundVerifier, createSpfCheck } from './verify.ts';

/** What the checks need: our hostname (the authserv-id), the DNS servers, the DMARC policy and the time budget of one message. */
export interface VerifySettings {
  hostname: string;
  dns: NodeResolverOptions;
  dmarcReject: boolean;
  timeoutMs: number;
}

export type InboundChecks = ReturnType<typeof inboundChecks>;

/** A lookup of the checks' resolver that got no answer (SERVFAIL, REFUSED, a timeout). */
export interface DnsFailure {
  type: string;
  kind: 'servfail' | 'timeout';
}

/** `onDnsFailure`: each failed lookup (the daemon's DNS error count). */
export function inboundChecks(s: VerifySettings, onDnsFailure?: (failure: DnsFailure) => void) {
  installDkimKeyCache();
  const observe =
    onDnsFailure && ((type: string, answer: Parameters<typeof isTemporary>[0]) => isTemporary(answer) && onDnsFailure({ type, kind: answer.kind }));
  const cache = cachingResolver(createNodeResolver(s.dns, observe), { now: Date.now });
  const resolver = mailauthResolver(cache, cache);
  return {
    verify: createInboundVerifier({ hostname: s.hostname, resolver, dmarcReject: s.dmarcReject, timeoutMs: s.timeoutMs }),
    spf: createSpfCheck({ hostname: s.hostname, resolver }),
    warm: (header: Buffer) => warmUp(header, resolver),
    stream: (sender: string) => startStreamedDkim({ resolver, sender }),
  };
}
