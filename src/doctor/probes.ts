// The network probes of `sealpost doctor`: our own listeners' certificates (port 25 with STARTTLS
// through the tls-check probe, 465 with TLS from the first byte) and a TCP connect to another
// server's port 25. Network I/O only; what the results mean is decided in checks/.
import net from 'node:net';
import tls from 'node:tls';
import type { ListenAddress } from '../config/types.ts';
import { checkCertName } from '../tls/names.ts';
import { walkChain } from '../tlscheck/chain.ts';
import { probeSmtp } from '../tlscheck/probe.ts';
import type { CertProbe } from './findings.ts';

/** Where to reach a listener from this machine: a wildcard address through loopback. */
export function localTarget(a: ListenAddress): { ip: string; port: number; label: string } {
  const ip = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
  return { ip, port: a.port, label: ip.includes(':') ? `[${ip}]:${a.port}` : `${ip}:${a.port}` };
}

export async function probeStarttls(ip: string, port: number, hostname: string, trust: tls.SecureContext, timeoutMs: number): Promise<CertProbe> {
  const p = await probeSmtp({ ip, port, heloName: hostname, servername: hostname, trust, connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs });
  if (p.failure?.stage === 'connect' || p.failure?.stage === 'greeting') return { kind: 'down', detail: p.failure.error };
  if (p.failure && !p.tls) return { kind: 'failed', detail: p.failure.error };
  if (!p.tls) return p.starttls ? { kind: 'failed', detail: p.starttlsRefused ?? 'STARTTLS refused' } : { kind: 'no-starttls' };
  const leaf = p.tls.chain[0];
  if (!leaf) return { kind: 'failed', detail: 'the server sent no certificate' };
  const nameError = checkCertName(hostname, leaf);
  return { kind: 'tls', authorized: p.tls.authorized, ...(p.tls.code ? { code: p.tls.code } : {}), leaf, ...(nameError ? { nameError } : {}) };
}

export function probeImplicitTls(ip: string, port: number, hostname: string, trust: tls.SecureContext, timeoutMs: number): Promise<CertProbe> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: ip, port, servername: hostname, secureContext: trust, rejectUnauthorized: false, checkServerIdentity: () => undefined });
    const timer = setTimeout(() => finish({ kind: 'down', detail: `no TLS handshake within ${Math.round(timeoutMs / 1000)} s` }), timeoutMs);
    let connected = false;
    socket.once('connect', () => {
      connected = true;
    });
    const finish = (probe: CertProbe): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(probe);
    };
    socket.once('secureConnect', () => {
      const leaf = walkChain(socket.getPeerCertificate(true))[0];
      if (!leaf) return finish({ kind: 'failed', detail: 'the server sent no certificate' });
      const code = socket.authorizationError;
      const nameError = checkCertName(hostname, leaf);
      finish({
        kind: 'tls',
        authorized: socket.authorized,
        ...(code ? { code: typeof code === 'string' ? code : ((code as NodeJS.ErrnoException).code ?? code.message) } : {}),
        leaf,
        ...(nameError ? { nameError } : {}),
      });
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish(connected ? { kind: 'failed', detail: err.message } : { kind: 'down', detail: err.code ?? err.message }),
    );
  });
}

export type ConnectResult = { kind: 'connected'; ms: number } | { kind: 'timeout'; ms: number } | { kind: 'failed'; detail: string };

/** A TCP connect and nothing more (no SMTP): did the SYN get an answer within `timeoutMs`? */
export function tcpConnect(ip: string, port: number, timeoutMs: number, now: () => number = Date.now): Promise<ConnectResult> {
  const start = now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: ip, port });
    const finish = (r: ConnectResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', ms: now() - start }), timeoutMs);
    socket.once('connect', () => finish({ kind: 'connected', ms: now() - start }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ kind: 'failed', detail: err.code ?? err.message }));
  });
}
