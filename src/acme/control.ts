// `sealpost certs renew` reaching the running daemon: a request file in <cache>/control/.
//   CLI:    writes renew-<id>.json, waits for the daemon to claim it (rename to .claimed);
//           if nobody claims it in time it withdraws it (unlink) and renews on its own.
//   daemon: watches the folder (fs.watch plus a slow poll), claims by rename, renews, writes
//           renew-<id>.result.json. Rename/unlink decide atomically who owns a request.
// Side effects: files in <cache>/control, an fs.watch handle and a timer in the daemon.
import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/durable-fs.ts';
import { readOptional } from './cache.ts';

export interface RenewRequest {
  id: string;
  force: boolean;
  requestedAt: string;
}

export interface RenewResult {
  id: string;
  ok: boolean;
  /** One line per certificate: what happened. */
  messages: string[];
  finishedAt: string;
}

export function controlDir(root: string): string {
  return path.join(root, 'control');
}

export interface ControlWatcher {
  close(): void;
}

/** Daemon side: claims each request and answers it with `handle`'s result. */
export async function watchRenewRequests(
  root: string,
  handle: (request: RenewRequest) => Promise<Omit<RenewResult, 'id' | 'finishedAt'>>,
  now: () => number,
  pollMs = 2000,
): Promise<ControlWatcher> {
  const dir = controlDir(root);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let busy = false;
  let again = false;
  let closed = false;
  const scan = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        for (const file of (await readdir(dir)).filter((f) => /^renew-[a-f0-9]+\.json$/.test(f)).sort()) {
          if (closed) return;
          const claimed = path.join(dir, `${file}.claimed`);
          try {
            await rename(path.join(dir, file), claimed);
          } catch {
            continue; // withdrawn by the CLI or claimed already
          }
          const request = parseRequest(await readOptional(claimed), file);
          let result: Omit<RenewResult, 'id' | 'finishedAt'>;
          try {
            result = await handle(request);
          } catch (err) {
            result = { ok: false, messages: [`renewal failed: ${(err as Error).message}`] };
          }
          const answer: RenewResult = { id: request.id, ...result, finishedAt: new Date(now()).toISOString() };
          await writeFileAtomic(path.join(dir, `renew-${request.id}.result.json`), `${JSON.stringify(answer)}\n`, 0o600);
          await unlink(claimed).catch(() => undefined);
        }
      } while (again && !closed);
    } finally {
      busy = false;
    }
  };
  const kick = (): void => void scan().catch(() => undefined);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, kick);
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined; // the poll below still finds requests
  }
  const timer = setInterval(kick, pollMs);
  timer.unref();
  kick();
  return {
    close() {
      closed = true;
      watcher?.close();
      clearInterval(timer);
    },
  };
}

export type RenewAnswer = { kind: 'answered'; result: RenewResult } | { kind: 'no-daemon' } | { kind: 'timeout'; id: string };

/** CLI side: asks the daemon; 'no-daemon' when nobody claimed the request within `pickupMs`. */
export async function requestRenewal(
  root: string,
  force: boolean,
  now: () => number,
  opts: { pickupMs: number; resultMs: number; pollMs?: number },
): Promise<RenewAnswer> {
  const dir = controlDir(root);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const id = randomBytes(8).toString('hex');
  const file = path.join(dir, `renew-${id}.json`);
  const resultFile = path.join(dir, `renew-${id}.result.json`);
  const request: RenewRequest = { id, force, requestedAt: new Date(now()).toISOString() };
  await writeFileAtomic(file, `${JSON.stringify(request)}\n`, 0o600);
  const pollMs = opts.pollMs ?? 100;

  const pickupDeadline = now() + opts.pickupMs;
  while ((await readOptional(file)) !== undefined) {
    if (now() >= pickupDeadline) {
      try {
        await unlink(file);
        return { kind: 'no-daemon' };
      } catch {
        break; // claimed in the meantime: the daemon has it
      }
    }
    await delay(pollMs);
  }
  const resultDeadline = now() + opts.resultMs;
  while (now() < resultDeadline) {
    const text = await readOptional(resultFile);
    if (text !== undefined) {
      await unlink(resultFile).catch(() => undefined);
      return { kind: 'answered', result: JSON.parse(text) as RenewResult };
    }
    await delay(pollMs);
  }
  return { kind: 'timeout', id };
}

function parseRequest(text: string | undefined, file: string): RenewRequest {
  const id = /^renew-([a-f0-9]+)\.json$/.exec(file)?.[1] ?? 'unknown';
  try {
    const parsed = JSON.parse(text ?? '{}') as Partial<RenewRequest>;
    return { id, force: parsed.force === true, requestedAt: String(parsed.requestedAt ?? '') };
  } catch {
    return { id, force: false, requestedAt: '' };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
