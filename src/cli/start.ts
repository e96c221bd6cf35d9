// `sealpost start --config FILE`: checks the config and its paths, then runs the daemon in the
// foreground, JSON logs on stdout (config warnings first, one record each).
// SIGTERM/SIGINT stop it gracefully (a second signal exits at once); SIGHUP reloads the config
// file and the certificate files (a config with problems is refused; see src/config/reload.ts). The signal
// handlers are in place before start-up begins, so a signal during start-up waits for it.
import cluster from 'node:cluster';
import { runSessionWorker } from '../cluster/worker.ts';
import { formatProblems, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { MIGRATIONS_DIR } from '../db/open.ts';
import { createLogger, type Logger } from '../log/log.ts';
import { type Daemon, startDaemon } from '../main.ts';
import { checkPaths, nodePathFs } from './check-paths.ts';
import { daemonClock } from './test-clock.ts';

export async function run(configFile: string): Promise<number> {
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    process.stderr.write(
      `${formatProblems(loaded.file, loaded.problems)}\nsealpost: not started; fix the config (check it with: sealpost config check --config ${configFile})\n`,
    );
    return 1;
  }
  // The same path checks as config check, before anything touches data_dir: a data_dir on
  // procfs used to hang the start-up (see core/make-dir.ts) without a word.
  const pathProblems = await checkPaths(loaded.config, nodePathFs());
  if (pathProblems.length > 0) {
    process.stderr.write(
      `${formatProblems(loaded.file, pathProblems)}\nsealpost: not started; fix the config (check it with: sealpost config check --config ${configFile})\n`,
    );
    return 1;
  }
  const log = createLogger(loaded.config.log.level, 'stdout', { shared: cluster.isWorker || loaded.config.server.processes !== 1 });
  // A session process read the same file: the primary alone logs its warnings (one record each).
  if (cluster.isWorker) return runWorker(loaded.config, loaded.file, log);
  for (const warning of loaded.warnings)
    log.warn({ event: 'daemon', state: 'config-warning', key: warning.path, warning: warning.message }, `config warning: ${warning.path}: ${warning.message}`);
  let stopRequested: ((signal: string) => void) | undefined;
  let stopping = false;
  // A SIGHUP during start-up is kept and done once the daemon runs (the file may have changed since it was read).
  let reloadPending = false;
  let reload = () => {
    reloadPending = true;
  };
  const onStop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    stopRequested?.(signal);
  };
  process.on('SIGTERM', () => onStop('SIGTERM'));
  process.on('SIGINT', () => onStop('SIGINT'));
  process.on('SIGHUP', () => reload());

  let daemon: Daemon;
  try {
    // Date.now, unless a test shifts it (SEALPOST_TEST_CLOCK_FILE, test only).
    const clock = daemonClock(process.env);
    daemon = await startDaemon(loaded.config, {
      log,
      now: clock.now,
      onClockJump: clock.onJump,
      migrationsDir: MIGRATIONS_DIR,
      configFile: loaded.file,
      // Loaded at the first page view only: status.ts brings cli/certs.ts and with it acme-client.
      statusFacts: async (now, shared) => (await import('./status.ts')).collectStatus(loaded.config, loaded.file, now, { errors: 50, shared }),
    });
  } catch (err) {
    log.fatal({ err }, `sealpost: cannot start: ${(err as Error).message}`);
    return 1;
  }
  reload = () => {
    daemon.reload().catch((err: unknown) => log.error({ err }, 'reload failed; the old settings stay in force'));
  };
  if (reloadPending) reload();
  const stop = () =>
    daemon.stop().then(
      () => 0,
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        return 1;
      },
    );
  if (stopping) return stop();
  return new Promise<number>((resolve) => {
    stopRequested = () => void stop().then(resolve);
  });
}

/**
 * A session process of [server] processes > 1 (forked by the primary with the same arguments):
 * serves the listeners until the primary tells it to stop or goes away. SIGHUP is the primary's
 * to forward; a SIGTERM sent to the whole group (systemd) stops it like the primary's stop.
 */
function runWorker(config: Config, file: string, log: Logger): Promise<number> {
  const send = process.send?.bind(process);
  if (!send) throw new Error('a cluster worker without an IPC channel (a bug)');
  return new Promise<number>((resolve) => {
    const exit = (code: number) => {
      // Records still batched for stdout are written at exit (log/batched-fd.ts).
      process.exit(code);
    };
    process.on('SIGHUP', () => undefined);
    runSessionWorker(config, {
      log,
      now: Date.now,
      configFile: file,
      exit,
      channel: {
        send: (m) => void send(m),
        onMessage: (handler) => process.on('message', (m) => handler(m as Parameters<typeof handler>[0])),
        onDisconnect: (handler) => process.on('disconnect', handler),
      },
      onTerm: (handler: () => void) => {
        process.on('SIGTERM', handler);
        process.on('SIGINT', handler);
      },
    }).catch((err: unknown) => {
      log.fatal({ err }, `sealpost: session process cannot start: ${(err as Error).message}`);
      resolve(1);
    });
  });
}
