// Check 11 (pure): can mail leave through the configured smarthost? For [outbound] relay and each
// transport with credentials: the connection, TLS by its level (a smarthost is a known host:
// "verify" by default), and AUTH with the configured credentials (RFC 4954; no mail sent). Each
// failure says what the smarthost answered and what to change.
import type { SmtpReply } from '../../core/delivery.ts';
import type { TlsObserved } from '../../tls-policy/evaluate.ts';
import { type DoctorFacts, type Finding, ok, problem, type SmarthostFacts } from '../findings.ts';

const WHY = 'mail to other domains goes through this smarthost: until it works, none of it leaves (it waits in the queue)';
const RETRY = 'then: systemctl restart sealpost; sealpost queue retry --all';

function said(reply: SmtpReply | undefined): string {
  return reply ? `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.text}` : '';
}

function tlsText(t: TlsObserved): string {
  return t.handshake === 'ok' ? `${t.version ?? ''} ${t.cipher ?? ''}`.trim() : 'no TLS';
}

function key(s: SmarthostFacts): string {
  return s.via === 'relay' ? 'outbound.relay' : `outbound.transport.${JSON.stringify(s.via.slice('transport '.length))}`;
}

/** The fix for a TLS refusal: the CA, the name, or the protocol, by what failed. */
function tlsFix(s: SmarthostFacts, t: TlsObserved): string {
  if (t.chainError)
    return `if the smarthost's certificate comes from a private CA, add that CA (PEM) with outbound.ca_file; otherwise ask the provider to fix its chain. Do not lower the TLS level to send a password`;
  if (t.nameError)
    return `write the name its certificate carries in ${key(s)} (e.g. "${s.nexthop.split(':')[0]}:[the name on the certificate]:${s.port}"); the name must be the one the certificate names`;
  if (s.nexthop.startsWith('smtps:'))
    return `check that port ${s.port} speaks TLS from the first byte (465); for STARTTLS on 587 write "smtp:[${s.host}]:587" in ${key(s)}`;
  return `for implicit TLS write "smtps:[${s.host}]:465" in ${key(s)}; STARTTLS ("smtp:") needs the smarthost to offer it`;
}

export function checkSmarthost(f: DoctorFacts): Finding[] {
  return (f.smarthosts ?? []).flatMap((s) => one(s));
}

function one(s: SmarthostFacts): Finding[] {
  const subject = `${s.host}:${s.port} (${s.via})`;
  const r = s.result;
  switch (r.stage) {
    case 'resolve':
      return [problem('error', 'smarthost.resolve', subject, r.detail, WHY, `check the host name in ${key(s)} and dns.servers`)];
    case 'connect':
      return [
        problem(
          'error',
          'smarthost.connect',
          subject,
          r.detail,
          WHY,
          /timed out/.test(r.detail)
            ? `a silent timeout: a firewall or the provider drops port ${s.port}; try the smarthost's other port (465 with "smtps:", 587 with "smtp:") in ${key(s)}`
            : `check the host and port in ${key(s)} (${s.nexthop}); the provider's documentation names them`,
        ),
      ];
    case 'greeting':
    case 'ehlo':
      return [
        problem(
          'error',
          `smarthost.${r.stage}`,
          subject,
          `${r.detail}${r.reply ? `: ${said(r.reply)}` : ''}`,
          WHY,
          `the smarthost at ${r.ip} does not talk SMTP with us there; check ${key(s)} (${s.nexthop}) against the provider's settings`,
        ),
      ];
    case 'tls':
      return [
        problem(
          'error',
          'smarthost.tls',
          subject,
          `TLS level ${s.level}: ${r.verdict}`,
          `${WHY}; and credentials must not travel unprotected`,
          tlsFix(s, r.tls),
        ),
      ];
    case 'password':
      return [
        ok('smarthost.tls', subject, `${r.ip}: ${tlsText(r.tls)}, ${s.level === 'verify' ? 'certificate verified' : `level ${s.level}`}`),
        problem(
          'error',
          'smarthost.password',
          subject,
          `cannot read the password file ${s.passwordFile ?? ''}: ${r.detail}`,
          WHY,
          `put the password (one line) in ${s.passwordFile ?? 'the file'}, owned by Sealpost's user with mode 600 (install -m 600 -o sealpost /dev/null FILE, then edit it)`,
        ),
      ];
    case 'auth':
      return [
        ok('smarthost.tls', subject, `${r.ip}: ${tlsText(r.tls)}, ${s.level === 'verify' ? 'certificate verified' : `level ${s.level}`}`),
        r.reply
          ? problem(
              'error',
              'smarthost.auth',
              subject,
              `the smarthost refused our credentials: ${said(r.reply)} (user ${s.username ?? ''})`,
              WHY,
              `check the username in ${s.via === 'relay' ? '[outbound.relay_auth]' : key(s)} and the password in ${s.passwordFile ?? 'its file'} (one line, nothing else); some providers want an app password or SMTP to be enabled for the account; ${RETRY}`,
            )
          : problem(
              'error',
              'smarthost.auth',
              subject,
              `AUTH did not run: ${r.detail}`,
              WHY,
              r.offered === ''
                ? `the smarthost offers no AUTH on this port: use its submission port (587 with "smtp:", 465 with "smtps:") in ${key(s)}`
                : `the smarthost offers AUTH ${r.offered}; Sealpost speaks PLAIN and LOGIN: ask the provider for one of them`,
            ),
      ];
    case 'done': {
      const from = r.source ? ` from ${r.source}` : '';
      const found = [ok('smarthost.tls', subject, `${r.ip}${from}: ${tlsText(r.tls)}, ${s.level === 'verify' ? 'certificate verified' : `level ${s.level}`}`)];
      if (r.authenticated) found.push(ok('smarthost.auth', subject, `AUTH accepted for user ${s.username ?? ''} (no mail sent)`));
      return found;
    }
  }
}
