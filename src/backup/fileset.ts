// The file set of a backup: which files of data_dir go in, under which path, copied or hard-linked,
// and where a restore puts each one back. Pure (the CLI lists the directories and does the I/O).
import path from 'node:path';

/** data_dir subtrees copied whole: DKIM keys; ACME account, certificates and state; the self-signed certificate; the SRS secret (bounces to forwarded mail are checked with it). */
export const KEPT_TREES = ['dkim', 'certs', 'srs'] as const;
/** The database snapshot's path inside a backup. */
export const DB_PATH = 'data/sealpost.db';
/** The config file's path inside a backup. */
export const CONFIG_PATH = 'config/sealpost.toml';

export type Out = { kind: 'archive'; file: string } | { kind: 'dir'; dir: string };

/** --out FILE.tar.zst is an archive; anything else a directory. */
export function outOf(out: string): Out {
  return out.endsWith('.tar.zst') ? { kind: 'archive', file: out } : { kind: 'dir', dir: out };
}

/** One file to put into the backup: `from` relative to data_dir, `to` its path in the backup. */
export interface PlannedFile {
  from: string;
  to: string;
  /**
   * link: a hard link when on the same file system (immutable once written: spool files, Maildir
   * messages); copy: files the daemon may replace (keys, certificates: small).
   */
  how: 'copy' | 'link';
}

export interface PlanInput {
  /** Files under the KEPT_TREES, relative to data_dir ("dkim/example.org/s1.pem"). */
  kept: readonly string[];
  /** Spool file names the snapshot's rows name (messages.spool). */
  spool: readonly string[];
  /** Files under data_dir/mail, relative to it ("example.org/alice/new/1.x"). */
  mail: readonly string[];
  withMail: boolean;
}

export interface MaildirSummary {
  name: string;
  files: number;
  copied: boolean;
}

export interface Plan {
  files: PlannedFile[];
  maildirs: MaildirSummary[];
}

/** What to copy after the snapshot: kept trees, exactly the named spool files, Maildirs with --with-mail. */
export function planBackup(input: PlanInput): Plan {
  const files: PlannedFile[] = [];
  for (const rel of [...input.kept].sort()) files.push({ from: rel, to: `data/${rel}`, how: 'copy' });
  for (const name of [...new Set(input.spool)].sort()) files.push({ from: `spool/${name}`, to: `data/spool/${name}`, how: 'link' });
  const boxes = new Map<string, number>();
  for (const rel of [...input.mail].sort()) {
    const parts = rel.split('/');
    // <domain>/<mailbox>/{new,cur}/<file>; tmp/ holds deliveries under way, not messages.
    if (parts.length !== 4 || (parts[2] !== 'new' && parts[2] !== 'cur')) continue;
    const box = `${parts[0]}/${parts[1]}`;
    boxes.set(box, (boxes.get(box) ?? 0) + 1);
    if (input.withMail) files.push({ from: `mail/${rel}`, to: `data/mail/${rel}`, how: 'link' });
  }
  const maildirs = [...boxes].map(([name, count]) => ({ name, files: count, copied: input.withMail }));
  return { files, maildirs };
}

/** Where a restore writes a backup path: data/X under data_dir, the config to the --config file. */
export function restoreTarget(backupPath: string, dataDir: string, configFile: string): string {
  if (backupPath === CONFIG_PATH) return configFile;
  return path.join(dataDir, ...backupPath.split('/').slice(1));
}
