// The SRS secret file: one secret per line, the first signs new addresses and every line checks
// them (add a new first line to rotate; drop the old one after max_age_days). Made at start when
// absent (32 random bytes, base64, mode 0600, in a 0700 directory); refused when others may read
// it. The secret is never logged: errors name the file only. Side effects: file reads and writes.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type FileWriter, localFiles } from '../core/durable-fs.ts';

export type SecretLoad = { ok: true; secrets: string[]; created: boolean } | { ok: false; problem: string };

/** `files` writes a new secret (postgres mode: the shared writer, so every node gets the first node's secret). */
export async function loadSrsSecrets(file: string, files: FileWriter = localFiles): Promise<SecretLoad> {
  let created = false;
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : err));
  if (info instanceof Error) return { ok: false, problem: `${file}: ${info.message}` };
  if (info === undefined) {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      await files.write(file, `${randomBytes(32).toString('base64')}\n`, 0o600, { exclusive: true });
      created = true;
    } catch (err) {
      // Another process made it first: read theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return { ok: false, problem: `${file}: could not create it: ${(err as Error).message}` };
    }
  } else if (!info.isFile()) {
    return { ok: false, problem: `${file} is not a file` };
  } else if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    return { ok: false, problem: `${file} is readable by others (mode ${mode}); whoever reads it can forge bounce addresses: run chmod 600 ${file}` };
  }
  const text = await readFile(file, 'utf8');
  const secrets = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (secrets.length === 0) return { ok: false, problem: `${file} holds no secret; delete it to have one made at start, or write a long random line into it` };
  return { ok: true, secrets, created };
}
