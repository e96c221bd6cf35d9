// What the TLS policy level says about what one connection showed (pure): go on, defer, or (only
// under "may", only after a failed handshake) retry in plaintext. Postfix's smtp_tls_security_level.
// "dane"/"dane-only" reach here only for a host with usable TLSA records (outbound/hop.ts
// hostPolicy): TLS is then required and the chain must match a record (RFC 7672 §2.2, §3).
import { isDaneLevel, type TlsLevel } from '../config/types.ts';

export interface TlsObserved {
  /** The server listed STARTTLS in its EHLO reply (RFC 3207 §4). */
  starttlsOffered: boolean;
  /** skipped: not attempted; refused: STARTTLS got an error reply; failed: the handshake broke. */
  handshake: 'skipped' | 'refused' | 'failed' | 'ok';
  /** The refusal reply or the handshake error. */
  error?: string;
  /** Why the chain does not verify; undefined when it does (or no handshake). */
  chainError?: string;
  /** Why the certificate does not name the MX host; undefined when it does. */
  nameError?: string;
  /** The negotiated protocol ("TLSv1.3") and cipher, when the handshake finished. */
  version?: string;
  cipher?: string;
  /** The certificates the server sent, leaf first (DER), for DANE matching. */
  chain?: Buffer[];
  /** The DANE verdict on the chain (dane/tlsa.ts matchTlsa): the record matched ("3 1 1"), or why none. */
  dane?: { matched: string | null; error?: string };
}

export type TlsVerdict = { action: 'proceed'; downgrade?: string } | { action: 'defer'; reason: string } | { action: 'retry-plaintext'; reason: string };

/** Whether to send STARTTLS at all. */
export function shouldStarttls(level: TlsLevel, offered: boolean): boolean {
  return level !== 'none' && offered;
}

export function evaluate(level: TlsLevel, seen: TlsObserved): TlsVerdict {
  if (level === 'none') return { action: 'proceed' };
  if (level === 'may') {
    if (seen.handshake === 'failed') return { action: 'retry-plaintext', reason: `TLS handshake failed: ${seen.error ?? 'unknown error'}` };
    if (seen.handshake === 'refused') return { action: 'proceed', downgrade: `STARTTLS refused (${seen.error ?? 'error reply'}); continued in plaintext` };
    return { action: 'proceed' };
  }
  // encrypt and verify: never plaintext.
  if (!seen.starttlsOffered) return { action: 'defer', reason: `TLS is required (${level}) but the server does not offer STARTTLS` };
  if (seen.handshake === 'refused') return { action: 'defer', reason: `TLS is required (${level}) but STARTTLS was refused: ${seen.error ?? 'error reply'}` };
  if (seen.handshake !== 'ok') return { action: 'defer', reason: `TLS is required (${level}) but the handshake failed: ${seen.error ?? 'not attempted'}` };
  if (level === 'encrypt') return { action: 'proceed' };
  if (isDaneLevel(level)) {
    // RFC 7672 §2.2: with usable TLSA records the server must be authenticated by one of them.
    if (seen.dane?.matched) return { action: 'proceed' };
    return { action: 'defer', reason: `DANE authentication failed: ${seen.dane?.error ?? 'no TLSA record matched'}` };
  }
  if (seen.chainError) return { action: 'defer', reason: `certificate verification failed: ${seen.chainError}` };
  if (seen.nameError) return { action: 'defer', reason: `certificate verification failed: ${seen.nameError}` };
  return { action: 'proceed' };
}
