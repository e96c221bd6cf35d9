// The CAs outbound TLS trusts: Node's default store plus an optional PEM bundle (outbound.ca_file).
// Reads the file when asked (at startup, by the composition root); no state of its own.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

/** A SecureContext for outbound TLS clients (SMTP STARTTLS, MTA-STS HTTPS). */
export function buildTrust(extraCaPem = ''): tls.SecureContext {
  const ca = [...tls.getCACertificates('default')];
  if (extraCaPem.trim() !== '') ca.push(extraCaPem);
  return tls.createSecureContext({ ca });
}

/** Reads outbound.ca_file ('' → Node's store only). Throws with the path when unreadable. */
export function loadTrust(caFile: string): tls.SecureContext {
  if (caFile === '') return buildTrust();
  try {
    return buildTrust(readFileSync(caFile, 'utf8'));
  } catch (err) {
    throw new Error(`outbound.ca_file ${caFile}: ${(err as Error).message}`);
  }
}
