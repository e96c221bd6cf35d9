// TEST ONLY: the daemon's clock shifted by the number of milliseconds in the file named by
// SEALPOST_TEST_CLOCK_FILE, read at start and again whenever the file changes (polled every 100 ms),
// so an integration test can move a running daemon across a UTC day boundary. Without the
// variable (always, in production) the clock is Date.now and nothing is watched.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';

export interface DaemonClock {
  now: () => number;
  /** Called after each jump of a test clock. */
  onJump: (listener: () => void) => void;
  stop: () => void;
}

export function daemonClock(env: NodeJS.ProcessEnv): DaemonClock {
  const file = env['SEALPOST_TEST_CLOCK_FILE'];
  if (!file) return { now: Date.now, onJump: () => undefined, stop: () => undefined };
  const read = (): number => {
    try {
      const value = Number(readFileSync(file, 'utf8').trim());
      return Number.isFinite(value) ? value : 0;
    } catch {
      return 0;
    }
  };
  let offset = read();
  const listeners: (() => void)[] = [];
  watchFile(file, { interval: 100, persistent: false }, () => {
    offset = read();
    for (const l of listeners) l();
  });
  return {
    now: () => Date.now() + offset,
    onJump: (listener) => listeners.push(listener),
    stop: () => unwatchFile(file),
  };
}
