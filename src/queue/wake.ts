// Lets a command-line process (send, queue retry/release) tell the running daemon that the queue
// changed: the CLI touches a file in <data_dir>/control/queue, the daemon watches that folder.
// Without a daemon the touch is harmless; the daemon also looks at the queue at least every minute.
import { type FSWatcher, mkdirSync, watch } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export function wakeDir(dataDir: string): string {
  return path.join(dataDir, 'control', 'queue');
}

/** Daemon side: calls `onWake` (debounced to one call per tick) whenever the folder changes. */
export function watchWake(dataDir: string, onWake: () => void): () => void {
  const dir = wakeDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let pending = false;
  const watcher: FSWatcher = watch(dir, () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      onWake();
    });
  });
  watcher.unref();
  return () => watcher.close();
}

/** CLI side. */
export async function requestWake(dataDir: string): Promise<void> {
  const file = path.join(wakeDir(dataDir), `wake-${process.pid}-${Date.now()}`);
  try {
    await writeFile(file, '');
    await unlink(file);
  } catch {
    // No control folder: no daemon has run here yet; it will find the queue when it starts.
  }
}
