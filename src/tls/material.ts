// PEM material (a chain and its key) parsed into what the store needs, and the chain lint that
// explains in plain words what is wrong with a certificate before anyone swaps it in. Pure.
//
//   parseMaterial(material)           → { ok, parsed: names, validity, fingerprint… } | { ok: false, reason }
//   lintChain(material, {names, now}) → ChainProblem[] (errors and warnings; [] when all is well)
//   lintParsed(parsed, {names, now})  → the same for material parsed already (parse once, lint, store)
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { certCovers, certNames, presentedNames } from './names.ts';

/** A certificate chain (leaf first, then intermediates; PEM) and the leaf's private key (PEM). */
export interface CertMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface ParsedMaterial {
  /** The PEMs this was parsed from: what CertStore.set builds its context from. */
  readonly material: CertMaterial;
  /** Leaf first. */
  readonly chain: readonly X509Certificate[];
  readonly key: KeyObject;
  /** DNS names of the leaf as written in it ("*.example.test" included), lowercase. */
  readonly names: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subject: string;
  readonly issuer: string;
  /** SHA-256 of the leaf, "AB:CD:…". */
  readonly fingerprint: string;
}

/** `part` says what is wrong: the chain, the key, or the two together (a key of another cert). */
export type Parsed = { ok: true; parsed: ParsedMaterial } | { ok: false; part: 'chain' | 'key' | 'pair'; reason: string };

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Each PEM certificate block in `text`, in order. */
export function splitPemCertificates(text: string): string[] {
  return text.match(PEM_CERT) ?? [];
}

/** Parses chain and key and checks that the key belongs to the leaf. Never throws. */
export function parseMaterial(material: CertMaterial): Parsed {
  const blocks = splitPemCertificates(material.certPem);
  if (blocks.length === 0) return { ok: false, part: 'chain', reason: 'no PEM certificate found (expected -----BEGIN CERTIFICATE-----)' };
  const chain: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      chain.push(new X509Certificate(block));
    } catch (err) {
      return { ok: false, part: 'chain', reason: `certificate ${i + 1} in the chain cannot be parsed: ${message(err)}` };
    }
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(material.keyPem)) {
    return { ok: false, part: 'key', reason: 'no PEM private key found (expected -----BEGIN PRIVATE KEY----- or RSA/EC PRIVATE KEY)' };
  }
  if (/ENCRYPTED/.test(material.keyPem)) {
    return {
      ok: false,
      part: 'key',
      reason: 'the private key is encrypted with a passphrase; store it unencrypted (e.g. openssl pkey -in key.pem -out plain.pem)',
    };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(material.keyPem);
  } catch (err) {
    return { ok: false, part: 'key', reason: `the private key cannot be parsed: ${message(err)}` };
  }
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key)) {
    return {
      ok: false,
      part: 'pair',
      reason: `the private key does not belong to the first certificate (${oneLine(leaf.subject)}); put the leaf first and pair it with its own key`,
    };
  }
  return {
    ok: true,
    parsed: {
      material,
      chain,
      key,
      names: presentedNames(certNames(leaf)),
      notBefore: leaf.validFromDate.getTime(),
      notAfter: leaf.validToDate.getTime(),
      subject: oneLine(leaf.subject),
      issuer: oneLine(leaf.issuer),
      fingerprint: leaf.fingerprint256,
    },
  };
}

export interface ChainProblem {
  /** An error means the chain should not be served; a warning means some clients may fail. */
  level: 'error' | 'warning';
  text: string;
}

export interface LintOptions {
  /** Names the certificate must cover, e.g. [hostname, ...acme.names]. */
  names: readonly string[];
  /** Epoch ms. */
  now: number;
}

/**
 * Everything wrong with a chain, in words an operator can act on: key not matching the leaf,
 * a certificate not signed by the next one (RFC 5246 §7.4.2: each certifies the one before),
 * no intermediate after a leaf that is not self-issued, a required name not covered (RFC 6125),
 * a certificate expired or not yet valid.
 */
export function lintChain(material: CertMaterial, options: LintOptions): ChainProblem[] {
  const result = parseMaterial(material);
  // Parse failures and a key mismatch stop here: nothing else can be checked reliably.
  return result.ok ? lintParsed(result.parsed, options) : [{ level: 'error', text: result.reason }];
}

/** lintChain for material parsed already (the key is known to match the leaf). */
export function lintParsed(parsed: ParsedMaterial, options: LintOptions): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const error = (text: string): void => {
    problems.push({ level: 'error', text });
  };
  const { chain, names } = parsed;
  const label = (i: number): string => `${i === 0 ? 'the leaf certificate' : `chain certificate ${i + 1}`} (${oneLine(chain[i]?.subject ?? '')})`;

  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i] as X509Certificate;
    const next = chain[i + 1] as X509Certificate;
    if (!cert.checkIssued(next) || !cert.verify(next.publicKey)) {
      error(`${label(i)} is not signed by the certificate after it, ${label(i + 1)}: put the chain in order, leaf first, each followed by its issuer`);
    }
  }
  const leaf = chain[0] as X509Certificate;
  if (chain.length === 1 && leaf.issuer !== leaf.subject) {
    problems.push({
      level: 'warning',
      text: `no intermediate certificate: the leaf is issued by ${oneLine(leaf.issuer)}, and clients that do not already hold that certificate cannot verify it; append the intermediate(s) after the leaf`,
    });
  }
  for (const name of options.names) {
    if (!certCovers(names, name)) {
      error(`the certificate does not cover ${name} (it names ${names.length > 0 ? names.join(', ') : 'nothing'}); get one that includes it`);
    }
  }
  chain.forEach((cert, i) => {
    if (cert.validToDate.getTime() <= options.now) error(`${label(i)} expired on ${cert.validToDate.toISOString()}`);
    else if (cert.validFromDate.getTime() > options.now) error(`${label(i)} is not valid until ${cert.validFromDate.toISOString()}; check the system clock`);
  });
  return problems;
}

function oneLine(distinguishedName: string): string {
  return distinguishedName.split('\n').join(', ');
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
