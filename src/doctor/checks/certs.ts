// Checks 7 and 8 (pure): the certificate our own listeners serve for `hostname` (port 25 with
// STARTTLS, 465) verifies, names the hostname and is not about to expire; ACME's last error; the
// CAA record lets the ACME CA issue (RFC 8659). Later: MTA-STS, TLSRPT, TLSA and DNSSEC checks
// join FAMILIES in families.ts when those features land.
import { caaIssuer, caaValue } from '../../records/records.ts';
import { type DoctorFacts, type Finding, ok, problem, records } from '../findings.ts';

const DAY = 86_400_000;

export function checkCerts(f: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  const acmeFix = f.acme.enabled
    ? 'see sealpost certs --config FILE for the ACME status and its last error'
    : 'turn on [acme] (enabled = true, listen.acme_http on port 80) or set tls.cert_file and tls.key_file';
  for (const c of f.certs) {
    const subject = `${f.hostname} (${c.listener} ${c.address})`;
    const p = c.probe;
    if (p.kind === 'down') {
      out.push(
        problem(
          'warning',
          'cert.not-running',
          subject,
          `Sealpost does not answer there (${p.detail}): certificate not checked`,
          'the certificate can only be checked on a running server',
          'start Sealpost (sealpost start, or systemctl start sealpost) and run sealpost doctor again',
        ),
      );
      continue;
    }
    if (p.kind === 'no-starttls') {
      out.push(
        problem(
          'error',
          'cert.no-starttls',
          subject,
          'STARTTLS is not offered',
          'mail to this server travels in plaintext',
          'check that this is Sealpost listening there',
        ),
      );
      continue;
    }
    if (p.kind === 'failed') {
      out.push(problem('error', 'cert.handshake', subject, `TLS failed: ${p.detail}`, 'senders that require TLS cannot deliver', acmeFix));
      continue;
    }
    const left = Math.floor((Date.parse(p.leaf.notAfter) - f.now) / DAY);
    const issuer = p.leaf.selfIssued ? 'self-signed' : `issued by ${p.leaf.issuer}`;
    if (left < 0)
      out.push(
        problem('error', 'cert.expired', subject, `expired on ${p.leaf.notAfter}`, 'senders that verify refuse it; MTA-STS domains cannot deliver', acmeFix),
      );
    else if (p.nameError)
      out.push(
        problem(
          'error',
          'cert.name',
          subject,
          p.nameError,
          `senders that verify (MTA-STS, DANE, verify policies) refuse a certificate that does not name ${f.hostname}`,
          f.acme.enabled ? acmeFix : `get a certificate for ${f.hostname}; ${acmeFix}`,
        ),
      );
    else if (!p.authorized)
      out.push(
        problem(
          p.leaf.selfIssued && f.acme.enabled ? 'warning' : 'error',
          'cert.unverified',
          subject,
          `${issuer}; does not verify (${p.code ?? 'unknown'})`,
          'senders that verify refuse it; opportunistic senders accept it but learn nothing',
          f.acme.enabled ? `ACME has not issued one yet; ${acmeFix}` : acmeFix,
        ),
      );
    else if (left < 14)
      out.push(
        problem('warning', 'cert.expiring', subject, `expires in ${left} days (${p.leaf.notAfter})`, 'an expired certificate stops verifying senders', acmeFix),
      );
    else out.push(ok('cert.valid', subject, `verifies, names ${f.hostname}, ${issuer}, ${left} days left`));
  }
  if (f.acme.enabled && f.acme.lastError) {
    out.push(
      problem(
        'error',
        'acme.failing',
        f.hostname,
        `the last ACME attempt failed: ${f.acme.lastError}`,
        'the certificate will expire if renewal keeps failing',
        `fix the cause (port 80 reachable? ${f.hostname} resolving here?), then: sealpost certs renew --config FILE`,
      ),
    );
  }
  return out;
}

/** CAA (RFC 8659 §4): when records exist, one must name our CA or ACME issuance fails. */
export function checkCaa(f: DoctorFacts): Finding[] {
  if (!f.acme.enabled || !f.acme.caa) return [];
  const issuer = caaIssuer(f.acme.directory);
  const want = `${f.hostname}. IN CAA ${caaValue(f.acme.directory, f.acme.accountUrl)}`;
  const caa = records(f.acme.caa.records);
  const issue = caa.filter((r) => /^\d+\s+issue\s/i.test(r));
  if (issue.length === 0) {
    return [
      problem(
        'warning',
        'caa.missing',
        f.hostname,
        `no CAA issue record at ${f.acme.caa.at}: any CA may issue for ${f.hostname}`,
        'a CAA record limits issuance to your CA (and your account), so nobody else can get a certificate for your mail host',
        `publish ${want}`,
      ),
    ];
  }
  const values = issue.map((r) => r.replace(/^\d+\s+issue\s+/i, '').replace(/^"|"$/g, ''));
  const ours = values.filter((v) => v.split(';')[0]?.trim().toLowerCase() === issuer);
  if (ours.length === 0) {
    return [
      problem(
        'error',
        'caa.other-ca',
        f.hostname,
        `CAA at ${f.acme.caa.at} allows ${values.map((v) => v.split(';')[0]?.trim()).join(', ')}, not ${issuer}`,
        'the ACME CA must refuse to issue: certificates will not renew',
        `add ${want}`,
      ),
    ];
  }
  const account = ours.map((v) => /accounturi=([^;\s]+)/i.exec(v)?.[1]).filter((a): a is string => a !== undefined);
  if (f.acme.accountUrl && account.length > 0 && !account.includes(f.acme.accountUrl)) {
    return [
      problem(
        'error',
        'caa.other-account',
        f.hostname,
        `CAA binds ${issuer} to account ${account.join(', ')}, not ours (${f.acme.accountUrl})`,
        'the CA must refuse our orders (RFC 8657)',
        `publish ${want}`,
      ),
    ];
  }
  return [ok('caa.ok', f.hostname, `CAA allows ${issuer}${account.length > 0 ? ' for our account' : ''}`)];
}
