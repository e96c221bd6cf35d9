// ACME Renewal Information (RFC 9773) without I/O: the certificate's ARI identifier, the
// renewalInfo URL, and the parsed reply. A small DER reader finds the two fields it needs.
import type { RenewalWindow } from './schedule.ts';

/**
 * RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial number DER content bytes).
 * Undefined when the certificate has no Authority Key Identifier (ARI cannot name it).
 */
export function ariCertId(certDer: Uint8Array): string | undefined {
  const parts = certParts(certDer);
  if (!parts?.authorityKeyId) return undefined;
  return `${b64url(parts.authorityKeyId)}.${b64url(parts.serial)}`;
}

/** The same identifier from hex parts (as in the RFC's example); serial without its sign byte is fine. */
export function ariCertIdFromHex(authorityKeyIdHex: string, serialHex: string): string {
  let serial = Buffer.from(evenHex(serialHex), 'hex');
  // DER INTEGER content is two's complement: a positive serial with its top bit set gets 0x00 first.
  if (serial.length > 0 && (serial[0] ?? 0) >= 0x80) serial = Buffer.concat([Buffer.from([0]), serial]);
  return `${b64url(Buffer.from(evenHex(authorityKeyIdHex), 'hex'))}.${b64url(serial)}`;
}

export function renewalInfoUrl(base: string, certId: string): string {
  return `${base.replace(/\/+$/, '')}/${certId}`;
}

export type RenewalInfo = { ok: true; window: RenewalWindow; explanationUrl?: string } | { ok: false; problem: string };

/** RFC 9773 §4.2: `{ "suggestedWindow": { "start": RFC 3339, "end": RFC 3339 }, "explanationURL"? }`. */
export function parseRenewalInfo(body: unknown): RenewalInfo {
  if (typeof body !== 'object' || body === null) return { ok: false, problem: 'renewalInfo is not a JSON object' };
  const window = (body as Record<string, unknown>)['suggestedWindow'];
  if (typeof window !== 'object' || window === null) return { ok: false, problem: 'renewalInfo has no suggestedWindow' };
  const { start, end } = window as Record<string, unknown>;
  const startMs = typeof start === 'string' ? Date.parse(start) : NaN;
  const endMs = typeof end === 'string' ? Date.parse(end) : NaN;
  if (Number.isNaN(startMs) || Number.isNaN(endMs)) return { ok: false, problem: 'suggestedWindow start/end are not RFC 3339 times' };
  if (endMs < startMs) return { ok: false, problem: 'suggestedWindow ends before it starts' };
  const explanation = (body as Record<string, unknown>)['explanationURL'];
  return { ok: true, window: { start: startMs, end: endMs }, ...(typeof explanation === 'string' ? { explanationUrl: explanation } : {}) };
}

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

/** Reads one DER TLV at `offset`; undefined when malformed. */
function readTlv(der: Uint8Array, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = der[offset] ?? 0;
  let length = der[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] ?? 0);
    start += count;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const tlv = readTlv(der, at, parent.end);
    if (!tlv) return undefined;
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]); // 2.5.29.35

/** RFC 5280 §4.1: Certificate → tbsCertificate → serialNumber and extensions[authorityKeyIdentifier]. */
function certParts(der: Uint8Array): { serial: Uint8Array; authorityKeyId?: Uint8Array } | undefined {
  const cert = readTlv(der, 0, der.length);
  const tbs = cert && cert.tag === 0x30 ? children(der, cert)?.[0] : undefined;
  const fields = tbs && tbs.tag === 0x30 ? children(der, tbs) : undefined;
  if (!fields) return undefined;
  const hasVersion = fields[0]?.tag === 0xa0;
  const serialTlv = fields[hasVersion ? 1 : 0];
  if (serialTlv?.tag !== 0x02) return undefined;
  const serial = der.subarray(serialTlv.start, serialTlv.end);
  const extensionsWrapper = fields.find((f) => f.tag === 0xa3);
  const extensionList = extensionsWrapper ? children(der, extensionsWrapper)?.[0] : undefined;
  for (const ext of (extensionList && children(der, extensionList)) ?? []) {
    const [oid, ...rest] = children(der, ext) ?? [];
    if (oid?.tag !== 0x06 || !AKI_OID.equals(der.subarray(oid.start, oid.end))) continue;
    const octets = rest.find((t) => t.tag === 0x04);
    const aki = octets ? readTlv(der, octets.start, octets.end) : undefined;
    const keyId = aki && aki.tag === 0x30 ? children(der, aki)?.find((t) => t.tag === 0x80) : undefined;
    return keyId ? { serial, authorityKeyId: der.subarray(keyId.start, keyId.end) } : { serial };
  }
  return { serial };
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function evenHex(hex: string): string {
  const clean = hex.replace(/[^0-9a-fA-F]/g, '');
  return clean.length % 2 === 1 ? `0${clean}` : clean;
}
