// A session process ([server] processes > 1): the composition root of one node:cluster worker. It
// serves the SMTP listeners (TLS, parsing, limits, SPF/DKIM/DMARC, rspamd, DKIM signing) as the
// single process does, but owns no table: each finished message goes to the primary (a small body
// inline, a spooled one by its fsync'd file in data_dir/spool), which commits it with its group
// commit; the 250 follows its answer. AUTH and the per-address connection counts are asked of
// the primary too, so they count across processes. It exits when the primary is gone (the
// channel closes): whatever it had not been told was committed was never acknowledged.
import type { AuthOutcome, AuthRequest } from '../auth/authenticator.ts';
import { applyReloadable, logReload, readReload } from '../config/reload.ts';
import type { Config, ListenAddress } from '../config/types.ts';
import { startQuietGc } from '../core/quiet-gc.ts';
import { fromWireError } from '../core/wire-error.ts';
import { cachingResolver } from '../dns/cache.ts';
import { createNodeResolver } from '../dns/node-resolver.ts';
import { reverseLookup } from '../dns/reverse.ts';
import { createDnsblCheck, oncePerZone } from '../inbound/dnsbl-check.ts';
import { createInboundListener, type Listener, listenerRoles } from '../inbound/listener.ts';
import { BodyBudget } from '../inbound/memory-budget.ts';
import type { InboundDeps, ListenerRole } from '../inbound/session.ts';
import { createIntake } from '../intake/intake.ts';
import { checkDeps, loadSigning, offloadChecks, reloadDkim } from '../intake/wiring.ts';
import { type Logger, mailLog, observeMailEvents } from '../log/log.ts';
import { startChecks } from '../offload/adaptive.ts';
import { newQueueId } from '../queue/ids.ts';
import { Spool, spoolDirOf } from '../queue/spool.ts';
import { buildDirectory } from '../routing/recipients.ts';
import { startTls } from '../tls/service.ts';
import { type Answer, asBuffer, type Call, type Note, type ToPrimary, type ToWorker } from './protocol.ts';

/** The IPC channel to the primary (process.send and its events in a cluster worker). */
export interface PrimaryChannel {
  send(message: ToPrimary): void;
  onMessage(handler: (message: ToWorker) => void): void;
  onDisconnect(handler: () => void): void;
}

export interface SessionWorkerDeps {
  log: Logger;
  now: () => number;
  channel: PrimaryChannel;
  configFile: string;
  /** Ends the process (the primary is gone, or it told us to stop). */
  exit: (code: number) => void;
  /** SIGTERM/SIGINT to this process itself (systemd signals the whole group): a graceful stop. */
  onTerm: (handler: () => void) => void;
}

/** Calls to the primary, answered by id. */
function caller(channel: PrimaryChannel): { call<C extends Call>(c: C): Promise<Answer<C['kind']>>; answer(m: Extract<ToWorker, { t: 'answer' }>): void } {
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  return {
    call<C extends Call>(c: C) {
      const id = next++;
      return new Promise<Answer<C['kind']>>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        channel.send({ t: 'call', id, call: c });
      });
    },
    answer(m) {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(fromWireError(m.error));
    },
  };
}

export async function runSessionWorker(config: Config, deps: SessionWorkerDeps): Promise<void> {
  const { log, now, channel } = deps;
  const rpc = caller(channel);
  const note = (n: Note) => channel.send({ t: 'note', note: n });
  // Answers from the start (the hello below); the rest once the listeners are built (none comes sooner but stop).
  let handle: ((m: Exclude<ToWorker, { t: 'answer' }>) => void) | undefined;
  const early: Exclude<ToWorker, { t: 'answer' }>[] = [];
  channel.onMessage((m) => {
    if (m.t === 'answer') rpc.answer(m);
    else if (handle) handle(m);
    else early.push(m);
  });
  const hello = await rpc.call({ kind: 'hello' });
  const listeners: Listener[] = [];
  // After each burst of this process's sessions (and its start-up), once its loop is quiet: one
  // full collection and the allocator's free pages given back, as the primary does (quiet-gc.ts).
  const stopQuietGc = startQuietGc({
    afterStart: true,
    onCollect: (ms) => log.info({ ms: Math.round(ms), rssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20) }, 'full collection after a burst'),
  });
  let stopping = false;
  const stop = async (graceMs: number) => {
    if (stopping) return;
    stopping = true;
    stopQuietGc();
    await Promise.all(listeners.map((l) => l.close(graceMs)));
    deps.exit(0);
  };
  // The primary is gone (kill -9, crash): sessions end now; nothing unanswered was acknowledged.
  channel.onDisconnect(() => deps.exit(1));
  deps.onTerm(() => void stop(config.shutdown.graceSeconds * 1000));

  // listen.metrics: the primary counts this process's mail-log records too (received, rejected, auth …).
  if (config.listen.metrics.length > 0)
    observeMailEvents(log, (event, fields) => {
      try {
        note({ kind: 'mail-event', event, fields });
      } catch {
        // A record that cannot be cloned is not counted; the mail goes on.
      }
    });
  const signing = await loadSigning(config, now);
  const { srsDirectory } = signing;
  // The primary's ticket secret: a session resumed on any process (tls/ticket-keys.ts).
  const tls = await startTls(config, log, now, { ticketSecret: asBuffer(hello.ticketSecret) });
  let inForce = config;
  let directory = buildDirectory(config.domains, srsDirectory);
  const nodeResolver = createNodeResolver(
    config.dns,
    config.listen.metrics.length > 0
      ? (type, answer) => {
          if (answer.kind !== 'records') note({ kind: 'dns-answer', type, answer: answer.kind });
        }
      : undefined,
  );
  const dnsResolver = cachingResolver(nodeResolver, { now });
  // Only the checks run in this process's thread; Maildir writes are the primary's. Its failed
  // lookups (mailauth's SPF/DKIM/DMARC queries) are counted by the primary, as its own thread's are.
  const checks = offloadChecks(config);
  const offload = checks.verify
    ? startChecks(checks, config.listen.metrics.length > 0 ? (f) => note({ kind: 'dns-answer', type: f.type, answer: f.kind }) : undefined)
    : {};
  // The primary's view of the disk, as it tells it: MAIL FROM gets 452 4.3.1 here exactly while it
  // does there (one clock for every process). A failed enqueue is answered 452 by its error's code.
  let refusingUntil = 0;
  const storage = { refusing: () => now() < refusingUntil };
  const newId = () => newQueueId(now());
  const intake = createIntake({
    // The primary commits; large bodies are written here into the spool it reads and removes.
    store: { spool: new Spool(spoolDirOf(config.dataDir)), enqueue: async (message) => void (await rpc.call({ kind: 'enqueue', message })) },
    directory: () => directory,
    now,
    newId,
    log,
    ...checkDeps(config, { signing, offload, now, recordRspamd: (direction, action) => note({ kind: 'rspamd', direction, action }) }),
  });
  const freeBytes = async () => {
    const { statfs } = await import('node:fs/promises');
    const s = await statfs(config.dataDir);
    return s.bavail * s.bsize;
  };
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
    sessionEnded: (end) => note({ kind: 'session-ended', end }),
    sharedAdmission: (role) => ({
      admit: (ip) => rpc.call({ kind: 'admit', role, ip }),
      left: (ip) => note({ kind: 'left', role, ip }),
      connections: Math.ceil(config.limits.connections / hello.processes),
    }),
    ...(config.inbound.dnsbl.zones.length > 0
      ? {
          dnsbl: createDnsblCheck(
            config.inbound.dnsbl,
            dnsResolver,
            oncePerZone((problem) => note({ kind: 'dnsbl-problem', problem })),
          ),
        }
      : {}),
  };
  // The primary holds the one AUTH guard: guesses count across processes and ports.
  const authenticate = (request: AuthRequest): Promise<AuthOutcome> => rpc.call({ kind: 'authenticate', request });
  const roles = listenerRoles(config, inbound, (v) => tls.binding(v), authenticate);

  handle = (m) => {
    switch (m.t) {
      case 'certs':
        return void tls.store.set('acme', m.acme);
      case 'reload':
        return void (async () => {
          await tls.reload();
          await reloadDkim(signing, log);
          const result = await readReload(deps.configFile, inForce);
          if (result.ok) {
            inForce = applyReloadable(inForce, result.config);
            directory = buildDirectory(inForce.domains, srsDirectory);
            log.level = inForce.log.level;
          } else logReload(log, result);
        })()
          .catch((err: unknown) => log.error({ err, event: 'daemon' }, 'reload failed in a session process; its config stays in force'))
          .finally(() => note({ kind: 'reloaded' }));
      case 'storage':
        refusingUntil = m.refusingUntil;
        return;
      case 'stop':
        return void stop(m.graceMs);
    }
  };
  for (const m of early.splice(0)) handle(m);

  const listening: Record<ListenerRole, ListenAddress[]> = { mx: [], submission: [], submissions: [] };
  try {
    for (const { role, addresses, deps: listenerDeps } of roles) {
      if (addresses.length === 0) continue;
      const listener = createInboundListener(listenerDeps, addresses, role);
      listeners.push(listener);
      listening[role] = await listener.listen();
    }
  } catch (err) {
    note({ kind: 'failed', message: (err as Error).message });
    throw err;
  }
  note({ kind: 'listening', listening });
  mailLog(log, 'daemon', { state: 'session-process', action: 'listening', pid: process.pid }, 'session process listening');
}
