// Waiting with deadlines for tests: poll a predicate, a TCP port, or a line in a stream or file.
// Every wait fails with an error naming what it waited for; none sleeps without a condition.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { Readable } from 'node:stream';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What is awaited, for the error message: "3 messages in alice's Maildir". */
  what: string;
}

/**
 * Calls `predicate` until it returns a value other than undefined/null/false, and resolves with that
 * value. A predicate that throws counts as "not yet"; its last error is quoted if time runs out.
 */
export async function waitFor<T>(predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>, options: WaitOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value !== undefined && value !== null && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError === undefined ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}

/** Resolves once a TCP connection to host:port succeeds (then closes it). */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => canConnect(host, port), { timeoutMs, intervalMs: 50, what: `a listener on ${host}:${port}` });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Resolves with the first line matching `pattern`.
 * - A stream: lines that arrive from now on (anything read before the call is not seen).
 * - A file path: the file's lines from byte `fromOffset` (default 0), polled until the deadline;
 *   a file that does not exist yet counts as empty.
 */
export function waitForLine(source: Readable | string, pattern: RegExp, timeoutMs = 10_000, fromOffset = 0): Promise<string> {
  if (typeof source === 'string') return waitForFileLine(source, pattern, timeoutMs, fromOffset);
  return new Promise((resolve, reject) => {
    let pending = '';
    const cleanup = () => {
      clearTimeout(timer);
      source.off('data', onData);
      source.off('end', onEnd);
    };
    const onData = (chunk: Buffer | string) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      const hit = lines.find((line) => pattern.test(line));
      if (hit !== undefined) {
        cleanup();
        resolve(hit);
      }
    };
    const onEnd = () => {
      if (pattern.test(pending)) {
        cleanup();
        resolve(pending);
        return;
      }
      cleanup();
      reject(new Error(`stream ended before a line matching ${pattern}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a line matching ${pattern}`));
    }, timeoutMs);
    source.on('data', onData);
    source.on('end', onEnd);
  });
}

async function waitForFileLine(file: string, pattern: RegExp, timeoutMs: number, fromOffset: number): Promise<string> {
  return waitFor(
    async () => {
      const text = await readFile(file).then(
        (b) => b.subarray(fromOffset).toString(),
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return '';
          throw err;
        },
      );
      return text.split('\n').find((line) => pattern.test(line));
    },
    { timeoutMs, intervalMs: 100, what: `a line matching ${pattern} in ${file}` },
  );
}
