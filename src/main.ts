// The composition root: config → database → queue → DKIM keys → certificates (+ ACME) →
// couriers and workers → listeners (MX, and submission when configured), started in that order
// and stopped in reverse. The only module that imports them all.
import { randomBytes } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createAuthenticator } from './auth/authenticator.ts';
import { AuthGuard } from './auth/guard.ts';
import { type SessionProcesses, startSessionProcesses } from './cluster/primary.ts';
import { reviveBody } from './cluster/protocol.ts';
import { SharedAnvil } from './cluster/shared-anvil.ts';
import { applyReloadable, logReload, readReload } from './config/reload.ts';
import { reportIdentity } from './config/tlsrpt-sending.ts';
import type { Config, ListenAddress } from './config/types.ts';
import { startQuietGc } from './core/quiet-gc.ts';
import { type Db, openDb } from './db/open.ts';
import { keepReserve, releaseReserve } from './db/reserve.ts';
import { isStorageFault, StorageHealth } from './db/storage-fault.ts';
import { enableIncrementalVacuum } from './db/vacuum.ts';
import { cachingResolver } from './dns/cache.ts';
import { createDnssecResolver } from './dns/dnssec-resolver.ts';
import { createNodeResolver } from './dns/node-resolver.ts';
import { reverseLookup } from './dns/reverse.ts';
import { describeProbe, probeValidation } from './dns/validation-probe.ts';
import { createDnsblCheck, logDnsblProblems } from './inbound/dnsbl-check.ts';
import { createInboundListener, listenerRoles } from './inbound/listener.ts';
import { BodyBudget } from './inbound/memory-budget.ts';
import type { InboundDeps } from './inbound/session.ts';
import { SessionStats } from './inbound/session-stats.ts';
import { createIntake } from './intake/intake.ts';
import { checkDeps, loadSigning, offloadChecks, reloadDkim } from './intake/wiring.ts';
import { createLocalCourier } from './local/courier.ts';
import { LocalDeliveryStats } from './local/delivery-stats.ts';
import { type Logger, mailLog, observeMailEvents } from './log/log.ts';
import type { DaemonMetrics } from './metrics/daemon.ts';
import { startHttpsListener } from './mta-sts/listener.ts';
import { hostedPolicies } from './mta-sts/policy.ts';
import { startChecks } from './offload/adaptive.ts';
import { maildirThreadCount, startMaildirWriters } from './offload/writers.ts';
import { startAttemptsPruning } from './outbound/attempts-prune.ts';
import type { DaneState } from './outbound/courier.ts';
import { forwardingCourier } from './outbound/forward.ts';
import { createRemoteCourier } from './outbound/remote.ts';
import { chooseTransport } from './outbound/transport.ts';
import { newQueueId } from './queue/ids.ts';
import { noticeMessage } from './queue/notices.ts';
import { watchWake } from './queue/wake.ts';
import { QueueWorker } from './queue/worker.ts';
import { networkMatcher } from './routing/networks.ts';
import { buildDirectory, decideRecipient } from './routing/recipients.ts';
import { RspamdStats } from './rspamd/stats.ts';
import type { SharedStores } from './shared-state/stores.ts';
import type { StatusFacts } from './status-page/page.ts';
import { openStores } from './stores.ts';
import { createAlpnChallenges } from './tls/alpn-challenges.ts';
import type { CertMaterial } from './tls/material.ts';
import { startTls } from './tls/service.ts';
import type { CertSnapshot } from './tls/store.ts';
import { loadTrust } from './tls-policy/trust.ts';
import { postReport } from './tlsrpt/post.ts';
import { withTlsReports } from './tlsrpt/receive.ts';
import { reportMailboxes } from './tlsrpt/record.ts';
import { startTlsrpt } from './tlsrpt/service.ts';

/**
 * Maildir deliveries at once (Postfix's default_destination_concurrency_limit). They mostly wait
 * for fsyncs, and more at once share more of them (grouped new/ fsyncs, journal commits).
 */
const LOCAL_CONCURRENCY = 20;

export interface DaemonDeps {
  log: Logger;
  now: () => number;
  /** migrations/ of this installation. */
  migrationsDir: string;
  /** The config file, read again on reload(); without it reload() re-reads certificate files only. */
  configFile?: string;
  /** What `sealpost status --json` reports (cli/status.ts), for the status page (listen.status_http). */
  /** `shared`: the daemon's shared stores (on PostgreSQL, read through its pool rather than one of the page's own). */
  statusFacts?: (now: number, shared: SharedStores) => Promise<StatusFacts>;
  /** A test clock jumped (cli/test-clock.ts): timers that wait for a time of day look again. */
  onClockJump?: (listener: () => void) => void;
}

export interface Daemon {
  readonly listening: { smtp: ListenAddress[]; submission: ListenAddress[]; submissions: ListenAddress[] };
  /** The start-up run of the doctor's checks (doctor.at_startup), settled when logged and written. */
  readonly doctor?: Promise<unknown>;
  /**
   * SIGHUP: re-read the operator certificate files and the config file; a valid config's domains,
   * outbound TLS policy and log level apply at once (config/reload.ts), other changes are logged
   * as needing a restart; an invalid one is refused with its problems logged. Never rejects.
   */
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
    const freeBytes = async () => {
      const s = await statfs(config.dataDir);
      return s.bavail * s.bsize;
    };
    const minFreeBytes = config.inbound.minFreeMegabytes * 1024 * 1024;
    // One view of the disk for the workers and the listeners; the reserve is made again once it has room.
    // With session processes, each fault and recovery is told to them too (they answer 452 as well).
    let refusingUntil = 0;
    let tellSessions: ((refusingUntil: number) => void) | undefined;
    const storage = new StorageHealth({
      log,
      now,
      recovered: () => {
        refusingUntil = 0;
        tellSessions?.(0);
        void keepReserve(config.dataDir, freeBytes, minFreeBytes);
      },
      // StorageHealth refuses new mail for refuseMs (its default, 5 s) after each fault.
      faulted: () => {
        refusingUntil = now() + 5000;
        tellSessions?.(refusingUntil);
      },
    });
    const db = openOnFullDisk(config.dataDir, deps.migrationsDir, log);
    started.push({ name: 'database', stop: () => db.close() });
    convertToIncrementalVacuum(db, log, now);
    // The queue (SQLite here, or PostgreSQL shared by several nodes) and the other stores (stores.ts):
    // users, attempts, the MTA-STS cache and the TLS report state in `shared` (with the queue).
    const stores = await openStores({ store: config.store, dataDir: config.dataDir, retry: config.queue, db, storage, log, now });
    started.push(...stores.stops);
    const { queue, spool, shared } = stores;
    const stopRecover = await stores.recover();
    started.push({ name: 'recover', stop: stopRecover });
    const orphans = await stores.sweepSpool();
    if (orphans > 0) mailLog(log, 'daemon', { state: 'recovered', spoolFiles: orphans }, 'spool files of messages never committed were removed');
    // [store] kind = "postgres": the files every node shares (the ACME cache, DKIM keys) are in step
    // before the keys and certificates load; then kept so (shared-files/): loaded only in this mode.
    const sharing =
      config.store.kind === 'postgres'
        ? await (await import('./shared-files/node.ts')).startNodeSharing(config.store, config.dataDir, { log, now })
        : undefined;
    if (sharing) started.push({ name: 'shared files', stop: () => sharing.close() });
    // Every configured DKIM key and the SRS secret, before anything listens (intake/wiring.ts).
    const signing = await loadSigning(config, now, sharing?.files);
    const { signer, srsKeys, srsDirectory } = signing;
    if (signing.srsCreated)
      mailLog(
        log,
        'daemon',
        { state: 'srs-secret', file: config.srs.secretFile },
        'made a new SRS secret (keep it: bounces to forwarded mail are checked with it)',
      );

    // [server] processes > 1: the session processes serve TLS with ticket keys from this one secret.
    const sessionProcesses = config.server.processes === 'auto' ? availableParallelism() : config.server.processes;
    const ticketSecret = sessionProcesses > 1 ? randomBytes(32) : undefined;
    const tls = await startTls(config, log, now, ticketSecret ? { ticketSecret } : {});
    started.push({ name: 'tls', stop: () => tls.stop() });

    // listen.metrics: every mail-log record counted from here on (log/log.ts observeMailEvents).
    // Loaded only when on, like ACME: prom-client and its default metrics stay out otherwise.
    const metrics: DaemonMetrics | undefined =
      config.listen.metrics.length > 0
        ? (await import('./metrics/daemon.ts')).createDaemonMetrics({
            addresses: config.listen.metrics,
            db,
            ...(stores.queueSizes ? { queue: stores.queueSizes } : {}),
            certificates: () => new Map([...tls.store.current().byName].map(([name, entry]) => [name, entry.notAfter])),
            log,
            now,
          })
        : undefined;
    if (metrics) observeMailEvents(log, metrics.observe);
    const stopSizes = metrics ? stores.watchSizes?.() : undefined;
    if (stopSizes) started.push({ name: 'queue gauges', stop: stopSizes });

    // What reload() swaps: the config in force (its reloadable parts) and the domain directory.
    let inForce = config;
    // TLS-ALPN-01 challenge certificates: the ACME manager writes, the HTTPS listener serves (with
    // several nodes, also those another node's order published).
    const alpn = sharing ? sharing.alpn(createAlpnChallenges()) : createAlpnChallenges();
    if (config.listen.https.length > 0) {
      const https = await startHttpsListener({
        addresses: config.listen.https,
        store: tls.store,
        tls: config.tls,
        policies: () => hostedPolicies(inForce),
        alpn,
        log,
      });
      started.push({ name: 'https', stop: () => https.close() });
    }
    let acmeManager: { reloadCache(): Promise<void> } | undefined;
    if (config.acme.enabled) {
      // Loaded only when enabled: acme-client and its HTTP stack are a large share of the memory.
      const { startAcmeService } = await import('./acme/service.ts');
      const acme = await startAcmeService({ config, store: tls.store, log, clock: { now }, alpn, ...(sharing ? { nodes: sharing } : {}) });
      started.push({ name: 'acme', stop: () => acme.stop() });
      acmeManager = acme.manager;
    }
    let directory = buildDirectory(config.domains, srsDirectory);
    const newId = () => newQueueId(now());
    const notice = (input: Parameters<typeof noticeMessage>[0]) =>
      noticeMessage(input, {
        hostname: config.hostname,
        now,
        newId,
        route: (address) => decideRecipient(address, directory, true),
        maxLifetimeMs: config.queue.maxLifetimeMs,
      });
    // One DNS cache for delivery (MX, A/AAAA, MTA-STS) and the checks of inbound mail.
    const nodeResolver = createNodeResolver(config.dns, metrics ? (type, answer) => metrics.dnsAnswer(type, answer) : undefined);
    const dnsResolver = cachingResolver(nodeResolver, { now });
    // The courier reads the [outbound] snapshot in force at each delivery: reload swaps inForce whole.
    // DANE (RFC 7672) needs a validating resolver whose AD bit we believe: the root DNSKEY probe
    // (dns/validation-probe.ts), once, in the background; a DANE hop waits for it. Off: logged once.
    const dnssecResolver = createDnssecResolver(config.dns);
    const validation = probeValidation(dnssecResolver.servers, config.dns.trustAd, Math.min(config.dns.timeoutMs, 3000));
    const daneState: Promise<DaneState> = validation.then((probe) => {
      mailLog(log, 'daemon', { state: 'dnssec', validating: probe.validating, why: probe.why }, describeProbe(probe));
      if (probe.validating) {
        const { resolveMx, resolve4, resolve6, resolveTxt, resolveTlsa } = dnssecResolver;
        return { on: true, resolver: cachingResolver({ resolveMx, resolve4, resolve6, resolveTxt, resolveTlsa }, { now }) };
      }
      mailLog(log, 'daemon', { state: 'dane', on: false, why: probe.why }, `DANE off: ${probe.why}`, 'warn');
      return { on: false, why: probe.why };
    });
    const remote = createRemoteCourier(config, db, log, {
      resolver: dnsResolver,
      outbound: () => inForce.outbound,
      storage,
      now,
      dane: () => daneState,
      attempts: shared.attempts,
      stsCache: shared.sts,
      ...(stores.slots ? { sharedSlots: stores.slots } : {}),
    });
    started.push({ name: 'remote courier', stop: () => remote.close() });
    // The SPF/DKIM/DMARC checks of port 25 (through our resolver, dns.servers, never node's global
    // one) run on the loop that serves the sessions while it has room, else in a thread of their own
    // (offload/adaptive.ts); none without checks.
    const checks = offloadChecks(config);
    const offload = checks.verify
      ? startChecks(checks, metrics ? (f) => metrics.dnsAnswer(f.type, { kind: f.kind, detail: 'inbound checks' }) : undefined)
      : undefined;
    if (offload) started.push({ name: 'inbound checks', stop: () => offload.close() });
    // Maildir writes in threads of their own, as many as the load needs up to [local] maildir_threads.
    const writers = startMaildirWriters({
      threads: maildirThreadCount(config.local.maildirThreads, availableParallelism()),
      onDied: (reason) => log.error({ event: 'daemon', state: 'maildir-writer-died', error: reason }, 'a Maildir writer thread died; its writes stay queued'),
    });
    started.push({ name: 'Maildir writer threads', stop: () => writers.close() });
    // [[domain]] delivery (Maildir or LMTP) as in force at each delivery: reload may change it.
    const deliveryOf = (domain: string) => inForce.domains.find((d) => d.name === domain)?.delivery ?? ({ kind: 'maildir' } as const);
    const localCourier = createLocalCourier({
      mailRoot: path.join(config.dataDir, 'mail'),
      hostname: config.hostname,
      write: writers.write,
      delivery: deliveryOf,
      junkFolder: config.rspamd?.junkFolder === true,
      lmtpConcurrency: config.local.lmtpConcurrency,
    });
    started.push({ name: 'LMTP connections', stop: () => localCourier.close() });
    // Mail to a [[domain]] tlsrpt_rua mailbox is read as TLS reports once delivered (tlsrpt/receive.ts).
    const local = withTlsReports(localCourier, { store: shared.tlsReports, mailboxes: () => reportMailboxes(inForce.domains), log, now });
    // Stopped after the workers (started before them), so the last local deliveries are counted.
    const localStats = new LocalDeliveryStats(db, { now, log, storage });
    started.push({ name: 'local delivery stats', stop: () => localStats.close() });
    const workers = [
      new QueueWorker({
        store: queue,
        transport: 'local',
        courier: local,
        log,
        now,
        concurrency: LOCAL_CONCURRENCY,
        notice,
        delayWarningMs: config.queue.delayWarningMs,
        storage: stores.queueHealth,
        agent: (address) => deliveryOf(domainOf(address)).kind,
        counted: (outcome, agent) => localStats.record(outcome, agent ?? 'maildir'),
      }),
      new QueueWorker({
        store: queue,
        transport: 'remote',
        // Forwards of foreign senders leave with an SRS sender (outbound/forward.ts).
        courier: forwardingCourier(remote, { directory: () => directory, keys: srsKeys, now }),
        log,
        now,
        concurrency: config.outbound.concurrency,
        notice,
        delayWarningMs: config.queue.delayWarningMs,
        storage: stores.queueHealth,
        // Postfix's words: "smtp" to the domain's MX hosts, "relay" to a relay or transport-table next hop.
        agent: (address) => (chooseTransport(domainOf(address), inForce.outbound.transports ?? {}, inForce.outbound.relay).kind === 'mx' ? 'smtp' : 'relay'),
      }),
    ];
    for (const w of workers) {
      w.start();
      started.push({ name: `${w.transport} worker`, stop: () => w.stop() });
    }
    // After each burst (a queue fill or drain, large messages), and after the start-up, one full
    // collection once the loop is quiet.
    const stopQuietGc = startQuietGc({
      afterStart: true,
      onCollect: (ms) => log.info({ ms: Math.round(ms), rssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20) }, 'full collection after a burst'),
    });
    started.push({ name: 'quiet gc', stop: stopQuietGc });
    const stopPruning = startAttemptsPruning({
      ...(shared.kind === 'sqlite' ? { db } : {}),
      attempts: shared.attempts,
      retentionMs: config.queue.attemptsRetentionMs,
      now,
      log,
      storage,
    });
    started.push({ name: 'attempts pruning', stop: stopPruning });
    // TLS reports (RFC 8460) once a UTC day about the previous day's attempts, to the domains that ask.
    if (config.tlsrpt.enabled) {
      const tlsrptStore = shared.tlsrptSent;
      const trust = loadTrust(config.outbound.caFile);
      const from = `tlsrpt-noreply@${signer.domains[0] ?? config.domains[0]?.name ?? config.hostname}`;
      const scheduler = startTlsrpt({
        ...reportIdentity(config),
        hostname: config.hostname,
        from,
        signer,
        now,
        newId,
        route: (address) => decideRecipient(address, directory, true),
        enqueue: async (message) => {
          await tlsrptStore.markMessage(message.id, message.receivedAt);
          return queue.enqueue(message);
        },
        post: (url, gzip) => postReport(url, gzip, { resolver: dnsResolver, trust, timeoutMs: 30_000, ipv6: config.outbound.ipv6 }),
        attempts: shared.attempts,
        store: tlsrptStore,
        resolveTxt: (name) => dnsResolver.resolveTxt(name),
        log,
        retentionMs: config.queue.attemptsRetentionMs,
      });
      deps.onClockJump?.(() => scheduler.wake());
      started.push({ name: 'tls reports', stop: () => scheduler.stop() });
    }
    const unwatch = watchWake(config.dataDir, () => {
      for (const w of workers) w.pump();
    });
    started.push({ name: 'wake watcher', stop: unwatch });

    // Stopped after the listeners (started before them), so the last sessions are counted.
    const sessionStats = new SessionStats(db, { now, log, storage });
    started.push({ name: 'session stats', stop: () => sessionStats.close() });
    const rspamdStats = config.rspamd ? new RspamdStats(db, { now, log, storage }) : undefined;
    if (rspamdStats) started.push({ name: 'rspamd stats', stop: () => rspamdStats.close() });
    // One intake for every listener: SPF/DKIM/DMARC and rspamd apply to port 25 only (origin smtp); rspamd also to our users' with [outbound.rspamd].
    const intake = createIntake({
      store: { enqueue: (message) => queue.enqueue(message), spool },
      directory: () => directory,
      now,
      newId,
      log,
      storage,
      ...checkDeps(config, {
        signing,
        offload: offload ?? {},
        now,
        recordRspamd: (direction, action) => {
          rspamdStats?.record(direction, action);
          metrics?.rspamd(direction, action);
        },
      }),
    });
    // A DNSBL zone that says our set-up is wrong: logged once, whichever process met it.
    const dnsblProblems = logDnsblProblems(log);
    const inbound: Omit<InboundDeps, 'tls'> = {
      config,
      directory: () => directory,
      intake,
      budget: new BodyBudget(config.limits.memoryBytes),
      log,
      now,
      reverse: reverseLookup(nodeResolver),
      freeBytes,
      storage,
      sessionEnded: (end) => sessionStats.record(end),
      // Through the caching resolver: the lookup begun in the greeting pause and the one at onConnect share their queries.
      ...(config.inbound.dnsbl.zones.length > 0 ? { dnsbl: createDnsblCheck(config.inbound.dnsbl, dnsResolver, dnsblProblems) } : {}),
    };
    // One guard for 587 and 465: a client cannot double its guesses by switching ports.
    const authenticate = createAuthenticator({
      users: shared.users,
      guard: new AuthGuard({ ...config.auth, lockoutMs: config.auth.lockoutSeconds * 1000 }),
      log,
      now,
    });
    const roles = listenerRoles(config, inbound, (v) => tls.binding(v), authenticate);
    const listening = { smtp: [] as ListenAddress[], submission: [] as ListenAddress[], submissions: [] as ListenAddress[] };
    let sessions: SessionProcesses | undefined;
    if (ticketSecret) {
      // [server] processes: the sessions run in worker processes (cluster/worker.ts); this one
      // commits their messages with its group commit and answers their AUTH and admission asks.
      const trusted = networkMatcher(config.relay.networks);
      const shared = new SharedAnvil(
        {
          connections: config.limits.connections,
          perAddress: config.limits.connectionsPerIp,
          perNetwork: config.limits.connectionsPerNet,
          perMinute: config.limits.connectionsPerMinutePerIp,
          rateExempt: trusted,
        },
        now,
      );
      const spoolDir = spool.dir;
      sessions = await startSessionProcesses(
        sessionProcesses,
        {
          async enqueue(message) {
            const body = reviveBody(message.body, spoolDir);
            if (!body) throw new Error(`a session process named a spool file outside ${spoolDir} (a bug)`);
            try {
              await queue.enqueue({ ...message, body });
            } catch (err) {
              // The primary's view of the disk (its queue workers, the reserve) learns of it too;
              // the session process answers 452 or 451 by the error's code.
              storage.fault('enqueue', err);
              throw err;
            }
            storage.ok();
          },
          authenticate,
          admit: (role, ip, process) => shared.admit(role, ip, process),
          left: (role, ip, process) => shared.left(role, ip, process),
          gone: (process) => shared.gone(process),
          note(n) {
            if (n.kind === 'session-ended') sessionStats.record(n.end);
            // The fields of a record of that event, typed by the session process's own mailLog call.
            else if (n.kind === 'mail-event') metrics?.observe(n.event, n.fields as never);
            else if (n.kind === 'dns-answer')
              metrics?.dnsAnswer(n.type, n.answer === 'servfail' || n.answer === 'timeout' ? { kind: n.answer, detail: '' } : { kind: n.answer });
            else if (n.kind === 'dnsbl-problem') dnsblProblems(n.problem);
            else {
              rspamdStats?.record(n.direction, n.action);
              metrics?.rspamd(n.direction, n.action);
            }
          },
          acme: () => acmeMaterials(tls.store.current()),
          refusingUntil: () => refusingUntil,
          ticketSecret,
        },
        log,
        now,
      );
      const told = sessions;
      tellSessions = (until) => told.storage(until);
      const sweep = setInterval(() => shared.sweep(), 60_000);
      sweep.unref();
      // ACME swaps (and every other certificate change here) reach every session process.
      const unsubscribe = tls.store.subscribe((snapshot) => sessions?.certs(acmeMaterials(snapshot)));
      const running = sessions;
      started.push({
        name: 'session processes',
        stop: async () => {
          clearInterval(sweep);
          unsubscribe();
          await running.stop(config.shutdown.graceSeconds * 1000);
        },
      });
      listening.smtp = sessions.listening.mx;
      listening.submission = sessions.listening.submission;
      listening.submissions = sessions.listening.submissions;
    } else {
      for (const { role, addresses, deps: listenerDeps } of roles) {
        if (addresses.length === 0) continue;
        const listener = createInboundListener(listenerDeps, addresses, role);
        started.push({ name: `${role} listener`, stop: () => listener.close(config.shutdown.graceSeconds * 1000) });
        listening[role === 'mx' ? 'smtp' : role] = await listener.listen();
      }
    }
    const metricsListener = metrics ? await metrics.start() : undefined;
    if (metricsListener) started.push({ name: 'metrics listener', stop: () => metricsListener.close() });
    if (config.listen.statusHttp.length > 0) {
      const statusFacts = deps.statusFacts;
      if (!statusFacts) throw new Error('listen.status_http is set but the caller gave no statusFacts (a bug)');
      // Loaded only when on; after the listeners, so that its first page finds them answering.
      const { startStatusPage } = await import('./status-page/service.ts');
      // The outbound chart from the nodes' shared attempts on PostgreSQL (the other charts are this node's).
      const page = await startStatusPage({
        config,
        facts: (at) => statusFacts(at, shared),
        store: tls.store,
        log,
        now,
        ...(shared.kind === 'postgres' ? { attempts: shared.attempts } : {}),
      });
      started.push({ name: 'status page', stop: () => page.close() });
    }
    // The start-up reserve for the next start on a full disk (db/reserve.ts); only with room to spare.
    void keepReserve(config.dataDir, freeBytes, minFreeBytes);
    mailLog(log, 'daemon', {
      state: 'listening',
      hostname: config.hostname,
      smtp: listening.smtp.map(formatAddress),
      submission: listening.submission.map(formatAddress),
      submissions: listening.submissions.map(formatAddress),
      ...(sessions ? { sessionProcesses: sessions.pids() } : {}),
      ...(metricsListener ? { metrics: metricsListener.addresses.map(formatAddress) } : {}),
      dkim: signer.domains,
      dataDir: config.dataDir,
    });
    // Whether [dns] servers validates DNSSEC is logged once ("daemon", state "dnssec") by the
    // probe started with the remote courier (DANE needs it); "DANE off" with the reason when not.
    void daneState;
    // sealpost doctor's checks (no port-25 probe), in the background: each error logged once.
    // Loaded only when on: its SPF evaluation brings mailauth (≈ 20 MiB) into the main thread.
    const doctorRun = config.doctor.atStartup
      ? import('./doctor/startup.ts').then((m) => m.runStartupDoctor(config, { resolver: nodeResolver, log, now }))
      : undefined;

    // Another node's change to the shared files: the ACME swap path (the cert store, every session
    // process) for a certificate, the DKIM reload for a key.
    sharing?.onChange(async (paths) => {
      if (paths.some((p) => p.startsWith('certs/acme/'))) await acmeManager?.reloadCache();
      if (paths.some((p) => p.startsWith('dkim/'))) {
        await reloadDkim(signing, log);
        await sessions?.reload();
      }
    });
    const reloadOnce = async (): Promise<void> => {
      await tls.reload();
      await reloadDkim(signing, log);
      // Each session process reads the config and certificate files again itself.
      await sessions?.reload();
      if (deps.configFile === undefined) return mailLog(log, 'daemon', { state: 'reloaded' });
      const result = await readReload(deps.configFile, inForce);
      if (result.ok) {
        inForce = applyReloadable(inForce, result.config);
        directory = buildDirectory(inForce.domains, srsDirectory);
        log.level = inForce.log.level;
      }
      logReload(log, result);
    };
    let reloading = Promise.resolve();
    return {
      listening,
      ...(doctorRun ? { doctor: doctorRun } : {}),
      reload() {
        // One reload at a time, in the order the signals came.
        const next = reloading
          .then(reloadOnce)
          .catch((err: unknown) => log.error({ err, event: 'daemon' }, 'reload failed; the running config stays in force'));
        reloading = next;
        return next;
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

/**
 * Opens the database; on a disk too full for it to open (SQLite cannot grow its -shm file), gives
 * the start-up reserve back (db/reserve.ts) and opens again, so the daemon comes up and answers
 * 452 until there is room, instead of failing to start.
 */
function openOnFullDisk(dataDir: string, migrationsDir: string, log: Logger): Db {
  try {
    return openDb(dataDir, migrationsDir);
  } catch (err) {
    if (!isStorageFault(err) || !releaseReserve(dataDir)) throw err;
    const code = (err as { code?: string }).code;
    mailLog(
      log,
      'storage',
      { state: 'failing', where: 'open', ...(code ? { code } : {}) },
      'the disk under data_dir is full: gave back the start-up reserve to open the database',
      'error',
    );
    return openDb(dataDir, migrationsDir);
  }
}

/** Once per database made before auto_vacuum = INCREMENTAL (db/vacuum.ts); on failure, at the next start. */
function convertToIncrementalVacuum(db: Db, log: Logger, now: () => number): void {
  const began = now();
  try {
    if (enableIncrementalVacuum(db) === 'converted')
      mailLog(log, 'daemon', { state: 'vacuumed', ms: now() - began }, 'database rewritten once so that pruned rows give their space back');
  } catch (err) {
    log.warn({ err, event: 'daemon' }, 'could not switch the database to incremental vacuum (VACUUM needs about its size free); tried again at the next start');
  }
}

/** The ACME certificates of a snapshot, as the session processes' stores take them. */
function acmeMaterials(snapshot: CertSnapshot): CertMaterial[] {
  return snapshot.entries.filter((e) => e.source === 'acme').map((e) => e.material);
}

/** The domain of a queued recipient address, lowercase (as the couriers group them). */
function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

export function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
