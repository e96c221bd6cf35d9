// The composition root: config → database → queue → certificates (+ ACME) → couriers and
// workers → listeners, started in that order and stopped in reverse. The only module that
// imports them all.
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { startAcmeService } from './acme/service.ts';
import type { Config, ListenAddress } from './config/schema.ts';
import { openDb } from './db/open.ts';
import { createReverseLookup } from './dns/reverse.ts';
import { createInboundListener } from './inbound/listener.ts';
import { buildDirectory, decideRecipient } from './inbound/recipients.ts';
import { createLocalCourier } from './local/courier.ts';
import { type Logger, mailLog } from './log/log.ts';
import { createRemoteCourier } from './outbound/remote.ts';
import { newQueueId } from './queue/ids.ts';
import { noticeMessage } from './queue/notices.ts';
import { QueueStore } from './queue/store.ts';
import { watchWake } from './queue/wake.ts';
import { QueueWorker } from './queue/worker.ts';
import { startTls } from './tls/service.ts';

export interface DaemonDeps {
  log: Logger;
  now: () => number;
  /** migrations/ of this installation. */
  migrationsDir: string;
}

export interface Daemon {
  readonly listening: { smtp: ListenAddress[] };
  /** SIGHUP: reload what can be reloaded without a restart (operator certificate files). */
  reload(): Promise<void>;
  /** SIGTERM: stop accepting, let DATA finish within the grace period, finish deliveries, close. */
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, deps: DaemonDeps): Promise<Daemon> {
  const { log, now } = deps;
  // What has started, to stop in reverse order (at SIGTERM, or when a later step fails).
  const started: { name: string; stop: () => unknown }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        log.error({ err, part: s.name }, 'error while stopping');
      }
    }
  };

  try {
    const db = openDb(config.dataDir, deps.migrationsDir);
    started.push({ name: 'database', stop: () => db.close() });
    const store = new QueueStore(db, config.queue);
    const recovered = store.recover();
    if (recovered > 0) mailLog(log, 'daemon', { state: 'recovered', recipients: recovered }, 'deliveries in flight at the last stop are queued again');

    const tls = await startTls(config, log, now);
    started.push({ name: 'tls', stop: () => tls.stop() });
    if (config.acme.enabled) {
      const acme = await startAcmeService({ config, store: tls.store, log, clock: { now } });
      started.push({ name: 'acme', stop: () => acme.stop() });
    }

    const directory = buildDirectory(config.domains);
    const newId = () => newQueueId(now());
    const notice = (input: Parameters<typeof noticeMessage>[0]) =>
      noticeMessage(input, {
        hostname: config.hostname,
        now,
        newId,
        route: (address) => decideRecipient(address, directory, true),
        maxLifetimeMs: config.queue.maxLifetimeMs,
      });
    const remote = createRemoteCourier(config, db, log);
    started.push({ name: 'remote courier', stop: () => remote.close() });
    const workers = [
      new QueueWorker({ store, transport: 'local', courier: createLocalCourier({ mailRoot: path.join(config.dataDir, 'mail'), hostname: config.hostname }), log, now, concurrency: 4, notice, delayWarningMs: config.queue.delayWarningMs }),
      new QueueWorker({ store, transport: 'remote', courier: remote, log, now, concurrency: config.outbound.concurrency, notice, delayWarningMs: config.queue.delayWarningMs }),
    ];
    for (const w of workers) {
      w.start();
      started.push({ name: `${w.transport} worker`, stop: () => w.stop() });
    }
    const unwatch = watchWake(config.dataDir, () => {
      for (const w of workers) w.pump();
    });
    started.push({ name: 'wake watcher', stop: unwatch });

    const smtp = createInboundListener(
      {
        config,
        directory: () => directory,
        store,
        tls: tls.binding(config.tls.minVersion),
        log,
        now,
        newId,
        reverse: createReverseLookup(config.dns),
        freeBytes: async () => {
          const s = await statfs(config.dataDir);
          return s.bavail * s.bsize;
        },
      },
      config.listen.smtp,
    );
    started.push({ name: 'smtp listener', stop: () => smtp.close(config.shutdown.graceSeconds * 1000) });
    const listening = await smtp.listen();
    mailLog(log, 'daemon', { state: 'listening', hostname: config.hostname, smtp: listening.map(formatAddress), dataDir: config.dataDir });

    return {
      listening: { smtp: listening },
      async reload() {
        await tls.reload();
        mailLog(log, 'daemon', { state: 'reloaded' });
      },
      async stop() {
        mailLog(log, 'daemon', { state: 'stopping', graceSeconds: config.shutdown.graceSeconds });
        await stopAll();
        mailLog(log, 'daemon', { state: 'stopped' });
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
