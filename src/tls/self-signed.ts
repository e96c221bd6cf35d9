// The certificate of last resort: a self-signed ECDSA P-256 certificate for `hostname`, generated
// on first start and kept in <data_dir>/certs/self-signed/{key.pem,cert.pem} (dir 0700, key
// 0600, written tmp → fsync → rename). The only writer of that directory. Logs a generation.
//
//   selfSignedDir(dataDir)                          → the directory
//   selfSignedVerdict(material, hostname, now)      → reuse, or why to regenerate (pure)
//   generateSelfSigned(hostname, now)               → CertMaterial (in memory)
//   ensureSelfSigned({ dir, hostname, now, log })   → the kept or a fresh certificate, or why not
import { webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { syncDir, writeFileAtomic } from '../core/durable-fs.ts';
import { isStorageFault } from '../db/storage-fault.ts';
import { type Logger, mailLog } from '../log/log.ts';
import { type CertMaterial, parseMaterial } from './material.ts';
import { certCovers } from './names.ts';
import * as x509 from './x509.ts';

const DAY = 86_400_000;
/** Regenerate when less than this is left. */
export const RENEW_BEFORE_MS = 30 * DAY;
export const LIFETIME_MS = 365 * DAY;
/** notBefore is set this far in the past, for peers whose clocks run a little slow. */
const BACKDATE_MS = 3_600_000;

export function selfSignedDir(dataDir: string): string {
  return path.join(dataDir, 'certs', 'self-signed');
}

export type Verdict = { reuse: true } | { reuse: false; why: string };

/** Is the kept certificate still good for `hostname` at `now`? `undefined` means no files. */
export function selfSignedVerdict(material: CertMaterial | undefined, hostname: string, now: number): Verdict {
  if (!material) return { reuse: false, why: 'no certificate kept yet' };
  const result = parseMaterial(material);
  if (!result.ok) return { reuse: false, why: `kept certificate unusable: ${result.reason}` };
  const { names, notBefore, notAfter } = result.parsed;
  if (!certCovers(names, hostname)) return { reuse: false, why: `kept certificate is for ${names.join(', ') || 'no name'}, not ${hostname}` };
  if (notAfter - now < RENEW_BEFORE_MS) return { reuse: false, why: `kept certificate expires ${new Date(notAfter).toISOString()}, within 30 days` };
  if (notBefore > now + DAY) return { reuse: false, why: `kept certificate is not valid until ${new Date(notBefore).toISOString()}` };
  return { reuse: true };
}

/**
 * ECDSA P-256 (as ACME's certificates by default): a handshake signature costs a fraction of an
 * RSA-2048 one and the certificate is smaller; every TLS 1.2 ECDHE-ECDSA and TLS 1.3 client takes
 * it (RFC 8422, RFC 8446 §4.2.3). SAN dNSName = hostname, ~1 year. A kept RSA certificate stays
 * until it is renewed (its TLSA record may be published).
 */
export async function generateSelfSigned(hostname: string, now: number): Promise<CertMaterial> {
  const crypto = webcrypto;
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: [{ CN: [hostname] }],
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + LIFETIME_MS),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        // RFC 5480 §3: an EC key signs; keyEncipherment is for RSA key transport.
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        // RFC 6125 §6.4.4: clients match the SAN, not the CN.
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: hostname }]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: `${cert.toString('pem')}\n`, keyPem: `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n` };
}

export interface EnsureOptions {
  dir: string;
  hostname: string;
  /** Epoch ms. */
  now: number;
  log: Logger;
}

export type Ensured = { ok: true; material: CertMaterial; generated: boolean } | { ok: false; reason: string };

/** Reuses the kept certificate, or generates, stores and returns a new one. Never throws. */
export async function ensureSelfSigned(options: EnsureOptions): Promise<Ensured> {
  const { dir, hostname, now, log } = options;
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  const kept = await readPair(keyPath, certPath);
  const verdict = selfSignedVerdict(kept, hostname, now);
  if (verdict.reuse && kept) return { ok: true, material: kept, generated: false };
  const why = verdict.reuse ? '' : verdict.why;

  let material: CertMaterial;
  try {
    material = await generateSelfSigned(hostname, now);
  } catch (err) {
    return { ok: false, reason: `could not generate a self-signed certificate: ${errorText(err)}` };
  }
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    // Key first: a crash between the two renames leaves a pair that does not match, which the
    // next start sees (checkPrivateKey) and replaces.
    await writeFileAtomic(keyPath, material.keyPem, 0o600);
    await writeFileAtomic(certPath, material.certPem, 0o644);
    await syncDir(dir);
  } catch (err) {
    // A full disk must not keep the daemon from starting (it answers 452 until there is room):
    // the certificate serves from memory now and is made and stored again at the next start.
    if (isStorageFault(err)) {
      log.error(
        { event: 'cert', action: 'not-stored', source: 'self-signed', dir, error: errorText(err) },
        'the disk is full: the new self-signed certificate is used from memory only',
      );
      return { ok: true, material, generated: true };
    }
    return { ok: false, reason: `could not store the self-signed certificate in ${dir}: ${errorText(err)}; make data_dir writable by the sealpost user` };
  }
  const parsed = parseMaterial(material);
  mailLog(log, 'cert', {
    action: 'generated',
    source: 'self-signed',
    hostname,
    why,
    dir,
    notAfter: parsed.ok ? new Date(parsed.parsed.notAfter).toISOString() : undefined,
    fingerprint: parsed.ok ? parsed.parsed.fingerprint : undefined,
  });
  return { ok: true, material, generated: true };
}

async function readPair(keyPath: string, certPath: string): Promise<CertMaterial | undefined> {
  try {
    const [keyPem, certPem] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
    return { keyPem, certPem };
  } catch {
    // Missing or unreadable: either way a new pair is written over it.
    return undefined;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
