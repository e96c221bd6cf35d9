// The TLS handshake on an SMTP connection after "220 ready" (RFC 3207), as a client: SNI = the MX
// host name, Node's CA store plus outbound.ca_file, and both checks recorded separately (chain,
// then name by RFC 6125) instead of aborting, so the policy level decides. Network I/O.
import net from 'node:net';
import tls from 'node:tls';
import { certNames, checkCertName } from '../tls/names.ts';
import type { TlsObserved } from '../tls-policy/evaluate.ts';

/** A finished handshake's facts carry TlsObserved's field names: one shape up to the hop record. */
export type StartTlsResult =
  | ({ ok: true; socket: tls.TLSSocket } & Required<Pick<TlsObserved, 'version' | 'cipher' | 'chain'>> & Pick<TlsObserved, 'chainError' | 'nameError'>)
  | { ok: false; error: string };

export function startTls(plain: net.Socket, servername: string, trust: tls.SecureContext, timeoutMs: number): Promise<StartTlsResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      socket: plain,
      // RFC 6066 §3: no IP literal in server_name (a transport's "[192.0.2.1]").
      ...(net.isIP(servername) === 0 ? { servername } : {}),
      secureContext: trust,
      // Verification is recorded, not enforced here: "may" and "encrypt" accept any certificate.
      rejectUnauthorized: false,
      // Ciphers: Node's defaults on purpose, broader than the listeners' (src/tls/context.ts):
      // they keep CBC and static-RSA suites for old receivers, since under "may" (opportunistic,
      // RFC 7435) a failed handshake means plaintext, which is worse than any of them.
      checkServerIdentity: () => undefined,
    });
    const finish = (result: StartTlsResult): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('secureConnect', onSecure);
      if (!result.ok) {
        socket.destroy();
        plain.destroy();
      }
      resolve(result);
    };
    const onError = (err: NodeJS.ErrnoException): void => finish({ ok: false, error: handshakeError(err) });
    const onSecure = (): void => {
      const cert = socket.getPeerCertificate();
      const chainError = socket.authorized ? undefined : chainText(socket.authorizationError);
      const nameError = cert && Object.keys(cert).length > 0 ? checkCertName(servername, certNames(cert)) : 'the server sent no certificate';
      finish({
        ok: true,
        socket,
        version: socket.getProtocol() ?? '',
        cipher: socket.getCipher()?.name ?? '',
        chain: peerChain(socket),
        ...(chainError ? { chainError } : {}),
        ...(nameError ? { nameError } : {}),
      });
    };
    const timer = setTimeout(() => finish({ ok: false, error: `handshake not finished within ${Math.round(timeoutMs / 1000)} s` }), timeoutMs);
    socket.once('error', onError);
    socket.once('secureConnect', onSecure);
    socket.once('close', () => finish({ ok: false, error: 'connection closed during the handshake' }));
  });
}

/** The certificates the server sent, leaf first, as DER (for DANE, RFC 7672 §3). */
function peerChain(socket: tls.TLSSocket): Buffer[] {
  const chain: Buffer[] = [];
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(cert.raw);
    cert = cert.issuerCertificate;
  }
  return chain;
}

const CHAIN_ERRORS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain (untrusted root)',
  UNABLE_TO_GET_ISSUER_CERT: 'issuer certificate not found',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'issuer certificate not found (untrusted CA or missing intermediate)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate (untrusted CA or missing intermediate)',
  CERT_REVOKED: 'certificate revoked',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
};

/** "CERT_HAS_EXPIRED (certificate has expired)": the OpenSSL code verbatim, and what it means. */
function chainText(error: Error | string | null | undefined): string {
  const code = typeof error === 'string' ? error : ((error as NodeJS.ErrnoException | null | undefined)?.code ?? error?.message ?? 'unknown');
  const meaning = CHAIN_ERRORS[code];
  return meaning ? `${code} (${meaning})` : code;
}

function handshakeError(err: NodeJS.ErrnoException): string {
  return err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
}
