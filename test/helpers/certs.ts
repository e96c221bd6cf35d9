// Test certificates, generated in memory with @peculiar/x509 and node's WebCrypto: a CA (root or
// intermediate), leaf certificates it issues for given names and validity, self-signed leaves.
// Everything comes back as PEM, ready for tls.createSecureContext / CertMaterial. No I/O.
//
//   const root = await createCa('Test Root');
//   const inter = await createCa('Test Intermediate', { issuer: root });
//   const leaf = await issueCert(inter, { names: ['mx.example.test'] });
//   leaf.chainPem → leaf + intermediate (what a server sends); root.certPem → the client's `ca`
//   await selfSignedCert({ names: ['mx.example.test'], notAfter: new Date(Date.now() - 1000) })
import { webcrypto } from 'node:crypto';
import * as x509 from '../../src/tls/x509.ts';

export type KeyType = 'ecdsa-p256' | 'rsa-2048';

const crypto = webcrypto;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface TestCa {
  name: string;
  /** This CA's own certificate (PEM). For a root, give it to clients as `ca`. */
  certPem: string;
  keyPem: string;
  /** Intermediates a server must send after a leaf of this CA: '' for a root. */
  servedChainPem: string;
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

export interface CertOptions {
  /** dNSName SANs, e.g. ['mx.example.test', '*.example.test']. May be empty. */
  names: readonly string[];
  /** iPAddress SANs. */
  ips?: readonly string[];
  /** Subject CN; defaults to the first name. */
  commonName?: string;
  /** Default: an hour ago. */
  notBefore?: Date;
  /** Default: 30 days from now. */
  notAfter?: Date;
  /** Default 'ecdsa-p256' (fast); 'rsa-2048' for RSA suites. */
  keyType?: KeyType;
}

export interface TestCert {
  /** The leaf alone. */
  certPem: string;
  /** The leaf followed by the issuing CA's intermediates: what cert_file holds. */
  chainPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
}

export interface CaOptions {
  /** Issue this CA from another: an intermediate. Default: a self-signed root. */
  issuer?: TestCa;
  notBefore?: Date;
  notAfter?: Date;
  keyType?: KeyType;
}

export async function createCa(name: string, options: CaOptions = {}): Promise<TestCa> {
  const keys = await generateKeys(options.keyType ?? 'ecdsa-p256');
  const issuer = options.issuer;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
  ];
  if (issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey, false, crypto));
  const validity = { notBefore: options.notBefore ?? new Date(Date.now() - DAY), notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY) };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create(
        { subject: [{ CN: [name] }], issuer: issuer.cert.subject, publicKey: keys.publicKey, signingKey: issuer.keys.privateKey, extensions, ...validity },
        crypto,
      )
    : await x509.X509CertificateGenerator.createSelfSigned({ name: [{ CN: [name] }], keys, extensions, ...validity }, crypto);
  const certPem = pem(cert);
  return {
    name,
    certPem,
    keyPem: await keyPem(keys),
    servedChainPem: issuer ? certPem + issuer.servedChainPem : '',
    cert,
    keys,
  };
}

/** A leaf certificate for `options.names`, signed by `ca`. */
export async function issueCert(ca: TestCa, options: CertOptions): Promise<TestCert> {
  const keys = await generateKeys(options.keyType ?? 'ecdsa-p256');
  const extensions = await leafExtensions(keys, options);
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, crypto));
  const cert = await x509.X509CertificateGenerator.create(
    { subject: subjectOf(options), issuer: ca.cert.subject, publicKey: keys.publicKey, signingKey: ca.keys.privateKey, extensions, ...validityOf(options) },
    crypto,
  );
  const certPem = pem(cert);
  return { certPem, chainPem: certPem + ca.servedChainPem, keyPem: await keyPem(keys), cert };
}

/** A self-signed leaf (issuer = subject), as a server's generated certificate would be. */
export async function selfSignedCert(options: CertOptions): Promise<TestCert> {
  const keys = await generateKeys(options.keyType ?? 'ecdsa-p256');
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    { name: subjectOf(options), keys, extensions: await leafExtensions(keys, options), ...validityOf(options) },
    crypto,
  );
  const certPem = pem(cert);
  return { certPem, chainPem: certPem, keyPem: await keyPem(keys), cert };
}

async function leafExtensions(keys: CryptoKeyPair, options: CertOptions): Promise<x509.Extension[]> {
  const rsa = keys.publicKey.algorithm.name.startsWith('RSA');
  const usages = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const sans = [...options.names.map((value) => ({ type: 'dns' as const, value })), ...(options.ips ?? []).map((value) => ({ type: 'ip' as const, value }))];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  return extensions;
}

function subjectOf(options: CertOptions): x509.JsonName {
  return [{ CN: [options.commonName ?? options.names[0] ?? 'test'] }];
}

function validityOf(options: CertOptions): { notBefore: Date; notAfter: Date } {
  return { notBefore: options.notBefore ?? new Date(Date.now() - HOUR), notAfter: options.notAfter ?? new Date(Date.now() + 30 * DAY) };
}

async function generateKeys(type: KeyType): Promise<CryptoKeyPair> {
  const algorithm =
    type === 'rsa-2048'
      ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
      : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  return (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  return `${x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY')}\n`;
}

function pem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem')}\n`;
}
