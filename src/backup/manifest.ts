// The backup manifest (manifest.json): what a backup holds, each file's SHA-256 and size, the
// Sealpost and schema versions; parsed and checked before a restore writes anything. Pure.

/** The manifest's own format; a restore refuses any other. */
export const MANIFEST_FORMAT = 'sealpost-backup/1';
export const MANIFEST_NAME = 'manifest.json';

/** One file of the backup, by its path inside it (data/… or config/sealpost.toml). */
export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

/** A Maildir of data_dir/mail: named always, its files copied only with --with-mail. */
export interface ManifestMaildir {
  /** "domain/mailbox" */
  name: string;
  files: number;
  bytes: number;
  copied: boolean;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  sealpostVersion: string;
  /** PRAGMA user_version of the snapshot. */
  schemaVersion: number;
  createdAt: string;
  hostname: string;
  /** Queued messages in the snapshot, and how many of them have a spool file. */
  messages: number;
  spooled: number;
  /** Messages that left the queue between the snapshot and the copy of their spool file, removed from the snapshot. */
  leftQueue: string[];
  maildirs: ManifestMaildir[];
  files: ManifestFile[];
}

/** A path inside a backup that a restore may write: relative, no "..", no empty or dot parts. */
export function safeBackupPath(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  const parts = p.split('/');
  if (parts[0] !== 'data' && p !== 'config/sealpost.toml') return false;
  return parts.every((part) => part !== '' && part !== '.' && part !== '..');
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** manifest.json's text → a Manifest, or the first thing wrong with it. */
export function parseManifest(text: string): Parsed<Manifest> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `${MANIFEST_NAME} is not JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null) return { ok: false, problem: `${MANIFEST_NAME} is not a JSON object` };
  const m = value as Record<string, unknown>;
  if (m['format'] !== MANIFEST_FORMAT) return { ok: false, problem: `${MANIFEST_NAME} has format ${JSON.stringify(m['format'])}, not "${MANIFEST_FORMAT}"` };
  if (typeof m['sealpostVersion'] !== 'string') return { ok: false, problem: `${MANIFEST_NAME}: sealpostVersion is missing` };
  if (!Number.isInteger(m['schemaVersion'])) return { ok: false, problem: `${MANIFEST_NAME}: schemaVersion is not an integer` };
  if (!Array.isArray(m['files'])) return { ok: false, problem: `${MANIFEST_NAME}: files is not a list` };
  const seen = new Set<string>();
  for (const f of m['files'] as unknown[]) {
    const file = f as Partial<ManifestFile> | null;
    if (typeof file?.path !== 'string' || !safeBackupPath(file.path))
      return { ok: false, problem: `${MANIFEST_NAME}: ${JSON.stringify(file?.path)} is not a path a restore may write (data/… or config/sealpost.toml)` };
    if (!Number.isSafeInteger(file.size) || (file.size as number) < 0 || typeof file.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(file.sha256))
      return { ok: false, problem: `${MANIFEST_NAME}: ${file.path} has no valid size and sha256` };
    if (seen.has(file.path)) return { ok: false, problem: `${MANIFEST_NAME}: ${file.path} is listed twice` };
    seen.add(file.path);
  }
  if (!seen.has('data/sealpost.db')) return { ok: false, problem: `${MANIFEST_NAME}: the backup has no data/sealpost.db` };
  return {
    ok: true,
    value: {
      format: MANIFEST_FORMAT,
      sealpostVersion: m['sealpostVersion'] as string,
      schemaVersion: m['schemaVersion'] as number,
      createdAt: String(m['createdAt'] ?? ''),
      hostname: String(m['hostname'] ?? ''),
      messages: Number(m['messages'] ?? 0),
      spooled: Number(m['spooled'] ?? 0),
      leftQueue: Array.isArray(m['leftQueue']) ? (m['leftQueue'] as unknown[]).map(String) : [],
      maildirs: Array.isArray(m['maildirs']) ? (m['maildirs'] as ManifestMaildir[]) : [],
      files: m['files'] as ManifestFile[],
    },
  };
}

/** What a restore found for one file of the backup. */
export interface Observed {
  path: string;
  size: number;
  sha256: string;
}

/**
 * Every problem between the manifest and what the backup holds: a file changed, missing, or not
 * in the manifest; and a schema newer than this program's migrations. [] = safe to restore.
 */
export function restoreProblems(manifest: Manifest, observed: readonly Observed[], knownSchema: number, where: string): string[] {
  const problems: string[] = [];
  if (manifest.schemaVersion > knownSchema)
    problems.push(
      `the backup's database has schema version ${manifest.schemaVersion} (Sealpost ${manifest.sealpostVersion}); this Sealpost knows up to ${knownSchema}: restore with Sealpost ${manifest.sealpostVersion} or newer`,
    );
  const found = new Map(observed.map((o) => [o.path, o]));
  for (const f of manifest.files) {
    const o = found.get(f.path);
    if (o === undefined) problems.push(`${f.path}: missing from ${where}; the backup is incomplete: take a new backup, or restore from another copy`);
    else if (o.size !== f.size || o.sha256 !== f.sha256)
      problems.push(
        `${f.path}: does not match the manifest (${o.size} bytes, sha256 ${o.sha256.slice(0, 12)}…; expected ${f.size} bytes, ${f.sha256.slice(0, 12)}…): the backup is damaged: restore from another copy`,
      );
    found.delete(f.path);
  }
  for (const extra of found.keys())
    problems.push(`${extra}: in ${where} but not in its manifest: the backup was changed after it was made: restore from another copy`);
  return problems;
}

/** The refusal for a data_dir that is not empty, naming what is there (at most `show` entries). */
export function nonEmptyProblem(dataDir: string, entries: readonly string[], show = 5): string | undefined {
  if (entries.length === 0) return undefined;
  const sorted = [...entries].sort();
  const named = sorted.slice(0, show).join(', ') + (sorted.length > show ? ` and ${sorted.length - show} more` : '');
  return `data_dir ${dataDir} is not empty (${named}): restore only into an empty data_dir: set data_dir in the config to a new directory, or move these away first`;
}
