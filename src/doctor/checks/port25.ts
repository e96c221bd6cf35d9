// Check 10 (pure): can this machine open TCP connections to port 25 of another mail server? Many
// cloud and residential providers block outbound port 25; then no mail leaves.
import { type DoctorFacts, type Finding, ok, problem } from '../findings.ts';

export function checkPort25(f: DoctorFacts): Finding[] {
  const p = f.port25;
  if (!p) return [];
  const fix =
    'ask your provider to unblock outbound port 25 (many do on request, some only after some weeks), or relay through a smarthost: [outbound] relay = "smtp:[smtp.provider.example]:587" with [outbound.relay_auth] (README: Relaying through a smarthost)';
  switch (p.kind) {
    case 'connected':
      return [ok('port25.open', p.target, `connected to ${p.ip} in ${p.ms} ms`)];
    case 'timeout':
      return [
        problem(
          'error',
          'port25.blocked',
          p.target,
          `no answer from ${p.ip} within ${Math.round(p.ms / 1000)} s`,
          'a silent timeout means your provider blocks outbound port 25: no mail to other domains will leave',
          fix,
        ),
      ];
    case 'failed':
      return [
        problem(
          'warning',
          'port25.failed',
          p.target,
          `connecting to ${p.ip} failed: ${p.detail}`,
          'something refused the connection; if every host does so, outbound mail is blocked',
          `try another host: doctor.probe_mx = "DOMAIN" or "IP:PORT"; if it persists, ${fix}`,
        ),
      ];
    case 'unresolved':
      return [
        problem(
          'warning',
          'port25.unresolved',
          p.target,
          `could not find the host to probe: ${p.detail}`,
          'the port-25 test did not run',
          'check dns.servers, or set doctor.probe_mx to a domain or "IP:PORT" that accepts mail',
        ),
      ];
  }
}
