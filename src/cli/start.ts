// `sealpost start --config FILE`: checks the config and its paths, then runs the daemon in the
// foreground, JSON logs on stdout (config warnings first, one record each).
// SIGTERM/SIGINT stop it gracefully (a second signal exits at once); SIGHUP reloads the config
// file and the certificate files (a config with problems is refused; see src/config/reload.ts). The signal
// handlers are in place before start-up begins, so a signal during start-up waits for it.
import { formatProblems, loadConfig } from '../config/load.ts';
import { MIGRATIONS_DIR } from '../db/open.ts';
import { createLogger } from '../log/log.ts';
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
  const log = createLogger(loaded.config.log.level, 'stdout');
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
      statusFacts: async (now) => (await import('./status.ts')).collectStatus(loaded.config, loaded.file, now, { errors: 50 }),
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
