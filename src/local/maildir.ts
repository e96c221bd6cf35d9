// Maildir writer: the only writer of <data_dir>/mail. tmp → fsync → rename into new/ → fsync of
// new/, so a message counts as delivered only once it survives a crash (https://cr.yp.to/proto/maildir.html).
// The fsync of new/ is shared: one covers every rename made before it started (group commit).
// Made for the Maildir writer threads (src/offload/writers.ts, one writer each): the calls that
// only touch metadata (stat, open, write, rename, close) are synchronous there, cheaper than a
// trip through the thread pool each (and, done one at a time within a thread, they contend in the
// file system's journal only with the other writer threads'); the fsyncs, which wait for the
// disk, go to the pool, so several messages wait for the disk at once.
import { closeSync, existsSync, fsync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync, writevSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileChunks, SPOOL_CHUNK } from '../core/body.ts';
import { syncDir } from '../core/durable-fs.ts';

const fsyncFd = promisify(fsync);
const CUR_SLACK_MS = 60_000;

/** <root>/<domain>/<local>: one Maildir per mailbox. */
export function maildirPath(root: string, mailbox: string): string {
  const at = mailbox.lastIndexOf('@');
  return path.join(root, mailbox.slice(at + 1), mailbox.slice(0, at));
}

/** Bytes, or a spool file from `start` to its end (a large message, copied in chunks). */
export type MaildirPart = Uint8Array | { file: string; start: number };

/** Writes one message into a Maildir; see createMaildirWriter. */
export type MaildirWrite = (dir: string, name: string, parts: readonly MaildirPart[]) => Promise<'written' | 'exists'>;

/**
 * A writer that remembers the Maildirs it has made (no lookup per message) and shares directory
 * fsyncs between the messages renamed into the same new/ meanwhile. `deps.syncDir` lets tests
 * count or slow the fsyncs.
 *
 * The write is idempotent: a retry after a crash that already renamed the file finds it in new/,
 * or in cur/ where a reader (Dovecot) moved it with its flags appended, and stops. Throws the file system's error (ENOSPC, EDQUOT, EACCES …); the courier turns it
 * into an Outcome.
 */
export function createMaildirWriter(deps: { syncDir?: (dir: string) => Promise<void> } = {}): MaildirWrite {
  const made = new Set<string>();
  const syncNew = groupSync(deps.syncDir ?? syncDir);
  return async (dir, name, parts) => {
    const target = path.join(dir, 'new', name);
    if (existsSync(target) || inCur(dir, name)) return 'exists';
    if (!made.has(dir)) {
      await ensureMaildir(dir);
      made.add(dir);
    }
    const temp = path.join(dir, 'tmp', name);
    let fd: number;
    try {
      fd = openSync(temp, 'w', 0o600);
    } catch (err) {
      // The Maildir went away under us (removed by hand): make it again next time.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') made.delete(dir);
      throw err;
    }
    try {
      if (parts.every((p) => p instanceof Uint8Array)) writeAll(fd, temp, parts);
      else {
        for (const part of parts) {
          if (part instanceof Uint8Array) writeAll(fd, temp, [part]);
          // Each chunk is written before the next is read: one buffer serves them all.
          else for await (const chunk of fileChunks(part.file, part.start, SPOOL_CHUNK, true)) writeAll(fd, temp, [chunk]);
        }
      }
      await fsyncFd(fd);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(temp);
      } catch {
        // nothing to clean up
      }
      throw err;
    }
    closeSync(fd);
    renameSync(temp, target);
    await syncNew(path.join(dir, 'new'));
    return 'written';
  };
}

function writeAll(fd: number, temp: string, parts: readonly Uint8Array[]): void {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const written = parts.length === 1 ? writeSync(fd, parts[0] as Uint8Array) : writevSync(fd, parts);
  // A short write to a regular file means the space ran out.
  if (written !== size) throw Object.assign(new Error(`short write to ${temp}: ${written} of ${size} bytes`), { code: 'ENOSPC' });
}

/**
 * A message a reader has seen lives in cur/ as `<unique>:2,<flags>` (https://cr.yp.to/proto/maildir.html:
 * the info after the colon changes, the unique part before it does not). The scan of cur/ is
 * skipped when nothing has entered it since the time the unique name starts with (the Maildir
 * convention, "time.unique.host"; our names carry the time the message was received): the file
 * cannot be there. So a fresh delivery into a big mailbox pays one stat, not a readdir.
 */
function inCur(dir: string, name: string): boolean {
  const cur = path.join(dir, 'cur');
  let changedMs: number;
  try {
    changedMs = statSync(cur).mtimeMs;
  } catch {
    return false; // no cur/ yet: nothing was delivered here
  }
  const namedAt = Number.parseInt(name, 10) * 1000;
  // A minute of slack for coarse timestamps and a file system on another clock (NFS).
  if (Number.isFinite(namedAt) && changedMs < namedAt - CUR_SLACK_MS) return false;
  let files: string[];
  try {
    files = readdirSync(cur);
  } catch {
    return false;
  }
  const prefix = `${name}:`;
  return files.some((f) => f === name || f.startsWith(prefix));
}

/**
 * Group fsync per directory: a caller is covered by the first fsync that starts after its call.
 * While one runs, every caller that arrives waits for the single next one.
 */
export function groupSync(sync: (dir: string) => Promise<void>): (dir: string) => Promise<void> {
  const running = new Map<string, Promise<void>>();
  const queued = new Map<string, Promise<void>>();
  const start = (dir: string): Promise<void> => {
    const p = sync(dir).finally(() => {
      if (running.get(dir) === p) running.delete(dir);
    });
    running.set(dir, p);
    return p;
  };
  return (dir) => {
    const current = running.get(dir);
    if (!current) return start(dir);
    let next = queued.get(dir);
    if (!next) {
      next = current
        .catch(() => undefined)
        .then(() => {
          queued.delete(dir);
          return start(dir);
        });
      queued.set(dir, next);
    }
    return next;
  };
}

async function ensureMaildir(dir: string): Promise<void> {
  if (existsSync(path.join(dir, 'cur'))) return;
  for (const sub of ['tmp', 'new', 'cur']) await mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 });
  // A Maildir++ folder (".Junk" inside the mailbox) is marked as one (https://www.courier-mta.org/imap/README.maildirquota.html).
  if (path.basename(dir).startsWith('.')) closeSync(openSync(path.join(dir, 'maildirfolder'), 'a', 0o600));
  // The new directories must survive a crash too: sync the chain of parents we may have created.
  await syncDir(dir);
  await syncDir(path.dirname(dir));
  await syncDir(path.dirname(path.dirname(dir)));
}
