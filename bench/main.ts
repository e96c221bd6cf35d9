// `bench/bench`: Sealpost against Postfix on this machine, in one run, loopback only (started
// inside ../shared/bin/netless by bench/bench). Plans the cases, starts the peers, runs the
// scenarios, prints the side-by-side table and writes the JSON report. Side effects: a work
// directory under the temp dir, daemons and load generators (all stopped at the end or on a
// signal), a JSON file. Bounded: a watchdog ends the run after --max-minutes.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { selfSignedCert } from '../test/helpers/certs.ts';
import { startDnsServer } from '../test/helpers/dns-server.ts';
import { freePort } from '../test/helpers/ports.ts';
import { run } from '../test/helpers/proc.ts';
import { openServerGroups, type ServerGroup } from './cgroup.ts';
import { storeBench } from './nodes.ts';
import { PEER_NAMES, type PeerName, type RunningPeer, startPeers } from './peers/index.ts';
import { POSTFIX_DOMAIN, POSTFIX_MAILBOX, type PostfixPeer, SINK_DOMAIN, startReceivingPostfix, startRelayingPostfix } from './postfix.ts';
import { type CpuProfile, formatSummary, summarizeProfile, type Window } from './profile.ts';
import { acrossCases, formatCaseAcross, type ProfiledDaemon } from './profiles.ts';
import { addUp, type BenchReport, type CaseResult, formatTable, type SideFigures, TLS_KEYS, type TlsKey } from './report.ts';
import { roleCpuSince } from './roles.ts';
import { idleMemory, inboundPlain, inboundTls, largeMessages, outbound, type Shape, type Target } from './scenarios.ts';
import { SEALPOST_DOMAIN, SEALPOST_MAILBOX, type SealpostDaemon, type SealpostOptions, startSealpost } from './sealpost.ts';

const USAGE = `usage: bench/bench [--quick] [--out FILE] [--only inbound,starttls,outbound,memory]
                    [--peers postfix,exim,opensmtpd,chasquid,haraka] [--cpus N]
                    [--sessions 1,20] [--sizes 1024,10240] [--messages N] [--outbound-messages N] [--rounds R]
                    [--drain-messages N] [--profile DIR] [--processes N|auto[,N…]] [--tls-keys rsa,ecdsa]
                    [--keep] [--max-minutes M]
  --quick      a smoke run: few messages per case (figures are noisy)
  --peers      the servers Sealpost is measured against (default: all; Postfix always runs)
  --cpus       run the servers on N CPUs (a cpuset; the load generators on the others); default: all,
               plus the scaling row (the C=20 case again with the servers on one CPU)
  --out        where to write the JSON report (default: a new file in the temp dir)
  --only       scenarios to run (default: all); --only memory runs the memory rows alone (≈ 2 min)
  --drain-messages  the memory section's queue drain (default 10000, --quick too: the target is for that size)
  --rounds     inbound and STARTTLS cases: runs of each side, alternating who goes first, added up (default 2)
  --profile    run the Sealpost daemons under node --cpu-prof, every process ([server] processes) and
               thread (checks, Maildir writers); profiles and summaries go to DIR, and each inbound and
               STARTTLS case is summarized per role (primary, session N; event loop, checks, writers):
               the profile's busy ms/msg, /proc CPU ms/msg, self time grouped by kind of work
               (profiling slows Sealpost down: do not compare those figures)
  --processes  the Sealpost daemons run with [server] processes = N ("auto": one per CPU); default 1.
               A list (1,2,auto): the daemons run with the first, and the busiest inbound case once
               more on a daemon of each further count, against the same Postfix (the scaling line)
  --tls-keys   the STARTTLS rows for each certificate key: rsa (RSA-2048), ecdsa (ECDSA P-256; the
               load generator offers X25519:P-256), Sealpost and Postfix both (default rsa; the other
               peers only with the first key)
  --keep       keep the work directory (configs, logs, queues) for a post-mortem
       bench/bench --store postgres --nodes 1|2|3 [--quick] [--messages N] [--outbound-messages N] [--out FILE]
  --store      Sealpost on PostgreSQL with N nodes (127.0.0.11-13) against Sealpost on SQLite on one
               node: inbound C=20 and outbound to smtp-sink, msg/s, the ratio and CPU per message
               of every process (the other peers do not run)`;

/** Collects cleanups (a test Scope for the helpers) and runs them last-first. */
class Cleanup {
  private readonly fns: (() => unknown)[] = [];
  after(fn: () => unknown): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    while (this.fns.length > 0) {
      try {
        await this.fns.pop()?.();
      } catch (err) {
        process.stderr.write(`bench: cleanup: ${(err as Error).message}\n`);
      }
    }
  }
}

/** Quiet time before the "after" memory figures: the daemon idle, nothing queued, connections closed. */
const MEMORY_SETTLE_MS = 5000;

const list = (v: string | undefined) =>
  v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

function plan(
  quick: boolean,
  v: { sessions?: string; sizes?: string; messages?: string; 'outbound-messages'?: string; rounds?: string; 'drain-messages'?: string },
) {
  const sessions = (list(v.sessions) ?? ['1', '20']).map(Number);
  const sizes = (list(v.sizes) ?? ['1024', '10240']).map(Number);
  // Several seconds per case at the rates of this machine class (≈ 1.5–3 ms per message at C=1).
  const n = (c: number) => Number(v.messages ?? (quick ? (c === 1 ? 100 : 300) : c === 1 ? 1500 : 3000));
  const inbound: Shape[] = sessions.flatMap((c) => sizes.map((size) => ({ sessions: c, size, messages: n(c) })));
  const tls: Shape = { sessions: 20, size: 10240, messages: Number(v.messages ?? (quick ? 200 : 1500)) };
  const outN = v['outbound-messages'] ? Number(v['outbound-messages']) : undefined;
  const outboundShapes: Shape[] = quick
    ? [{ sessions: 20, size: 10240, messages: outN ?? 500 }]
    : [
        { sessions: 20, size: 10240, messages: outN ?? 10_000 },
        { sessions: 20, size: 1024, messages: outN ?? 5000 },
      ];
  // Inbound cases run in rounds (see inRounds); one round is a smoke run's.
  const rounds = Number(v.rounds ?? (quick ? 1 : 2));
  // Memory (issue 11): a 10,000-message drain under 200 MiB, 50 × 49 MiB at once (within the
  // default connections_per_ip 50 and message_size 50 MiB) under 400 MB; each back within 20 %.
  const drain: Shape = { sessions: 20, size: 10240, messages: Number(v['drain-messages'] ?? 10_000) };
  const large = { sessions: 50, size: 49 * 1024 * 1024 };
  return { inbound, tls, outbound: outboundShapes, idle: [1, 100, 1000], drain, large, settleMs: MEMORY_SETTLE_MS, rounds };
}

/** The monotonic clock in µs, the clock of the profiles' timestamps in every process. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Runs Sealpost's side of a case and notes, beside its figures, which daemon it was, when it ran
 * (to cut the profiles to it) and the CPU of each of the daemon's processes and threads over it.
 */
async function across(daemon: string, d: SealpostDaemon, run: () => Promise<SideFigures>): Promise<SideFigures> {
  const before = d.roleCpu();
  const start = monotonicUs();
  const r = await run();
  const window: Window = [start, monotonicUs()];
  const roleCpuMs = roleCpuSince(before, d.roleCpu());
  return r.error ? r : { ...r, notes: { ...r.notes, daemon, windows: [window], roleCpuMs } };
}

/** The key exchange groups load.ts offers per certificate key (ECDSA: X25519 and P-256, as MTAs do). */
const GROUPS: Record<TlsKey, string> = { rsa: 'X25519', ecdsa: 'X25519:P-256' };

/** --processes: "auto" or a whole number from 1 to 256 (src/config/sections.ts), else undefined. */
function parseProcesses(v: string): number | 'auto' | undefined {
  if (v === 'auto') return v;
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && n <= 256 ? n : undefined;
}

function sealpostTarget(d: SealpostDaemon, group?: ServerGroup): Target {
  group?.adopt(d.pid);
  return {
    name: 'sealpost',
    port: d.port,
    rcpt: SEALPOST_MAILBOX,
    cpuMs: group ? () => group.cpuMs() : () => d.cpuMs(),
    loopCpuMs: () => d.loopCpuMs(),
    memoryKiB: () => d.pssKiB(),
    rssKiB: () => d.rssKiB(),
    open: () => d.openRecipients(),
    deferred: () => d.deferredRecipients(),
    delivered: () => d.maildirCount(),
    release: async () => {
      await d.retryAll();
    },
  };
}

function postfixTarget(p: PostfixPeer, group?: ServerGroup): Target {
  group?.adopt(p.instance.masterPid);
  return {
    name: 'postfix',
    port: p.port,
    rcpt: POSTFIX_MAILBOX,
    cpuMs: group ? () => group.cpuMs() : () => p.cpuMs(),
    memoryKiB: () => p.pssKiB(),
    open: () => p.queued(),
    deferred: () => p.deferred(),
    delivered: () => p.maildirCount(),
    release: () => p.flush(),
  };
}

type Runs = Record<string, () => Promise<SideFigures>>;

/** Runs every server's side of a case once, round `index` starting with a different one, so slow drift affects all alike. */
async function each(index: number, runs: Runs): Promise<Record<string, SideFigures>> {
  const names = Object.keys(runs);
  const out: Record<string, SideFigures> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[(index + i) % names.length] as string;
    out[name] = await (runs[name] as () => Promise<SideFigures>)();
  }
  return out;
}

/**
 * Runs a case `rounds` times, each round with another server first, and adds the rounds up (the
 * rate is all messages over all the time): a few seconds of other load on this shared machine
 * then weighs on every side instead of deciding the ratio.
 */
async function inRounds(rounds: number, runs: Runs): Promise<Record<string, SideFigures>> {
  const all: Record<string, SideFigures>[] = [];
  for (let r = 0; r < rounds; r++) all.push(await each(r, runs));
  return Object.fromEntries(Object.keys(runs).map((name) => [name, addUp(all.map((x) => x[name] as SideFigures))]));
}

/** A case's result from every server's figures: Sealpost, Postfix, and the others by name. */
function sides(r: Record<string, SideFigures>): { sealpost: SideFigures; postfix: SideFigures; others?: Record<string, SideFigures> } {
  const { sealpost, postfix, ...others } = r;
  return { sealpost: sealpost as SideFigures, postfix: postfix as SideFigures, ...(Object.keys(others).length > 0 ? { others } : {}) };
}

async function summarizeProfiles(dir: string, root: string): Promise<string[]> {
  const out: string[] = [];
  for (const file of (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile;
    const text = formatSummary(summarizeProfile(profile, root, 15));
    await writeFile(path.join(dir, `${file}.txt`), `${text}\n`);
    out.push(`${path.join(dir, file)}\n${text}`);
  }
  return out;
}

type Plan = ReturnType<typeof plan>;

/**
 * The memory section's queue drain, on a daemon of its own (its start figure owes nothing to
 * earlier cases): Sealpost alone; Postfix's Pss comes from the outbound case of the same shape.
 */
async function memoryDrain(
  cleanup: Cleanup,
  root: string,
  report: BenchReport,
  p: Plan,
  o: { dir: string; dns: string; sinkPort: number; sinkOut: string; processes?: number | 'auto' },
  say: (text: string) => void,
): Promise<void> {
  const shape = p.drain;
  say(`queue drain: ${shape.messages} messages of ${shape.size} B`);
  const { processes } = o;
  const sealpost = await startSealpost(cleanup, root, {
    dir: o.dir,
    port: await freePort(),
    dns: o.dns,
    sinkPort: o.sinkPort,
    relay: true,
    ...(processes ? { processes } : {}),
  });
  const r = await outbound(sealpostTarget(sealpost), shape, { root, scope: cleanup, sinkPort: o.sinkPort, sinkOut: o.sinkOut, settleMs: p.settleMs });
  await sealpost.stop();
  if (r.error) {
    (report.memory.errors ??= []).push(`queue drain: ${r.error}`);
    return;
  }
  const note = (k: string) => Number(r.notes?.[k] ?? 0);
  const same = report.cases.find((c) => c.scenario === 'outbound' && c.messages === shape.messages && c.size === shape.size && !c.postfix.error);
  report.memory.drain = {
    messages: shape.messages,
    size: shape.size,
    sealpostStartKiB: note('memoryStartKiB'),
    sealpostFillPeakKiB: note('memoryFillPeakKiB'),
    sealpostBeforeKiB: note('memoryBeforeKiB'),
    sealpostPeakKiB: note('memoryPeakKiB'),
    sealpostAfterKiB: note('memoryAfterKiB'),
    settleMs: p.settleMs,
    sealpostRss: {
      startKiB: note('rssStartKiB'),
      fillPeakKiB: note('rssFillPeakKiB'),
      beforeKiB: note('rssBeforeKiB'),
      peakKiB: note('rssPeakKiB'),
      afterKiB: note('rssAfterKiB'),
    },
    ...(same ? { postfixPeakPssKiB: Number(same.postfix.notes?.['memoryPeakKiB'] ?? 0) } : {}),
  };
}

/** The memory section's large messages, on a daemon of its own with the default [limits]. */
async function memoryLarge(
  cleanup: Cleanup,
  root: string,
  report: BenchReport,
  p: Plan,
  o: { dir: string; dns: string; sinkPort: number; processes?: number | 'auto' },
  say: (text: string) => void,
): Promise<void> {
  say(`large messages: ${p.large.sessions} sessions × ${p.large.size / 1024 / 1024} MiB at once`);
  const sealpost = await startSealpost(cleanup, root, {
    ...(o.processes ? { processes: o.processes } : {}),
    dir: o.dir,
    port: await freePort(),
    dns: o.dns,
    sinkPort: o.sinkPort,
    relay: false,
    defaultLimits: true,
  });
  try {
    await sleep(1000);
    const f = await largeMessages(sealpostTarget(sealpost), p.large, p.settleMs);
    report.memory.large = {
      ...p.large,
      sealpostBeforeKiB: f.beforeKiB,
      sealpostPeakKiB: f.peakKiB,
      sealpostAfterKiB: f.afterKiB,
      settleMs: p.settleMs,
      acceptMs: Math.round(f.acceptMs),
      drainMs: Math.round(f.drainMs),
      ...(f.rss ? { sealpostRss: f.rss } : {}),
    };
  } catch (err) {
    (report.memory.errors ??= []).push(`large messages: ${(err as Error).message.split('\n')[0] ?? 'failed'}`);
  } finally {
    await sealpost.stop();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      sessions: { type: 'string' },
      sizes: { type: 'string' },
      messages: { type: 'string' },
      'outbound-messages': { type: 'string' },
      rounds: { type: 'string' },
      'drain-messages': { type: 'string' },
      profile: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'max-minutes': { type: 'string' },
      peers: { type: 'string' },
      cpus: { type: 'string' },
      store: { type: 'string' },
      nodes: { type: 'string' },
      processes: { type: 'string' },
      'tls-keys': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const root = path.resolve(import.meta.dirname, '..');
  const only = new Set(list(values.only) ?? ['inbound', 'starttls', 'outbound', 'memory']);
  const p = plan(values.quick, values);
  const cleanup = new Cleanup();
  const peerNames = (list(values.peers) ?? ['postfix', ...PEER_NAMES]).filter((n) => n !== 'postfix');
  const unknown = peerNames.filter((n) => !(PEER_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown peer ${unknown.join(', ')}; the peers are postfix, ${PEER_NAMES.join(', ')}\n`);
    return 64;
  }
  const totalCpus = os.cpus().length;
  const cpus = values.cpus ? Number(values.cpus) : totalCpus;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > totalCpus) {
    process.stderr.write(`bench: --cpus must be a whole number from 1 to ${totalCpus}\n`);
    return 64;
  }
  const processList = (list(values.processes) ?? []).map(parseProcesses);
  if (values.processes !== undefined && (processList.length === 0 || processList.some((n) => n === undefined))) {
    process.stderr.write('bench: --processes takes "auto" or whole numbers from 1 to 256, e.g. 2 or 1,2\n');
    return 64;
  }
  // The first for every daemon; each further one for the scaling with [server] processes.
  const [processes, ...moreProcesses] = processList as (number | 'auto')[];
  const tlsKeys = (list(values['tls-keys']) ?? ['rsa']) as TlsKey[];
  if (tlsKeys.length === 0 || tlsKeys.some((k) => !TLS_KEYS.includes(k))) {
    process.stderr.write(`bench: --tls-keys takes ${TLS_KEYS.join(', ')}\n`);
    return 64;
  }
  /** Every Sealpost daemon of the run: [server] processes when --processes says. */
  const daemon = processes === undefined ? {} : { processes };
  /** The inbound daemons, by name: their roles name the processes of their profiles. */
  const daemons = new Map<string, ProfiledDaemon>();
  const maxMs = Number(values['max-minutes'] ?? (values.quick ? 15 : 60)) * 60_000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${maxMs / 60_000} minutes; stopping\n`);
    void cleanup.run().finally(() => process.exit(1));
  }, maxMs);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanup.run().finally(() => process.exit(130)));
  }

  const work = await mkdtemp(path.join(os.tmpdir(), 'sealpost-bench-'));
  await chmod(work, 0o755);
  if (!values.keep) cleanup.after(() => rm(work, { recursive: true, force: true }));
  if (values.store !== undefined) {
    try {
      return await storeBench(cleanup, root, work, values, (text) => process.stderr.write(`bench: ${text}\n`));
    } finally {
      clearTimeout(watchdog);
      await cleanup.run();
    }
  }
  const profileDir = values.profile ? path.resolve(values.profile) : undefined;
  const nodeOptions = (name: string) => (profileDir ? `--cpu-prof --cpu-prof-dir=${path.join(profileDir, name)}` : undefined);
  const postfixVersion = (await run('postconf', ['-d', '-h', 'mail_version'])).stdout.trim();
  const groups = openServerGroups(cpus);
  if (groups) cleanup.after(() => groups.close());
  let groupSeq = 0;
  const groupFor = (name: string) => groups?.group(`${name}-${++groupSeq}`);
  const report: BenchReport = {
    peers: {},
    cpuAccounting: groups ? `cgroup ${groups.kind}, servers on ${cpus} of ${totalCpus} CPUs` : 'no (CPU per process tree)',
    startedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, kernel: os.release(), node: process.versions.node, postfix: postfixVersion, loadavgStart: os.loadavg(), loadavgEnd: [] },
    options: {
      quick: values.quick,
      only: [...only],
      plan: p,
      sealpostNodeOptions: profileDir ? 'profiling' : '',
      processes: processList.length > 0 ? processList : [1],
      tlsKeys,
    },
    cases: [],
    memory: { idle: [] },
    errors: [],
    profiles: [],
  };
  const say = (text: string) => process.stderr.write(`bench: ${text}\n`);
  const done = (result: CaseResult) => {
    const c = processes !== undefined && result.processes === undefined ? { ...result, processes } : result;
    report.cases.push(c);
    const f = (x: CaseResult['sealpost']) =>
      x.error ? `error: ${x.error}` : `${Math.round((x.messages * 1000) / ((c.scenario === 'outbound' ? x.drainMs : x.acceptMs) ?? x.drainMs))} msg/s`;
    const rest = Object.entries(c.others ?? {}).map(([n, x]) => `, ${n} ${f(x)}`);
    say(
      `  ${c.scenario} ${c.label}${c.tlsKey ? ` ${c.tlsKey}` : ''} C=${c.sessions} S=${c.size} N=${c.messages}${c.cpus ? ` (${c.cpus} CPU)` : ''}: Sealpost ${f(c.sealpost)}, Postfix ${f(c.postfix)}${rest.join('')}`,
    );
  };

  try {
    // One certificate for every server per key type (RSA-2048, the usual MX certificate; ECDSA P-256).
    const certs = {} as Record<TlsKey, { certFile: string; keyFile: string }>;
    for (const key of tlsKeys) {
      const cert = await selfSignedCert({ names: [`mx.${SEALPOST_DOMAIN}`, `bench-in.${POSTFIX_DOMAIN}`], keyType: key === 'rsa' ? 'rsa-2048' : 'ecdsa-p256' });
      certs[key] = { certFile: path.join(work, `cert-${key}.pem`), keyFile: path.join(work, `key-${key}.pem`) };
      await writeFile(certs[key].certFile, cert.chainPem);
      await writeFile(certs[key].keyFile, cert.keyPem, { mode: 0o600 });
    }
    const firstKey = tlsKeys[0] as TlsKey;
    const certFiles = certs[firstKey];
    const zone = new Map([
      [SINK_DOMAIN, { MX: [{ preference: 10, exchange: `mx.${SINK_DOMAIN}` }] }],
      [`mx.${SINK_DOMAIN}`, { A: ['127.0.0.1'] }],
    ]);
    // On port 53 of the private namespace, where resolv.conf points: the peers that look up their
    // clients or senders (OpenSMTPD, chasquid, Haraka) get answers at once, as from a local
    // resolver, instead of waiting out a resolver that is not there.
    const dns = await startDnsServer(zone, '127.0.0.1', 53).catch(() => startDnsServer(zone));
    cleanup.after(() => dns.close());
    // Sealpost's outbound port is fixed per daemon; Postfix's relayhost too: one sink port each.
    const sealpostSink = await freePort();
    const postfixSink = await freePort();
    /**
     * A receiving Sealpost of the inbound and STARTTLS cases, named `name`: with --profile its
     * profiles go to DIR/name, and its processes are named by role for the per-role summaries.
     */
    const startInbound = async (name: string, options: Pick<SealpostOptions, 'cert' | 'authChecks' | 'processes'>): Promise<SealpostDaemon> => {
      const d = await startSealpost(cleanup, root, {
        dir: path.join(work, `sealpost-${name}`),
        port: await freePort(),
        dns: dns.address,
        sinkPort: sealpostSink,
        relay: false,
        ...daemon,
        ...options,
        ...(nodeOptions(name) ? { nodeOptions: nodeOptions(name) } : {}),
      });
      daemons.set(name, { roles: () => d.roles(), ...(profileDir ? { profileDir: path.join(profileDir, name) } : {}) });
      return d;
    };

    // The other peers, each started once for the run: receiving for its own domain, relaying to its own sink port.
    let peers = new Map<PeerName, RunningPeer>();
    if (peerNames.length > 0 && (only.has('inbound') || only.has('starttls') || only.has('outbound'))) {
      say(`starting the other peers: ${peerNames.join(', ')}`);
      peers = await startPeers(cleanup, root, peerNames as PeerName[], { work, cert: certFiles, groups, say });
      for (const [name, peer] of peers) (report.peers ??= {})[name] = peer.server.version;
    }
    /** The peers' runs of a case, for those that can run it. */
    const peerRuns = (can: (p: RunningPeer) => boolean, run: (t: Target, p: RunningPeer) => Promise<SideFigures>): Runs =>
      Object.fromEntries([...peers].filter(([, p]) => can(p)).map(([name, p]) => [name, () => run(p.server.target, p)]));

    if (only.has('inbound') || only.has('starttls')) {
      say('starting Sealpost and a receiving Postfix (Maildir delivery on both)');
      const sealpost = await startInbound('inbound', { cert: certFiles });
      const postfix = await startReceivingPostfix(cleanup, await freePort(), certFiles);
      const s = sealpostTarget(sealpost, groupFor('sealpost'));
      const pf = postfixTarget(postfix, groupFor('postfix'));
      const plainRuns = (shape: Shape): Runs => ({
        sealpost: () => across('inbound', sealpost, () => inboundPlain(root, s, shape)),
        postfix: () => inboundPlain(root, pf, shape),
        ...peerRuns(
          () => true,
          (t) => inboundPlain(root, t, shape),
        ),
      });
      if (only.has('inbound')) {
        for (const shape of p.inbound) {
          const r = await inRounds(p.rounds, plainRuns(shape));
          done({ scenario: 'inbound', label: 'plain', ...shape, messages: shape.messages, ...sides(r) });
        }
        // The scaling row: the busiest case again with every server on one CPU, the load generator on the other.
        const busiest = p.inbound.filter((x) => x.sessions > 1).at(-1);
        if (groups && cpus === totalCpus && totalCpus > 1 && busiest) {
          groups.setCpus(1);
          try {
            const r = await inRounds(p.rounds, plainRuns(busiest));
            done({ scenario: 'inbound', label: 'servers on one CPU', cpus: 1, ...busiest, messages: busiest.messages, ...sides(r) });
          } finally {
            groups.setCpus(cpus);
          }
        }
        // The scaling with [server] processes: the busiest case on a daemon of each further count, against the same Postfix.
        for (const n of busiest ? moreProcesses : []) {
          const shape = busiest as Shape;
          const name = `inbound-processes-${n}`;
          say(`starting Sealpost with [server] processes = ${n}`);
          const other = await startInbound(name, { cert: certFiles, processes: n });
          const t = sealpostTarget(other, groupFor('sealpost'));
          const r = await inRounds(p.rounds, {
            sealpost: () => across(name, other, () => inboundPlain(root, t, shape)),
            postfix: () => inboundPlain(root, pf, shape),
          });
          done({ scenario: 'inbound', label: `[server] processes = ${n}`, processes: n, ...shape, messages: shape.messages, ...sides(r) });
          await other.stop();
        }
      }
      if (only.has('starttls')) {
        for (const key of tlsKeys) {
          // The first key's rows on the daemons above (and the other peers, started with that
          // certificate); each other key's on a Sealpost and a Postfix of its own.
          const name = key === firstKey ? 'inbound' : `inbound-${key}`;
          const pair =
            key === firstKey
              ? { sealpost, postfix, s, pf }
              : await (async () => {
                  say(`starting Sealpost and a receiving Postfix with the ${key} certificate`);
                  const sp = await startInbound(name, { cert: certs[key] });
                  const px = await startReceivingPostfix(cleanup, await freePort(), certs[key]);
                  return { sealpost: sp, postfix: px, s: sealpostTarget(sp, groupFor('sealpost')), pf: postfixTarget(px, groupFor('postfix')) };
                })();
          // Full handshakes, then each session offering its previous TLS session (tickets).
          for (const [version, resume] of [
            ['TLSv1.2', false],
            ['TLSv1.3', false],
            ['TLSv1.2', true],
            ['TLSv1.3', true],
          ] as const) {
            const groups = GROUPS[key];
            const r = await inRounds(p.rounds, {
              sealpost: () => across(name, pair.sealpost, () => inboundTls(root, pair.s, p.tls, version, resume, groups)),
              postfix: () => inboundTls(root, pair.pf, p.tls, version, resume, groups),
              ...(key === firstKey
                ? peerRuns(
                    (x) => x.server.starttls,
                    (t) => inboundTls(root, t, p.tls, version, resume, groups),
                  )
                : {}),
            });
            done({ scenario: 'starttls', label: resume ? `${version} resumed` : version, tlsKey: key, ...p.tls, messages: p.tls.messages, ...sides(r) });
          }
          if (key !== firstKey) {
            await pair.sealpost.stop();
            await pair.postfix.instance.stop();
          }
        }
      }
      await sealpost.stop();
      // The same case once more with Sealpost's SPF/DKIM/DMARC checks off: what they cost, and
      // Sealpost doing the work Postfix does (it has no such checks without milters).
      const like = p.inbound.at(-1);
      if (only.has('inbound') && like) {
        const plain = await startInbound('inbound-nochecks', { authChecks: false });
        const quiet = sealpostTarget(plain, groupFor('sealpost'));
        const r = await inRounds(p.rounds, {
          sealpost: () => across('inbound-nochecks', plain, () => inboundPlain(root, quiet, like)),
          postfix: () => inboundPlain(root, pf, like),
        });
        done({ scenario: 'inbound', label: 'Sealpost without SPF/DKIM/DMARC', ...like, messages: like.messages, ...sides(r) });
        await plain.stop();
      }
      await postfix.instance.stop();
    }

    if (only.has('outbound')) {
      say('starting Sealpost and a relaying Postfix; smtp-sink starts when each queue is released');
      const sealpost = await startSealpost(cleanup, root, {
        dir: path.join(work, 'sealpost-out'),
        port: await freePort(),
        dns: dns.address,
        sinkPort: sealpostSink,
        relay: true,
        ...daemon,
        ...(nodeOptions('outbound') ? { nodeOptions: nodeOptions('outbound') } : {}),
      });
      const postfix = await startRelayingPostfix(cleanup, await freePort(), postfixSink);
      const s = sealpostTarget(sealpost, groupFor('sealpost'));
      const pf = postfixTarget(postfix, groupFor('postfix'));
      let i = 0;
      for (const shape of p.outbound) {
        const sinkOut = (name: string) => path.join(work, `sink-${name}-${shape.size}.out`);
        const r = await each(i++, {
          sealpost: () => outbound(s, shape, { root, scope: cleanup, sinkPort: sealpostSink, sinkOut: sinkOut('sealpost') }),
          postfix: () => outbound(pf, shape, { root, scope: cleanup, sinkPort: postfixSink, sinkOut: sinkOut('postfix') }),
          ...peerRuns(
            (x) => x.server.relays,
            (t, x) => outbound(t, shape, { root, scope: cleanup, sinkPort: x.sinkPort, sinkOut: sinkOut(t.name) }),
          ),
        });
        done({ scenario: 'outbound', label: 'smtp-sink', ...shape, ...sides(r) });
      }
      await sealpost.stop();
      await postfix.instance.stop();
    }

    if (only.has('memory')) {
      say(`idle connections: ${p.idle.join(', ')}`);
      const sealpost = await startSealpost(cleanup, root, {
        dir: path.join(work, 'sealpost-idle'),
        port: await freePort(),
        dns: dns.address,
        sinkPort: sealpostSink,
        relay: false,
        ...daemon,
      });
      report.memory.idle = await idleMemory(sealpost.port, sealpostTarget(sealpost), p.idle, p.settleMs);
      await sealpost.stop();
      await memoryDrain(
        cleanup,
        root,
        report,
        p,
        { dir: path.join(work, 'sealpost-drain'), dns: dns.address, sinkPort: sealpostSink, sinkOut: path.join(work, 'sink-drain.out'), ...daemon },
        say,
      );
      await memoryLarge(cleanup, root, report, p, { dir: path.join(work, 'sealpost-large'), dns: dns.address, sinkPort: sealpostSink, ...daemon }, say);
    }
  } catch (err) {
    report.errors.push((err as Error).stack ?? String(err));
  } finally {
    clearTimeout(watchdog);
    await cleanup.run();
  }

  report.machine.loadavgEnd = os.loadavg();
  if (profileDir) {
    for (const name of ['outbound']) report.profiles.push(...(await summarizeProfiles(path.join(profileDir, name), root)));
  }
  report.across = await acrossCases(report.cases, daemons, root, groups !== undefined);
  for (const dir of new Set([...daemons.values()].flatMap((d) => d.profileDir ?? []))) await summarizeProfiles(dir, root);
  const out = values.out ? path.resolve(values.out) : path.join(os.tmpdir(), `sealpost-bench-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${formatTable(report)}\n`);
  for (const profile of report.profiles) process.stdout.write(`\n${profile}\n`);
  if (report.across.length > 0) {
    process.stdout.write('\nSealpost across its processes and threads, per case (/proc CPU; with --profile, the profiles cut to the case):\n');
    for (const c of report.across) process.stdout.write(`\n${formatCaseAcross(c)}\n`);
  }
  process.stdout.write(`\nJSON report: ${out}\n`);
  const failed = report.errors.length > 0 || (report.memory.errors ?? []).length > 0 || report.cases.some((c) => c.sealpost.error || c.postfix.error);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(70);
  },
);
