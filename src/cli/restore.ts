// `sealpost restore FILE.tar.zst|DIR --config FILE`: a backup back into an empty data_dir. Every
// checksum is verified before anything is written; a newer schema than ours is refused. Without
// the config file, the backup's own is written there first and names the data_dir.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'smol-toml';
import { listFiles, readArchive, syncFile } from '../backup/archive.ts';
import { CONFIG_PATH, restoreTarget } from '../backup/fileset.ts';
import { MANIFEST_NAME, type Manifest, nonEmptyProblem, type Observed, parseManifest, restoreProblems } from '../backup/manifest.ts';
import { formatProblems, type Loaded, loadConfig } from '../config/load.ts';
import { validateConfig } from '../config/schema.ts';
import { syncDir } from '../core/durable-fs.ts';
import { MIGRATIONS_DIR } from '../db/open.ts';
import type { Args } from './args.ts';

/** The newest schema this program's migrations make. */
async function knownSchema(): Promise<number> {
  const numbers = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.+\.sql$/.test(f)).map((f) => Number.parseInt(f, 10));
  return Math.max(0, ...numbers);
}

/** A backup to read: its manifest text and files, as a directory or an archive. */
interface Source {
  where: string;
  /** Each entry's path and a stream of its bytes, in order; the callback's promise is awaited. */
  each(fn: (entryPath: string, body: NodeJS.ReadableStream) => Promise<void>): Promise<void>;
}

function dirSource(dir: string): Source {
  return {
    where: dir,
    async each(fn) {
      for (const rel of await listFiles(dir)) await fn(rel, createReadStream(path.join(dir, rel)));
    },
  };
}

function archiveSource(file: string): Source {
  return {
    where: file,
    async each(fn) {
      await readArchive(file, (entryPath, kind, body, wait) => {
        if (kind === 'Directory') return;
        if (kind !== 'File' && kind !== 'OldFile' && kind !== 'ContiguousFile') {
          wait(Promise.reject(new Error(`${file}: ${entryPath} is a ${kind} entry, which no Sealpost backup has: restore from another copy`)));
          body.resume();
          return;
        }
        // Consumed at once (tar resumes an entry nobody reads), through a node stream with backpressure.
        const pass = new PassThrough();
        body.pipe(pass);
        wait(fn(entryPath, pass));
      });
    },
  };
}

/** Hashes a stream; `sink` (optional) gets the bytes too. */
async function digest(body: NodeJS.ReadableStream, sink?: NodeJS.WritableStream): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  if (sink) await pipeline(body, tap, sink);
  else {
    tap.resume();
    await pipeline(body, tap);
  }
  return { sha256: hash.digest('hex'), size };
}

export async function run(configFile: string, args: Args, out = process.stdout, err = process.stderr): Promise<number> {
  const from = args.words[1];
  if (from === undefined) {
    err.write('sealpost restore: name the backup: sealpost restore FILE.tar.zst|DIR --config FILE\n');
    return 2;
  }
  try {
    return await restore(path.resolve(from), path.resolve(configFile), out, err);
  } catch (e) {
    err.write(`sealpost restore: ${(e as Error).message}\n`);
    return 1;
  }
}

async function restore(from: string, configFile: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const kind = await stat(from).then(
    (s) => (s.isDirectory() ? 'dir' : 'file'),
    () => undefined,
  );
  if (kind === undefined) {
    err.write(`sealpost restore: ${from} does not exist: name a backup made by sealpost backup (a directory or a .tar.zst)\n`);
    return 1;
  }
  const source = kind === 'dir' ? dirSource(from) : archiveSource(from);

  // 1. Read the whole backup once: the manifest and every file's checksum. Nothing is written yet.
  let manifestText: string | undefined;
  let configText: string | undefined;
  const observed: Observed[] = [];
  await source.each(async (entryPath, body) => {
    if (entryPath === MANIFEST_NAME) {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(Buffer.from(c as Buffer));
      manifestText = Buffer.concat(chunks).toString('utf8');
      return;
    }
    if (entryPath === CONFIG_PATH) {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(Buffer.from(c as Buffer));
      const bytes = Buffer.concat(chunks);
      configText = bytes.toString('utf8');
      observed.push({ path: entryPath, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      return;
    }
    observed.push({ path: entryPath, ...(await digest(body)) });
  });
  if (manifestText === undefined) {
    err.write(`sealpost restore: ${from} has no ${MANIFEST_NAME}: it is not a backup made by sealpost backup, or it is incomplete\n`);
    return 1;
  }
  const parsed = parseManifest(manifestText);
  if (!parsed.ok) {
    err.write(`sealpost restore: ${from}: ${parsed.problem}: restore from another copy of the backup\n`);
    return 1;
  }
  const manifest = parsed.value;
  const problems = restoreProblems(manifest, observed, await knownSchema(), from);
  if (problems.length > 0) {
    err.write(`sealpost restore: ${from}: ${problems.length} problem(s); nothing was written\n${problems.map((p) => `  ${p}\n`).join('')}`);
    return 1;
  }

  // 2. The config: the one given, or (none there) the backup's, which names the data_dir.
  const given = await stat(configFile).then(
    () => true,
    () => false,
  );
  const loaded = given ? await loadConfig(configFile) : configFromText(configText ?? '', configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(given ? configFile : `${from} (${CONFIG_PATH})`, loaded.problems)}\n`);
    return 1;
  }
  const dataDir = loaded.config.dataDir;
  const present = await readdir(dataDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw e;
  });
  const refusal = nonEmptyProblem(dataDir, present);
  if (refusal) {
    err.write(`sealpost restore: ${refusal}\n`);
    return 1;
  }

  // 3. Write: data/… under data_dir (files 0600, directories 0700), the config when it was not
  // there. Each file is hashed again as it is written (the archive is read a second time).
  const written: string[] = [];
  const expected = new Map(manifest.files.map((f) => [f.path, f]));
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await source.each(async (entryPath, body) => {
    const want = expected.get(entryPath);
    if (want === undefined || (entryPath === CONFIG_PATH && given)) {
      body.resume();
      return;
    }
    const target = restoreTarget(entryPath, dataDir, configFile);
    await mkdir(path.dirname(target), { recursive: true, mode: entryPath === CONFIG_PATH ? 0o750 : 0o700 });
    const got = await digest(body, createWriteStream(target, { mode: 0o600, flags: 'wx' }));
    if (got.sha256 !== want.sha256 || got.size !== want.size)
      throw new Error(`${entryPath} changed in ${from} while it was being restored: empty ${dataDir} and restore again from a copy nobody writes to`);
    await chmod(target, 0o600);
    await syncFile(target);
    written.push(target);
  });
  for (const dir of new Set(written.map((f) => path.dirname(f)))) await syncDir(dir);
  // Ensure every directory on the way is 0700 (mkdir's mode applies only to the ones it made).
  await chmod(dataDir, 0o700);
  out.write(summary(manifest, from, dataDir, written.length, given ? configFile : `${configFile} (the backup's config)`));
  return 0;
}

/** The backup's config as if it were already at `configFile` (relative paths resolve from there). */
function configFromText(text: string, configFile: string): Loaded {
  let raw: Record<string, unknown>;
  try {
    raw = parse(text);
  } catch (e) {
    return { ok: false, file: configFile, problems: [{ path: '(syntax)', message: (e as Error).message.split('\n')[0] ?? '' }] };
  }
  const result = validateConfig(raw, path.dirname(configFile));
  return result.ok
    ? { ok: true, config: result.config, file: configFile, warnings: result.warnings }
    : { ok: false, file: configFile, problems: result.problems };
}

function summary(m: Manifest, from: string, dataDir: string, files: number, config: string): string {
  const boxes = m.maildirs.filter((b) => !b.copied);
  return (
    `restored ${from} (Sealpost ${m.sealpostVersion}, schema ${m.schemaVersion}, made ${m.createdAt}) into ${dataDir}: ${files} files, ` +
    `${m.messages} queued message(s) (${m.spooled} spooled), config ${config}\n` +
    (boxes.length > 0 ? `Maildirs not in this backup (restore them from your mail backup): ${boxes.map((b) => b.name).join(', ')}\n` : '') +
    `start it: sealpost start --config ${config.split(' ')[0]}; the queue is delivered from there, each deferred recipient at its next retry ` +
    `(sealpost queue retry --all --config ${config.split(' ')[0]} once it runs: now)\n`
  );
}
