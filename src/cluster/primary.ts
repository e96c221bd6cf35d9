// The primary's side of [server] processes > 1: forks the SMTP session processes (node:cluster;
// the primary binds each listener, the processes accept on it themselves), answers their calls
// (enqueue with the queue's group commit, AUTH with the one guard, admission by the shared
// connection counts), forwards SIGHUP reloads and ACME certificates to every one, restarts one
// that dies, and stops them all first at shutdown. Side effects: child processes, logs.
import cluster, { type Worker } from 'node:cluster';
import type { ListenAddress } from '../config/types.ts';
import { toWireError } from '../core/wire-error.ts';
import { type Logger, mailLog } from '../log/log.ts';
import type { CertMaterial } from '../tls/material.ts';
import type { Admission, Call, Hello, Note, Role, ToPrimary, ToWorker } from './protocol.ts';

/** What the primary does for its session processes (main.ts gives its queue store, guard, counters). */
export interface SessionServices {
  /** Resolves once the message is durable in the queue (group commit). */
  enqueue(message: Extract<Call, { kind: 'enqueue' }>['message']): Promise<void>;
  authenticate?(request: Extract<Call, { kind: 'authenticate' }>['request']): Promise<unknown>;
  /** A new session on `role` from `ip`, counted across processes; `left` when it ends. */
  admit(role: Role, ip: string, process: number): Admission;
  left(role: Role, ip: string, process: number): void;
  /** A session process exited: every session it had counted is gone. */
  gone(process: number): void;
  note(note: Extract<Note, { kind: 'session-ended' | 'rspamd' | 'mail-event' | 'dns-answer' | 'dnsbl-problem' }>): void;
  /** The ACME certificates in force now, for a process that starts. */
  acme(): CertMaterial[];
  /** What every process shares: the TLS session ticket secret (tickets resume on any process). */
  ticketSecret: Buffer;
  /** Until when new mail is refused for a storage fault (0: not), for a process that starts. */
  refusingUntil(): number;
}

export interface SessionProcesses {
  /** The listeners' bound addresses, as the first process reported them. */
  readonly listening: Record<Role, ListenAddress[]>;
  /** Every process reads the config and certificate files again; resolves once each has (or after 10 s). */
  reload(): Promise<void>;
  certs(acme: CertMaterial[]): void;
  /** Tells every process until when new mail gets 452 4.3.1 (a storage fault; 0: over). */
  storage(refusingUntil: number): void;
  /** Stops every process: they stop accepting, sessions in DATA get graceMs to finish. */
  stop(graceMs: number): Promise<void>;
  /** The pids of the processes running now (sealpost status, tests). */
  pids(): number[];
}

/** A process that dies sooner than this after its start is restarted after RESTART_BACKOFF_MS (a crash loop must not spin). */
const QUICK_DEATH_MS = 5000;
const RESTART_BACKOFF_MS = 1000;

export async function startSessionProcesses(count: number, services: SessionServices, log: Logger, now: () => number): Promise<SessionProcesses> {
  // The primary binds each listening socket once (EADDRINUSE and port 0 as with one process) and
  // shares it: each session process accepts on it itself (SCHED_NONE), the kernel waking one of
  // those waiting. node:cluster's default (SCHED_RR) has the primary accept every connection and
  // pass its handle over the channel: measured with 2 processes at C=20 (bench/bench --processes 2),
  // 0.1-0.3 ms of the primary's loop and 0.1-0.4 ms of a session process per message, the
  // primary's loop being what one machine's throughput runs out of first.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  // Structured clone on the channel: message bodies travel as bytes, not as JSON arrays of numbers.
  cluster.setupPrimary({ serialization: 'advanced' });
  let stopping = false;
  const workers = new Map<number, Worker>();
  let first: ((n: Extract<Note, { kind: 'listening' | 'failed' }>) => void) | undefined;
  const reloading = new Map<number, () => void>();

  const send = (worker: Worker, message: ToWorker) => {
    if (worker.isConnected()) worker.send(message);
  };

  const fork = (): Worker => {
    const worker = cluster.fork();
    const startedAt = now();
    workers.set(worker.id, worker);
    worker.on('message', (m: ToPrimary) => {
      if (m.t === 'note') {
        const n = m.note;
        if (n.kind === 'listening' || n.kind === 'failed') {
          if (n.kind === 'listening') {
            send(worker, { t: 'certs', acme: services.acme() });
            const refusingUntil = services.refusingUntil();
            if (refusingUntil > now()) send(worker, { t: 'storage', refusingUntil });
          }
          first?.(n);
        } else if (n.kind === 'left') services.left(n.role, n.ip, worker.id);
        else if (n.kind === 'reloaded') reloading.get(worker.id)?.();
        else services.note(n);
        return;
      }
      void answer(worker, m.id, m.call);
    });
    // A worker's channel error (it died mid-send) must not end the primary.
    worker.on('error', (err) => log.warn({ err, event: 'daemon', pid: worker.process.pid }, 'session process channel error'));
    worker.on('exit', (code, signal) => {
      workers.delete(worker.id);
      services.gone(worker.id);
      reloading.get(worker.id)?.();
      if (stopping) return;
      const quick = now() - startedAt < QUICK_DEATH_MS;
      mailLog(
        log,
        'daemon',
        { state: 'session-process', action: 'died', pid: worker.process.pid, code, signal },
        'a session process died; its sessions were cut, nothing they had not been answered 250 for was acknowledged; starting another',
        'error',
      );
      setTimeout(
        () => {
          if (stopping) return;
          const next = fork();
          mailLog(log, 'daemon', { state: 'session-process', action: 'restarted', pid: next.process.pid, replaces: worker.process.pid });
        },
        quick ? RESTART_BACKOFF_MS : 0,
      );
    });
    return worker;
  };

  async function answer(worker: Worker, id: number, call: Call): Promise<void> {
    try {
      let value: unknown = null;
      if (call.kind === 'enqueue') await services.enqueue(call.message);
      else if (call.kind === 'authenticate') {
        if (!services.authenticate) throw new Error('AUTH asked of a primary without submission listeners (a bug)');
        value = await services.authenticate(call.request);
      } else if (call.kind === 'hello') value = { ticketSecret: services.ticketSecret, processes: count } satisfies Hello;
      else value = services.admit(call.role, call.ip, worker.id);
      send(worker, { t: 'answer', id, ok: true, value });
    } catch (err) {
      send(worker, { t: 'answer', id, ok: false, error: toWireError(err) });
    }
  }

  // The first process binds the listeners (through the primary): a bad address fails the start-up.
  const listening = await new Promise<Record<Role, ListenAddress[]>>((resolve, reject) => {
    first = (n) => {
      first = undefined;
      if (n.kind === 'failed') reject(new Error(n.message));
      else resolve(n.listening);
    };
    const w = fork();
    w.once('exit', (code, signal) =>
      first?.({ kind: 'failed', message: `the first session process exited (code ${code}, signal ${signal}) before it listened` }),
    );
  }).catch((err: unknown) => {
    stopping = true;
    for (const w of workers.values()) w.process.kill('SIGKILL');
    throw err;
  });
  const ready: Promise<void>[] = [];
  for (let i = 1; i < count; i++) {
    const w = fork();
    ready.push(new Promise<void>((resolve) => w.once('message', () => resolve())));
  }
  await Promise.all(ready);
  mailLog(log, 'daemon', { state: 'session-process', action: 'all-listening', processes: count, pids: [...workers.values()].map((w) => w.process.pid) });

  return {
    listening,
    async reload() {
      await Promise.all(
        [...workers.values()].map(
          (w) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(done, 10_000);
              function done() {
                clearTimeout(timer);
                reloading.delete(w.id);
                resolve();
              }
              reloading.set(w.id, done);
              send(w, { t: 'reload' });
            }),
        ),
      );
    },
    certs(acme) {
      for (const w of workers.values()) send(w, { t: 'certs', acme });
    },
    storage(refusingUntil) {
      for (const w of workers.values()) send(w, { t: 'storage', refusingUntil });
    },
    async stop(graceMs) {
      stopping = true;
      await Promise.all(
        [...workers.values()].map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              // A process that does not finish within the grace period (+ 5 s) is killed.
              const timer = setTimeout(() => w.process.kill('SIGKILL'), graceMs + 5000);
              w.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              send(w, { t: 'stop', graceMs });
            }),
        ),
      );
    },
    pids: () => [...workers.values()].flatMap((w) => (w.process.pid === undefined ? [] : [w.process.pid])),
  };
}
