// `sealpost backup --config FILE --out DIR|FILE.tar.zst [--with-mail]`: one consistent snapshot
// of a data_dir while the daemon runs: the database through SQLite's online backup API, then the
// spool files its rows name, the DKIM keys, the certificates, the config, and a manifest.
import { chmod, copyFile, link, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { hashFile, listFiles, syncFile, writeArchive } from '../backup/archive.ts';
import { CONFIG_PATH, DB_PATH, KEPT_TREES, outOf, planBackup } from '../backup/fileset.ts';
import { MANIFEST_FORMAT, MANIFEST_NAME, type Manifest, type ManifestFile } from '../backup/manifest.ts';
import { formatProblems, loadConfig } from '../config/load.ts';
import { syncDir } from '../core/durable-fs.ts';
import type { Args } from './args.ts';

const PACKAGE_JSON = path.join(import.meta.dirname, '..', '..', 'package.json');

export async function sealpostVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

export async function run(configFile: string, args: Args, out = process.stdout, err = process.stderr): Promise<number> {
  const target = args.values.get('out');
  if (target === undefined) {
    err.write('sealpost backup: --out DIR or --out FILE.tar.zst is required (for example --out /var/backups/sealpost-$(date +%F).tar.zst)\n');
    return 2;
  }
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const { config } = loaded;
  const dest = outOf(path.resolve(target));
  const stage = dest.kind === 'dir' ? dest.dir : `${dest.file}.partial-${process.pid}`;
  const refusal = await refuseExisting(dest.kind === 'dir' ? dest.dir : dest.file, dest.kind);
  if (refusal) {
    err.write(`sealpost backup: ${refusal}\n`);
    return 1;
  }
  const dbFile = path.join(config.dataDir, 'sealpost.db');
  try {
    await stat(dbFile);
  } catch {
    err.write(`sealpost backup: ${dbFile} does not exist: check data_dir in ${loaded.file} (the daemon creates the database at its first start)\n`);
    return 1;
  }
  try {
    const manifest = await makeBackup({
      dataDir: config.dataDir,
      dbFile,
      configFile: loaded.file,
      hostname: config.hostname,
      stage,
      withMail: args.flags.has('with-mail'),
    });
    if (dest.kind === 'archive') {
      await writeArchive(stage, [MANIFEST_NAME, ...manifest.files.map((f) => f.path)], dest.file);
      await rm(stage, { recursive: true, force: true });
    }
    const bytes = manifest.files.reduce((n, f) => n + f.size, 0);
    const mail = manifest.maildirs.reduce((n, m) => n + m.files, 0);
    out.write(
      `backup written to ${dest.kind === 'dir' ? dest.dir : dest.file}: schema ${manifest.schemaVersion}, ${manifest.messages} queued message(s) (${manifest.spooled} spooled), ` +
        `${manifest.files.length} files, ${bytes} bytes; ${manifest.maildirs.length} Maildir(s) with ${mail} message(s) ` +
        `${args.flags.has('with-mail') ? 'included' : 'named only (add --with-mail to include them)'}\n`,
    );
    if (manifest.leftQueue.length > 0)
      out.write(`${manifest.leftQueue.length} message(s) left the queue during the backup and are not in it: ${manifest.leftQueue.join(', ')}\n`);
    return 0;
  } catch (e) {
    if (dest.kind === 'archive') await rm(stage, { recursive: true, force: true });
    err.write(`sealpost backup: ${(e as Error).message}\n`);
    return 1;
  }
}

/** A directory --out must be new or empty; an archive must not exist. */
async function refuseExisting(where: string, kind: 'dir' | 'archive'): Promise<string | undefined> {
  try {
    if (kind === 'archive') {
      await stat(where);
      return `${where} exists: a backup never replaces a file; choose another --out`;
    }
    const entries = await readdir(where);
    if (entries.length > 0) return `${where} is not empty (${entries.slice(0, 5).join(', ')}): choose a new or empty directory for --out`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return undefined;
}

interface BackupInput {
  dataDir: string;
  dbFile: string;
  configFile: string;
  hostname: string;
  stage: string;
  withMail: boolean;
}

async function makeBackup(input: BackupInput): Promise<Manifest> {
  const { dataDir, stage } = input;
  await mkdir(path.join(stage, 'data'), { recursive: true, mode: 0o700 });
  const snapshot = path.join(stage, DB_PATH);

  // 1. The database, online (https://sqlite.org/backup.html): the daemon goes on writing. Each
  // step copies every remaining page, so the copy is one read transaction's view (a step that
  // sees another connection's write starts over, and the next copies everything at once).
  await writeFile(snapshot, '', { mode: 0o600, flag: 'wx' }); // SQLite keeps the mode of a file it finds
  const source = new Database(input.dbFile, { readonly: true, fileMustExist: true });
  try {
    await source.backup(snapshot, { progress: (info) => Math.max(info.remainingPages, 100) });
  } finally {
    source.close();
  }

  // 2. After it, the files: exactly the spool files the snapshot's rows name (a file is removed
  // only after its row, so a named file still there is the one the row means; one already gone
  // belonged to a message that left the queue since, delivered or bounced: its row goes from the
  // snapshot too), the DKIM keys, the certificates, the Maildirs (named; copied with --with-mail).
  const copy = new Database(snapshot);
  let schemaVersion: number;
  let messages: number;
  const leftQueue: string[] = [];
  let spooled = 0;
  let plan: ReturnType<typeof planBackup>;
  try {
    copy.pragma('journal_mode = DELETE'); // one self-contained file, no -wal beside it
    copy.pragma('foreign_keys = ON');
    schemaVersion = copy.pragma('user_version', { simple: true }) as number;
    const hasSpool = (copy.prepare("SELECT count(*) AS n FROM pragma_table_info('messages') WHERE name = 'spool'").get() as { n: number }).n > 0;
    const rows = hasSpool ? (copy.prepare('SELECT id, spool FROM messages WHERE spool IS NOT NULL').all() as { id: string; spool: string }[]) : [];
    const owner = new Map(rows.map((r) => [`spool/${r.spool}`, r.id]));
    const kept = (await Promise.all(KEPT_TREES.map(async (tree) => (await listFiles(path.join(dataDir, tree))).map((f) => `${tree}/${f}`)))).flat();
    const mail = await listFiles(path.join(dataDir, 'mail'));
    plan = planBackup({ kept, spool: rows.map((r) => r.spool), mail, withMail: input.withMail });
    const remove = copy.prepare('DELETE FROM messages WHERE id = ?');
    for (const f of plan.files) {
      const to = path.join(stage, ...f.to.split('/'));
      await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
      const placed = await place(path.join(dataDir, f.from), to, f.how);
      const id = owner.get(f.from);
      if (id === undefined) continue; // a key or a Maildir file gone since the listing: left out
      if (placed) spooled++;
      else {
        remove.run(id);
        leftQueue.push(id);
      }
    }
    messages = (copy.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
  } finally {
    copy.close();
  }
  await chmod(snapshot, 0o600);

  // 3. The config.
  await mkdir(path.join(stage, 'config'), { mode: 0o700 });
  await place(input.configFile, path.join(stage, CONFIG_PATH), 'copy');

  // 4. The manifest: every file with its SHA-256 and size.
  const all = await listFiles(stage);
  const manifestFiles: ManifestFile[] = [];
  for (const rel of all) {
    if (rel === MANIFEST_NAME) continue;
    const { sha256, size } = await hashFile(path.join(stage, rel));
    manifestFiles.push({ path: rel, size, sha256 });
  }
  const bytesOf = (box: string) => manifestFiles.filter((f) => f.path.startsWith(`data/mail/${box}/`)).reduce((n, f) => n + f.size, 0);
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    sealpostVersion: await sealpostVersion(),
    schemaVersion,
    createdAt: new Date().toISOString(),
    hostname: input.hostname,
    messages,
    spooled,
    leftQueue,
    maildirs: plan.maildirs.map((m) => ({ name: m.name, files: m.files, bytes: m.copied ? bytesOf(m.name) : 0, copied: m.copied })),
    files: manifestFiles,
  };
  await writeFile(path.join(stage, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  for (const rel of [...all, MANIFEST_NAME]) await syncFile(path.join(stage, rel));
  for (const dir of new Set([...all, MANIFEST_NAME].map((rel) => path.dirname(path.join(stage, rel))))) await syncDir(dir);
  return manifest;
}

/**
 * Puts `from` at `to` (mode 0600): a hard link when asked and possible (same file system, the
 * file already 0600: a link shares the mode), else a copy. false: `from` no longer exists.
 */
async function place(from: string, to: string, how: 'copy' | 'link'): Promise<boolean> {
  try {
    if (how === 'link' && ((await stat(from)).mode & 0o777) === 0o600) {
      try {
        await link(from, to);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV' && (e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
      }
    }
    await copyFile(from, to);
    await chmod(to, 0o600);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
