// DKIM keys: where they live (<data_dir>/dkim/<domain>/<selector>.pem), how they are made
// (rsa-2048 or ed25519, RFC 6376 §3.3 and RFC 8463), the DNS TXT record that publishes one, and
// loading every configured key at startup with every problem named at once. Side effects: file
// reads (loadDkimKeys) and writes (writeNewKey); the rest is pure.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type FileWriter, localFiles } from '../core/durable-fs.ts';

export type DkimKeyType = 'rsa-2048' | 'ed25519';
export const DKIM_KEY_TYPES: readonly DkimKeyType[] = ['rsa-2048', 'ed25519'];

export interface DkimKey {
  /** ASCII lowercase (d=). */
  domain: string;
  /** s= */
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  privateKeyPem: string;
  file: string;
}

/** RFC 6376 §3.1: a selector is one or more DNS labels. */
export function validSelector(selector: string): boolean {
  return /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(selector);
}

export function dkimKeyPath(dataDir: string, domain: string, selector: string): string {
  return path.join(dataDir, 'dkim', domain, `${selector}.pem`);
}

/** A new private key, PKCS#8 PEM. */
export function generateDkimKey(type: DkimKeyType): string {
  const pair = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * The TXT record value that publishes the public half of `privateKeyPem` (RFC 6376 §3.6.1):
 * RSA as a base64 SubjectPublicKeyInfo, Ed25519 as the bare 32-byte key (RFC 8463 §4.2).
 */
export function dkimRecord(privateKeyPem: string): string {
  const key = createPublicKey(createPrivateKey(privateKeyPem));
  const spki = key.export({ type: 'spki', format: 'der' });
  if (key.asymmetricKeyType === 'ed25519') return `v=DKIM1; k=ed25519; p=${spki.subarray(spki.length - 32).toString('base64')}`;
  return `v=DKIM1; k=rsa; p=${spki.toString('base64')}`;
}

/** The record as a zone-file line; strings of at most 255 bytes (RFC 1035 §3.3.14). */
export function zoneLine(domain: string, selector: string, record: string): string {
  const chunks = record.match(/.{1,255}/g) ?? [''];
  const strings = chunks.map((c) => `"${c}"`);
  const value = strings.length === 1 ? strings[0] : `( ${strings.join('\n\t')} )`;
  return `${selector}._domainkey.${domain}. IN TXT ${value}`;
}

/**
 * Writes a new key durably (mode 0600, folders 0700); refuses to replace one (EEXIST) unless
 * `force`. `files`: with [store] kind = "postgres", the shared_files table too (every node's copy).
 */
export async function writeNewKey(file: string, pem: string, force: boolean, files: FileWriter = localFiles): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await files.write(file, pem, 0o600, { exclusive: !force });
}

/** Why `pem` cannot sign, or its signing algorithm. Pure apart from parsing. */
export function checkKey(pem: string): { ok: true; algorithm: DkimKey['algorithm'] } | { ok: false; reason: string } {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    return { ok: false, reason: `not a PEM private key (${err instanceof Error ? err.message : String(err)})` };
  }
  if (key.asymmetricKeyType === 'ed25519') return { ok: true, algorithm: 'ed25519-sha256' };
  if (key.asymmetricKeyType !== 'rsa') return { ok: false, reason: `a ${key.asymmetricKeyType ?? 'unknown'} key; DKIM signs with RSA or Ed25519` };
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  // RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
  if (bits < 1024) return { ok: false, reason: `an RSA key of ${bits} bits; DKIM needs at least 1024 (2048 recommended)` };
  return { ok: true, algorithm: 'rsa-sha256' };
}

export interface KeyWanted {
  domain: string;
  selectors: readonly string[];
}

/**
 * Reads every configured key. Throws one Error naming each missing or unusable key and the command
 * that makes it: a configured domain must never send unsigned mail because its key went missing.
 */
export async function loadDkimKeys(dataDir: string, wanted: readonly KeyWanted[]): Promise<DkimKey[]> {
  const keys: DkimKey[] = [];
  const problems: string[] = [];
  for (const { domain, selectors } of wanted) {
    for (const selector of selectors) {
      const file = dkimKeyPath(dataDir, domain, selector);
      let pem: string;
      try {
        pem = await readFile(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const fix = code === 'ENOENT' ? `; create it with: sealpost dkim keygen --domain ${domain} --selector ${selector} --config FILE` : '';
        problems.push(`${domain} selector ${selector}: cannot read ${file}: ${code ?? String(err)}${fix}`);
        continue;
      }
      const checked = checkKey(pem);
      if (!checked.ok) problems.push(`${domain} selector ${selector}: ${file} is ${checked.reason}`);
      else keys.push({ domain, selector, algorithm: checked.algorithm, privateKeyPem: pem, file });
    }
  }
  if (problems.length > 0) throw new Error(`DKIM keys: ${problems.join('; ')}`);
  return keys;
}
