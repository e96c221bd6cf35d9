// Maildir writer: the only writer of <data_dir>/mail. tmp → fsync → rename into new/ → fsync of
// new/, so a message counts as delivered only once it survives a crash (https://cr.yp.to/proto/maildir.html).
import { access, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { syncDir } from '../core/durable-fs.ts';

/** <root>/<domain>/<local>: one Maildir per mailbox. */
export function maildirPath(root: string, mailbox: string): string {
  const at = mailbox.lastIndexOf('@');
  return path.join(root, mailbox.slice(at + 1), mailbox.slice(0, at));
}

/**
 * Writes `parts` as one message named `name` into the Maildir at `dir`, creating it if needed.
 * Idempotent: a retry after a crash that already renamed the file finds it in new/ and stops.
 * Throws the file system's error (ENOSPC, EDQUOT, EACCES …); the courier turns it into an Outcome.
 */
export async function writeMaildir(dir: string, name: string, parts: readonly Buffer[]): Promise<'written' | 'exists'> {
  const target = path.join(dir, 'new', name);
  if (await exists(target)) return 'exists';
  await ensureMaildir(dir);
  const temp = path.join(dir, 'tmp', name);
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writev([...parts]);
    await file.sync();
  } catch (err) {
    await file.close();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await file.close();
  await rename(temp, target);
  await syncDir(path.join(dir, 'new'));
  return 'written';
}

async function ensureMaildir(dir: string): Promise<void> {
  if (await exists(path.join(dir, 'cur'))) return;
  for (const sub of ['tmp', 'new', 'cur']) await mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 });
  // The new directories must survive a crash too: sync the chain of parents we may have created.
  await syncDir(dir);
  await syncDir(path.dirname(dir));
  await syncDir(path.dirname(path.dirname(dir)));
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}
