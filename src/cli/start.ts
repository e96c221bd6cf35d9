// `sealpost start --config FILE`: runs the daemon in the foreground, JSON logs on stdout.
// SIGTERM/SIGINT stop it gracefully (a second signal exits at once); SIGHUP reloads.
import { formatProblems, loadConfig } from '../config/load.ts';
import { createLogger } from '../log/log.ts';
import { MIGRATIONS_DIR } from '../db/open.ts';
import { startDaemon } from '../main.ts';

export async function run(configFile: string): Promise<number> {
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    process.stderr.write(`${formatProblems(loaded.file, loaded.problems)}\nsealpost: not started; fix the config (check it with: sealpost config check --config ${configFile})\n`);
    return 1;
  }
  const log = createLogger(loaded.config.log.level);
  let daemon;
  try {
    daemon = await startDaemon(loaded.config, { log, now: Date.now, migrationsDir: MIGRATIONS_DIR });
  } catch (err) {
    log.fatal({ err }, `sealpost: cannot start: ${(err as Error).message}`);
    return 1;
  }
  const running = daemon;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      running.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      running.reload().catch((err: unknown) => log.error({ err }, 'reload failed; the old settings stay in force'));
    });
  });
}
