// Reads the ALPN protocol names a TLS ClientHello offers (RFC 8446 §4.1.2, RFC 7301 §3.1), pure.
// Node picks the certificate (SNICallback) before it looks at ALPN, so the HTTPS listener peeks at
// the first record itself to serve the RFC 8737 challenge certificate to "acme-tls/1" clients.
// Written by hand: Node exposes no ClientHello callback, and no parser in our dependencies does.

export type HelloPeek = { kind: 'need-more' } | { kind: 'not-tls' } | { kind: 'hello'; alpn: string[] };

/** The largest first record we wait for: one TLS record (2^14) and its header. */
export const MAX_HELLO_BYTES = 16_384 + 5;

export function peekAlpn(data: Buffer): HelloPeek {
  // TLS record: type 22 (handshake), version 3.x, length.
  if (data.length >= 1 && data[0] !== 22) return { kind: 'not-tls' };
  if (data.length < 5) return { kind: 'need-more' };
  if (data[1] !== 3) return { kind: 'not-tls' };
  const recordLength = data.readUInt16BE(3);
  if (data.length < 5 + recordLength) return { kind: 'need-more' };
  const body = data.subarray(5, 5 + recordLength);
  // Handshake: type 1 (ClientHello), 24-bit length; a hello split over records is read as no ALPN.
  if (body.length < 4 || body[0] !== 1) return { kind: 'not-tls' };
  let at = 4 + 2 + 32; // handshake header, legacy_version, random
  const skip = (lengthBytes: 1 | 2): boolean => {
    if (at + lengthBytes > body.length) return false;
    const n = lengthBytes === 1 ? (body[at] ?? 0) : body.readUInt16BE(at);
    at += lengthBytes + n;
    return at <= body.length;
  };
  // legacy_session_id, cipher_suites, legacy_compression_methods
  if (!skip(1) || !skip(2) || !skip(1)) return { kind: 'hello', alpn: [] };
  if (at + 2 > body.length) return { kind: 'hello', alpn: [] };
  const end = Math.min(body.length, at + 2 + body.readUInt16BE(at));
  at += 2;
  while (at + 4 <= end) {
    const type = body.readUInt16BE(at);
    const length = body.readUInt16BE(at + 2);
    const start = at + 4;
    at = start + length;
    if (at > end) break;
    if (type !== 16) continue; // application_layer_protocol_negotiation
    const alpn: string[] = [];
    let p = start + 2;
    const listEnd = Math.min(at, start + 2 + (length >= 2 ? body.readUInt16BE(start) : 0));
    while (p < listEnd) {
      const n = body[p] ?? 0;
      if (p + 1 + n > listEnd) break;
      alpn.push(body.subarray(p + 1, p + 1 + n).toString('latin1'));
      p += 1 + n;
    }
    return { kind: 'hello', alpn };
  }
  return { kind: 'hello', alpn: [] };
}
