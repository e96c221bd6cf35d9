// The composition root: config → database → queue → certificates → couriers and workers →
// listeners, started in that order and stopped in reverse. The only module that imports them all.
import { promises as dnsPromises } from 'node:dns';
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { type AcmeService, startAcmeService } from './acme/service.ts';
import type { Config, ListenAddress } from './config/schema.ts';
import { openDb } from './db/open.ts';
import { createInboundListener, type Listener } from './inbound/listener.ts';
import { buildDirectory } from './inbound/recipients.ts';
import { createLocalCourier } from './local/courier.ts';
import { type Logger, mailLog } from './log/log.ts';
import { newQueueId } from './queue/ids.ts';
import { DEFAULT_RETRY } from './queue/schedule.ts';
import { QueueStore } from './queue/store.ts';
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
  const db = openDb(config.dataDir, deps.migrationsDir);
  const store = new QueueStore(db, DEFAULT_RETRY);
  const recovered = store.recover();
  if (recovered > 0) mailLog(log, 'daemon', { state: 'recovered', recipients: recovered }, 'deliveries in flight at the last stop are queued again');

  const tls = await startTls(config, log, now);

  // ACME (issue 3, added by the ACME helper): HTTP-01 responder on listen.acme_http + the manager,
  // which swaps issued certificates into tls.store. Off unless [acme] enabled = true.
  let acme: AcmeService | undefined;
  try {
    acme = config.acme.enabled ? await startAcmeService({ config, store: tls.store, log, clock: { now } }) : undefined;
  } catch (err) {
    tls.stop();
    db.close();
    throw err;
  }

  const localWorker = new QueueWorker({
    store,
    transport: 'local',
    courier: createLocalCourier({ mailRoot: path.join(config.dataDir, 'mail'), hostname: config.hostname }),
    log,
    now,
    concurrency: 4,
  });
  localWorker.start();

  const directory = buildDirectory(config.domains);
  const resolver = new dnsPromises.Resolver({ timeout: config.dns.timeoutMs, tries: 1 });
  if (config.dns.servers.length > 0) resolver.setServers([...config.dns.servers]);

  const smtp: Listener = createInboundListener(
    {
      config,
      directory: () => directory,
      store,
      tls: tls.binding(config.tls.minVersion),
      log,
      now,
      newId: () => newQueueId(now()),
      reverse: (ip) => reverseName(resolver, ip),
      freeBytes: async () => {
        const s = await statfs(config.dataDir);
        return s.bavail * s.bsize;
      },
    },
    config.listen.smtp,
  );
  let listening: ListenAddress[];
  try {
    listening = await smtp.listen();
  } catch (err) {
    await smtp.close(0);
    await localWorker.stop();
    await acme?.stop(); // ACME (issue 3)
    tls.stop();
    db.close();
    throw err;
  }
  mailLog(log, 'daemon', { state: 'listening', hostname: config.hostname, smtp: listening.map(formatAddress), dataDir: config.dataDir });

  return {
    listening: { smtp: listening },
    async reload() {
      await tls.reload();
      mailLog(log, 'daemon', { state: 'reloaded' });
    },
    async stop() {
      mailLog(log, 'daemon', { state: 'stopping', graceSeconds: config.shutdown.graceSeconds });
      await smtp.close(config.shutdown.graceSeconds * 1000);
      await localWorker.stop();
      await acme?.stop(); // ACME (issue 3)
      tls.stop();
      db.close();
      mailLog(log, 'daemon', { state: 'stopped' });
    },
  };
}

async function reverseName(resolver: dnsPromises.Resolver, ip: string): Promise<string | undefined> {
  if (ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.')) return 'localhost';
  try {
    const names = await resolver.reverse(ip);
    return names[0];
  } catch {
    return undefined;
  }
}

export function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
