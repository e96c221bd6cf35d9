// Probes an SMTP server's STARTTLS with `openssl s_client` in tests: which certificate it serves
// (for a given SNI name or none), the protocol and cipher, and the verify result against a CA
// file. Side effect: one openssl process; it sends QUIT after the handshake and exits.
import { X509Certificate } from 'node:crypto';
import { run } from './proc.ts';

export interface StartTlsProbe {
  port: number;
  host?: string;
  /** SNI name to send. Without it (and with an IP to connect to) openssl sends no SNI. */
  servername?: string;
  /** Send no SNI even if openssl would derive one. */
  noServername?: boolean;
  /** Trusted CAs (PEM file) for the verify result. Without it the result is "unable to get ...". */
  caFile?: string;
  /** Check the certificate against this name (-verify_hostname). Default: servername, if given. */
  verifyHostname?: string;
  /** EHLO name openssl uses (-name). */
  ehlo?: string;
  extraArgs?: readonly string[];
  timeoutMs?: number;
}

export interface PeerCertificate {
  subject: string;
  issuer: string;
  /** As node prints it: "DNS:mx.example.test, DNS:other.test"; undefined without SANs. */
  subjectAltName: string | undefined;
  /** The dNSName SANs alone. */
  dnsNames: string[];
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  pem: string;
}

export interface StartTlsResult {
  /** A handshake completed: a protocol and cipher were negotiated. */
  ok: boolean;
  /** "TLSv1.3", "TLSv1.2" (undefined when no handshake). */
  protocol: string | undefined;
  /** OpenSSL's name, e.g. "TLS_AES_256_GCM_SHA384" or "ECDHE-ECDSA-AES256-GCM-SHA384". */
  cipher: string | undefined;
  /** The leaf the server sent. */
  certificate: PeerCertificate | undefined;
  /** Every certificate the server sent, leaf first (PEM). */
  chainPem: string[];
  /** openssl's verify result: code 0 is "ok"; e.g. 18 self-signed, 62 hostname mismatch. */
  verify: { code: number; message: string } | undefined;
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function sClientStartTls(probe: StartTlsProbe): Promise<StartTlsResult> {
  const args = ['s_client', '-starttls', 'smtp', '-connect', `${probe.host ?? '127.0.0.1'}:${probe.port}`, '-showcerts', '-crlf'];
  if (probe.servername !== undefined) args.push('-servername', probe.servername);
  if (probe.noServername) args.push('-noservername');
  if (probe.caFile !== undefined) args.push('-CAfile', probe.caFile);
  const verifyName = probe.verifyHostname ?? probe.servername;
  if (verifyName !== undefined) args.push('-verify_hostname', verifyName);
  if (probe.ehlo !== undefined) args.push('-name', probe.ehlo);
  args.push(...(probe.extraArgs ?? []));
  // QUIT after the handshake: s_client reads stdin only once TLS is up, then exits on the 221.
  const result = await run('openssl', args, { input: 'QUIT\n', timeoutMs: probe.timeoutMs ?? 15_000 });
  return { ...parseSClientOutput(result.stdout), code: result.code, stdout: result.stdout, stderr: result.stderr };
}

/** The facts in `openssl s_client -showcerts` output. Pure. */
export function parseSClientOutput(stdout: string): Omit<StartTlsResult, 'code' | 'stdout' | 'stderr'> {
  const chainPem = stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  // "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"; "New, (NONE), Cipher is (NONE)" on failure.
  const session = /^New, (\S+), Cipher is (\S+)/m.exec(stdout);
  const negotiated = session !== null && session[2] !== '(NONE)';
  // The "New, …" line names the cipher's first version; the SSL-Session's "Protocol :" line
  // names the version actually negotiated (e.g. TLSv1.1 where "New," says TLSv1.0).
  const protocol = /^\s*Protocol\s*:\s*(\S+)/m.exec(stdout)?.[1] ?? session?.[1];
  const verifies = [...stdout.matchAll(/Verify return code: (\d+) \(([^)]*)\)/g)];
  const lastVerify = verifies.at(-1);
  const leaf = chainPem[0];
  return {
    ok: negotiated,
    protocol: negotiated ? protocol : undefined,
    cipher: negotiated ? session[2] : undefined,
    certificate: leaf === undefined ? undefined : describeCertificate(leaf),
    chainPem: chainPem.map((p) => `${p}\n`),
    verify: lastVerify ? { code: Number(lastVerify[1]), message: lastVerify[2] ?? '' } : undefined,
  };
}

export function describeCertificate(pem: string): PeerCertificate {
  const cert = new X509Certificate(pem);
  const san = cert.subjectAltName;
  const dnsNames = (san ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    subjectAltName: san,
    dnsNames,
    validFrom: cert.validFrom,
    validTo: cert.validTo,
    fingerprint256: cert.fingerprint256,
    pem: cert.toString(),
  };
}

export interface RenegotiationProbe {
  port: number;
  host?: string;
  /** STARTTLS (25, 587) or implicit TLS (465). */
  starttls: boolean;
  timeoutMs?: number;
}

export interface RenegotiationResult {
  /** After "R" the session still answered a NOOP: the server went through a renegotiation. */
  renegotiated: boolean;
  /** s_client printed RENEGOTIATING (it sent the new ClientHello). */
  attempted: boolean;
  stdout: string;
  stderr: string;
}

/**
 * A client-initiated renegotiation with `openssl s_client -tls1_2` (TLS 1.3 has none): after the
 * handshake it sends "R" (s_client renegotiates), then NOOP; a 250 reply means the server
 * renegotiated and the session lives on. Side effect: one openssl process, killed at the end.
 */
export async function sClientRenegotiate(probe: RenegotiationProbe): Promise<RenegotiationResult> {
  const { spawn } = await import('node:child_process');
  const args = ['s_client', '-connect', `${probe.host ?? '127.0.0.1'}:${probe.port}`, '-tls1_2', '-crlf', '-noservername'];
  if (probe.starttls) args.push('-starttls', 'smtp');
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  const changed: (() => void)[] = [];
  const notify = () => {
    for (const f of changed.splice(0)) f();
  };
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    notify();
  });
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    notify();
  });
  child.stdin.on('error', () => {});
  child.once('close', () => {
    exited = true;
    notify();
  });
  const deadline = Date.now() + (probe.timeoutMs ?? 15_000);
  /** Resolves once `predicate` holds, or false at the deadline. */
  const until = async (predicate: () => boolean): Promise<boolean> => {
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        changed.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  };
  try {
    // Handshake done: s_client prints the session; implicit TLS then shows the 220 greeting.
    const up = await until(() => exited || (/Verify return code/.test(stdout) && (probe.starttls || /^220 /m.test(stdout))));
    if (!up || exited) throw new Error(`s_client: no TLS 1.2 session on port ${probe.port}\nstdout: ${stdout}\nstderr: ${stderr}`);
    child.stdin.write('R\n');
    const attempted = await until(() => exited || /RENEGOTIATING/.test(stderr + stdout));
    const mark = stdout.length;
    if (!exited) child.stdin.write('NOOP\n');
    const renegotiated = await until(() => exited || /^250 /m.test(stdout.slice(mark)));
    return { renegotiated: renegotiated && /^250 /m.test(stdout.slice(mark)), attempted: attempted && /RENEGOTIATING/.test(stderr + stdout), stdout, stderr };
  } finally {
    if (!exited) child.kill('SIGKILL');
  }
}
