// The benchmark's measurements, each run the same way against Sealpost and against Postfix:
// inbound acceptance (load.ts, plaintext or STARTTLS) until the queue is empty,
// outbound delivery of a filled queue to smtp-sink, and Sealpost's memory with idle sessions.
// Side effects: load-generator and smtp-sink processes, sockets, polling of /proc and queues.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../test/helpers/proc.ts';
import type { Scope } from '../test/helpers/tmp.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { type IdleSessions, type LoadResult, openIdle, runStreamed } from './load.ts';
import { SINK_DOMAIN, startSink } from './postfix.ts';
import { sampleMemory } from './proc.ts';
import type { IdleFigure, SideFigures } from './report.ts';

/** One MTA as the scenarios see it. */
export interface Target {
  name: string;
  port: number;
  /** The local mailbox inbound messages go to. */
  rcpt: string;
  cpuMs(): number;
  /** Sealpost: CPU time of the event-loop thread (the rest is libuv's thread pool: fs, fsync). */
  loopCpuMs?(): number;
  /** The memory figure: Pss summed over the server's processes (and so its threads), KiB. */
  memoryKiB(): number;
  /** Sealpost: VmRSS summed over its processes, KiB, the second figure (notes.rss…KiB). */
  rssKiB?(): number;
  /** Messages (Postfix) or recipients (Sealpost; one per message here) not delivered yet. */
  open(): number;
  /** Of those, how many have been tried and deferred. */
  deferred(): number;
  /** Messages in the local mailbox. */
  delivered(): number;
  /** Deliver deferred mail now: `queue retry --all` or `postqueue -f`. */
  release(): Promise<void>;
  /** Waits until a release would be tried at once (not timed; OpenSMTPD: its route to the sink re-enabled). */
  readyToRelease?(): Promise<void>;
}

export interface Shape {
  sessions: number;
  size: number;
  messages: number;
}

interface Sent {
  ms: number;
  notes?: Record<string, unknown>;
}

/** Generous bounds: a run that takes longer than this is broken, not slow. */
const boundMs = (messages: number) => 60_000 + messages * 20;

/** Loads `t` with `send`, then waits until every message is in the Maildir. */
async function inboundSide(t: Target, shape: Shape, send: () => Promise<Sent>): Promise<SideFigures> {
  const before = t.delivered();
  const cpu0 = t.cpuMs();
  const loop0 = t.loopCpuMs?.() ?? 0;
  try {
    const sent = await send();
    const loadEnd = performance.now();
    await waitFor(() => t.open() === 0 && t.delivered() >= before + shape.messages, {
      timeoutMs: boundMs(shape.messages),
      what: `${shape.messages} messages in ${t.name}'s Maildir`,
    });
    // From the load's own start (a child process's start-up is not the server's time).
    const drainMs = sent.ms + (performance.now() - loadEnd);
    const notes = { ...sent.notes, ...(t.loopCpuMs ? { loopCpuMs: t.loopCpuMs() - loop0 } : {}) };
    return { messages: shape.messages, acceptMs: sent.ms, drainMs, cpuMs: t.cpuMs() - cpu0, notes };
  } catch (err) {
    // Let what was accepted drain, so the next case starts from an empty queue.
    await waitFor(() => t.open() === 0, { timeoutMs: boundMs(shape.messages), what: `${t.name}'s queue to empty` }).catch(() => undefined);
    return { messages: shape.messages, drainMs: 0, cpuMs: 0, error: (err as Error).message.split('\n')[0] ?? 'failed' };
  }
}

/**
 * load.ts (a separate process): N messages of S bytes over C sessions, a new connection per
 * message, plaintext or STARTTLS at `version`. Not smtp-source for the plain case: after QUIT it
 * waits for the server to close, and Exim waits up to 200 ms for the client to close first, so
 * every Exim session would end in that timeout; load.ts closes on the 221, as MTAs do.
 */
function load(root: string, t: Target, shape: Shape, version?: 'TLSv1.2' | 'TLSv1.3', resume = false, groups?: string): Promise<SideFigures> {
  return inboundSide(t, shape, () => send(root, t.port, t.rcpt, shape, version, resume, groups));
}

/** Runs load.ts once: `shape` to `rcpt` at 127.0.0.1:port; every message must be answered 250. */
async function send(root: string, port: number, rcpt: string, shape: Shape, version?: 'TLSv1.2' | 'TLSv1.3', resume = false, groups?: string): Promise<Sent> {
  const args = ['--disable-warning=ExperimentalWarning', path.join(root, 'bench', 'load.ts'), '--port', String(port), '--to', rcpt];
  args.push('--sessions', String(shape.sessions), '--messages', String(shape.messages), '--size', String(shape.size));
  if (version) args.push('--starttls', version);
  if (resume) args.push('--resume');
  if (groups) args.push('--groups', groups);
  const r = await run(process.execPath, args, { timeoutMs: boundMs(shape.messages) });
  if (r.code !== 0) throw new Error(`bench-load: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  const result = JSON.parse(r.stdout) as LoadResult;
  if (result.errors > 0) throw new Error(`${result.errors} messages failed; first: ${result.firstError ?? ''}`);
  const resumed = resume ? { resumed: result.resumed ?? 0 } : {};
  // One entry per run (a list: the rounds' percentiles are not added up).
  const eod = result.eodMs ? { eodMs: [result.eodMs] } : {};
  return { ms: result.ms, notes: { ...(result.tls ? { tls: result.tls } : {}), ...resumed, ...eod, clientCpuMs: Math.round(result.clientCpuMs) } };
}

/** Plain SMTP: N messages of S bytes over C sessions, a new connection per message. */
export function inboundPlain(root: string, t: Target, shape: Shape): Promise<SideFigures> {
  return load(root, t, shape);
}

/**
 * The same with STARTTLS at exactly `version`; `resume`: each session offers its previous TLS
 * session; `groups`: the key exchange groups the client offers (load.ts's default: X25519).
 */
export function inboundTls(root: string, t: Target, shape: Shape, version: 'TLSv1.2' | 'TLSv1.3', resume = false, groups?: string): Promise<SideFigures> {
  return load(root, t, shape, version, resume, groups);
}

export interface OutboundRun {
  /** The checkout (bench/load.ts fills the queue). */
  root: string;
  scope: Scope;
  sinkPort: number;
  /** Where smtp-sink writes its counters. */
  sinkOut: string;
  /** Read the memory figure once more this long after the queue is empty and the sink stopped (notes.memoryAfterKiB). */
  settleMs?: number;
}

/**
 * Fills the queue through SMTP while the sink is down (every message is tried once and deferred,
 * as after an outage), then starts smtp-sink, releases the queue and times it until empty.
 */
export async function outbound(t: Target, shape: Shape, o: OutboundRun): Promise<SideFigures> {
  const bound = boundMs(shape.messages);
  try {
    const memoryStart = t.memoryKiB();
    const rssStart = t.rssKiB?.();
    const fill0 = performance.now();
    const fillMemory = sampleMemory(() => t.memoryKiB(), 200);
    const fillRss = t.rssKiB && sampleMemory(t.rssKiB, 200);
    await send(o.root, t.port, `bench@${SINK_DOMAIN}`, shape);
    await waitFor(() => t.open() === shape.messages && t.deferred() >= shape.messages, {
      timeoutMs: bound,
      intervalMs: 200,
      what: `${shape.messages} deferred messages in ${t.name}'s queue`,
    });
    const fillMs = performance.now() - fill0;
    const fillPeak = fillMemory.stop();
    const fillRssPeak = fillRss?.stop();
    await t.readyToRelease?.();
    const sink = await startSink(o.scope, o.sinkPort, o.sinkOut);
    const memoryBefore = t.memoryKiB();
    const rssBefore = t.rssKiB?.();
    const memory = sampleMemory(() => t.memoryKiB(), 200);
    const rss = t.rssKiB && sampleMemory(t.rssKiB, 200);
    const cpu0 = t.cpuMs();
    const loop0 = t.loopCpuMs?.() ?? 0;
    const t0 = performance.now();
    await t.release();
    await waitFor(() => t.open() === 0, { timeoutMs: bound, intervalMs: 50, what: `${t.name}'s queue to empty` });
    const drainMs = performance.now() - t0;
    const cpuMs = t.cpuMs() - cpu0;
    const loopCpuMs = t.loopCpuMs ? { loopCpuMs: t.loopCpuMs() - loop0 } : {};
    const peak = memory.stop();
    const rssPeak = rss?.stop();
    const received = sink.messages();
    await sink.stop();
    const after = o.settleMs === undefined ? {} : { memoryAfterKiB: await settled(t, o.settleMs), ...(t.rssKiB ? { rssAfterKiB: t.rssKiB() } : {}) };
    const rssNotes =
      rssStart === undefined ? {} : { rssStartKiB: rssStart, rssFillPeakKiB: fillRssPeak?.peakKiB, rssBeforeKiB: rssBefore, rssPeakKiB: rssPeak?.peakKiB };
    const notes = {
      fillMs: Math.round(fillMs),
      sinkReceived: received,
      memoryStartKiB: memoryStart,
      memoryFillPeakKiB: fillPeak.peakKiB,
      memoryBeforeKiB: memoryBefore,
      memoryPeakKiB: peak.peakKiB,
      ...rssNotes,
      ...after,
      ...loopCpuMs,
    };
    if (received < shape.messages)
      return { messages: shape.messages, drainMs, cpuMs, notes, error: `the sink received ${received} of ${shape.messages} messages` };
    return { messages: shape.messages, drainMs, cpuMs, notes };
  } catch (err) {
    return { messages: shape.messages, drainMs: 0, cpuMs: 0, error: (err as Error).message.split('\n')[0] ?? 'failed' };
  }
}

/**
 * Pss and VmRSS with 0, then each count of idle sessions (cumulative), each read `settleMs` after
 * the sessions were opened (the daemon idle, as for the "after" figures: its collection after the
 * start-up or the burst of connections done).
 */
export async function idleMemory(port: number, t: Pick<Target, 'memoryKiB' | 'rssKiB'>, counts: readonly number[], settleMs: number): Promise<IdleFigure[]> {
  const figures: IdleFigure[] = [];
  const held: IdleSessions[] = [];
  let open = 0;
  const figure = (connections: number): IdleFigure => ({ connections, pssKiB: t.memoryKiB(), rssKiB: t.rssKiB?.() ?? 0 });
  try {
    await sleep(settleMs);
    figures.push(figure(0));
    for (const target of counts) {
      held.push(await openIdle('127.0.0.1', port, target - open));
      open = target;
      await sleep(settleMs);
      figures.push(figure(open));
    }
  } finally {
    for (const h of held) h.close();
  }
  return figures;
}

/** The memory figure after `ms` of quiet (the daemon idle: no load, no queue). */
async function settled(t: Target, ms: number): Promise<number> {
  await sleep(ms);
  return t.memoryKiB();
}

export interface LargeShape {
  sessions: number;
  /** Body bytes per message. */
  size: number;
}

export interface LargeFigures {
  /** Pss. */
  beforeKiB: number;
  peakKiB: number;
  afterKiB: number;
  /** VmRSS, when the target reads it. */
  rss?: { beforeKiB: number; peakKiB: number; afterKiB: number };
  /** Until the last message was answered 250. */
  acceptMs: number;
  /** Until the last was in the Maildir. */
  drainMs: number;
}

/**
 * `sessions` sessions at once, each sending one message of `size` bytes to the local mailbox, the
 * bodies generated while they are sent (runStreamed). Memory before, its peak until every message
 * is in the Maildir, and after `settleMs` with the connections closed.
 */
export async function largeMessages(t: Target, shape: LargeShape, settleMs: number): Promise<LargeFigures> {
  const bound = 120_000 + shape.sessions * 10_000;
  const delivered0 = t.delivered();
  const beforeKiB = t.memoryKiB();
  const rssBefore = t.rssKiB?.();
  const memory = sampleMemory(() => t.memoryKiB(), 100);
  const rss = t.rssKiB && sampleMemory(t.rssKiB, 100);
  try {
    const t0 = performance.now();
    const r = await runStreamed({
      host: '127.0.0.1',
      port: t.port,
      sessions: shape.sessions,
      size: shape.size,
      from: 'load@load.test',
      to: t.rcpt,
      helo: 'load.test',
      timeoutMs: bound,
    });
    const acceptMs = performance.now() - t0;
    if (r.errors > 0) throw new Error(`${r.errors} of ${shape.sessions} large messages failed; first: ${r.firstError ?? ''}`);
    await waitFor(() => t.open() === 0 && t.delivered() >= delivered0 + shape.sessions, {
      timeoutMs: bound,
      intervalMs: 100,
      what: `${shape.sessions} large messages in ${t.name}'s Maildir`,
    });
    const drainMs = performance.now() - t0;
    const peakKiB = memory.stop().peakKiB;
    const rssPeak = rss?.stop().peakKiB;
    const afterKiB = await settled(t, settleMs);
    const rssFigures =
      rssBefore !== undefined && rssPeak !== undefined && t.rssKiB ? { rss: { beforeKiB: rssBefore, peakKiB: rssPeak, afterKiB: t.rssKiB() } } : {};
    return { beforeKiB, peakKiB, afterKiB, acceptMs, drainMs, ...rssFigures };
  } finally {
    memory.stop();
    rss?.stop();
  }
}
