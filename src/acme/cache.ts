// The ACME cert cache under <dataDir>/certs/acme (0700), whose only writer is src/acme:
//   account.key (0600), account.json      the account key and its URL per directory
//   <name>/key-<serial>.pem (0600)        the certificate key
//   <name>/fullchain-<serial>.pem         leaf + intermediates
//   <name>/meta.json                      which files are current (written last: the commit point)
//   <name>/next-key.json (0600)           a staged next key and when it was staged (`sealpost dane rollover`)
// Every file is written atomically (tmp + fsync + rename + fsync dir), so a crash leaves the
// previous generation in force. Each writer takes a FileWriter (local disk by default; with
// [store] kind = "postgres" the shared_files table too, src/shared-files/), so every node gets the
// same files. Side effects: file system (and that table) only.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type FileWriter, localFiles } from '../core/durable-fs.ts';

export interface AccountRecord {
  directory: string;
  url: string;
}

export interface CertMeta {
  /** Names asked for, hostname first. */
  names: string[];
  keyFile: string;
  chainFile: string;
  issuedAt: string;
  directory: string;
  orderUrl: string;
  /** This certificate's random draw for renewal jitter and the ARI window (RFC 9773 §4.2). */
  jitter: number;
}

export interface CachedCert {
  meta: CertMeta;
  keyPem: string;
  certPem: string;
}

export type LoadedEntry = { kind: 'none' } | { kind: 'found'; entry: CachedCert } | { kind: 'unreadable'; reason: string };

export function cacheRoot(dataDir: string): string {
  return path.join(dataDir, 'certs', 'acme');
}

/** Creates the cache directory (and the certs/ parent) with mode 0700. */
export async function ensureCacheDir(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(path.dirname(root), 0o700);
  await chmod(root, 0o700);
}

export async function loadAccountKey(root: string): Promise<string | undefined> {
  return readOptional(path.join(root, 'account.key'));
}

/** `exclusive`: fails with EEXIST when another node (or process) stored an account key first. */
export async function saveAccountKey(root: string, pem: string, files: FileWriter = localFiles, exclusive = false): Promise<void> {
  await files.write(path.join(root, 'account.key'), pem, 0o600, { exclusive });
}

/** The account URL registered at `directory`, if any. */
export async function loadAccountUrl(root: string, directory: string): Promise<string | undefined> {
  const text = await readOptional(path.join(root, 'account.json'));
  if (text === undefined) return undefined;
  try {
    const records = JSON.parse(text) as AccountRecord[];
    return Array.isArray(records) ? records.find((r) => r.directory === directory)?.url : undefined;
  } catch {
    return undefined; // unreadable: register again (same key, so the CA returns the same account)
  }
}

export async function saveAccountUrl(root: string, record: AccountRecord, files: FileWriter = localFiles): Promise<void> {
  const file = path.join(root, 'account.json');
  let records: AccountRecord[] = [];
  try {
    const parsed = JSON.parse((await readOptional(file)) ?? '[]') as unknown;
    if (Array.isArray(parsed)) records = parsed as AccountRecord[];
  } catch {
    records = [];
  }
  records = [...records.filter((r) => r.directory !== record.directory), record];
  await files.write(file, `${JSON.stringify(records, null, 2)}\n`, 0o600);
}

/** Reads the current generation of a certificate entry (no checks beyond readability; lint is the caller's). */
export async function loadEntry(root: string, primaryName: string): Promise<LoadedEntry> {
  const dir = path.join(root, safeName(primaryName));
  const metaText = await readOptional(path.join(dir, 'meta.json'));
  if (metaText === undefined) return { kind: 'none' };
  let meta: CertMeta;
  try {
    meta = JSON.parse(metaText) as CertMeta;
  } catch (err) {
    return { kind: 'unreadable', reason: `${path.join(dir, 'meta.json')} is not JSON: ${(err as Error).message}` };
  }
  if (
    !Array.isArray(meta.names) ||
    typeof meta.keyFile !== 'string' ||
    typeof meta.chainFile !== 'string' ||
    path.basename(meta.keyFile) !== meta.keyFile ||
    path.basename(meta.chainFile) !== meta.chainFile
  ) {
    return { kind: 'unreadable', reason: `${path.join(dir, 'meta.json')} lacks names/keyFile/chainFile` };
  }
  const keyPem = await readOptional(path.join(dir, meta.keyFile));
  const certPem = await readOptional(path.join(dir, meta.chainFile));
  if (keyPem === undefined || certPem === undefined) {
    return { kind: 'unreadable', reason: `${dir}: ${keyPem === undefined ? meta.keyFile : meta.chainFile} is missing` };
  }
  return { kind: 'found', entry: { meta: { ...meta, jitter: typeof meta.jitter === 'number' ? meta.jitter : 0.5 }, keyPem, certPem } };
}

/**
 * Writes a new generation: key and chain under fresh names, then meta.json (the switch), then
 * removes generations older than the previous one.
 */
export async function saveEntry(
  root: string,
  primaryName: string,
  generation: string,
  material: { keyPem: string; certPem: string },
  meta: Omit<CertMeta, 'keyFile' | 'chainFile'>,
  files: FileWriter = localFiles,
): Promise<CertMeta> {
  const dir = path.join(root, safeName(primaryName));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tag = generation.replace(/[^A-Za-z0-9]/g, '').slice(0, 64) || randomBytes(8).toString('hex');
  const full: CertMeta = { ...meta, keyFile: `key-${tag}.pem`, chainFile: `fullchain-${tag}.pem` };
  const previous = await loadEntry(root, primaryName);
  await files.write(path.join(dir, full.keyFile), material.keyPem, 0o600);
  await files.write(path.join(dir, full.chainFile), material.certPem, 0o644);
  await files.write(path.join(dir, 'meta.json'), `${JSON.stringify(full, null, 2)}\n`, 0o644);
  const keep = new Set(['meta.json', full.keyFile, full.chainFile]);
  if (previous.kind === 'found') {
    keep.add(previous.entry.meta.keyFile);
    keep.add(previous.entry.meta.chainFile);
  }
  for (const file of await readdir(dir)) {
    if (!keep.has(file) && /^(key|fullchain)-.*\.pem$/.test(file)) await files.remove(path.join(dir, file)).catch(() => undefined);
  }
  return full;
}

export interface StagedKeyRecord {
  keyPem: string;
  /** ISO 8601. */
  stagedAt: string;
}

/** The staged next key of a certificate entry, if one is staged and readable. */
export async function loadStagedKey(root: string, primaryName: string): Promise<StagedKeyRecord | undefined> {
  const text = await readOptional(path.join(root, safeName(primaryName), 'next-key.json'));
  if (text === undefined) return undefined;
  try {
    const record = JSON.parse(text) as Partial<StagedKeyRecord>;
    if (typeof record.keyPem !== 'string' || typeof record.stagedAt !== 'string' || Number.isNaN(Date.parse(record.stagedAt))) return undefined;
    return { keyPem: record.keyPem, stagedAt: record.stagedAt };
  } catch {
    return undefined;
  }
}

export async function saveStagedKey(root: string, primaryName: string, record: StagedKeyRecord, files: FileWriter = localFiles): Promise<void> {
  const dir = path.join(root, safeName(primaryName));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await files.write(path.join(dir, 'next-key.json'), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

/** After the switch: the staged key is the current one now. */
export async function clearStagedKey(root: string, primaryName: string, files: FileWriter = localFiles): Promise<void> {
  await files.remove(path.join(root, safeName(primaryName), 'next-key.json'));
}

export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A host name as a directory name (names are already canonical; this only guards the path). */
function safeName(name: string): string {
  const clean = name.replace(/[^a-z0-9.-]/gi, '_');
  return clean === '' || clean.startsWith('.') ? `_${clean}` : clean;
}
