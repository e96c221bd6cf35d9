// `bench/bench --store postgres --nodes N` (scripts/bench): Sealpost on PostgreSQL with N nodes
// (127.0.0.11-13, one queue database) against Sealpost on SQLite on one node, in the same run:
// inbound C=20 (the sessions split over the nodes, every message to the sink's domain, accepted
// and then delivered to smtp-sink) and outbound (a queue filled while the sink is down, then
// released and timed until empty). msg/s, the ratio to SQLite, and the CPU per message of every
// process (each node, PostgreSQL with its ended backends, from /proc): on this two-core machine the
// nodes and the database share the cores, so the CPU per message is what predicts the throughput
// of separate machines. Side effects: a PostgreSQL server, daemons, load generators, smtp-sink,
// files under the work directory; all stopped by the caller's cleanup.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openPool } from '../src/queue/pg/connect.ts';
import { migrate } from '../src/queue/pg/schema.ts';
import { WAKE_CHANNEL } from '../src/queue/pg/store.ts';
import { startDnsServer } from '../test/helpers/dns-server.ts';
import { freePort } from '../test/helpers/ports.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { run } from '../test/helpers/proc.ts';
import type { Scope } from '../test/helpers/tmp.ts';
import { waitFor } from '../test/helpers/wait.ts';
import type { LoadResult } from './load.ts';
import { SINK_DOMAIN, startSink } from './postfix.ts';
import { treeCpuMs } from './proc.ts';
import { type SealpostDaemon, startSealpost } from './sealpost.ts';

export interface StoreBenchPlan {
  nodes: number;
  sessions: number;
  size: number;
  inboundMessages: number;
  outboundMessages: number;
}

/** One store's setup as the cases see it: its nodes, its queue counts, its processes' CPU. */
interface Setup {
  name: string;
  nodes: { host: string; port: number }[];
  /** Recipients not delivered yet; of those, tried and deferred. */
  counts(): Promise<{ open: number; deferred: number }>;
  /** Deferred mail due now, every node told (queue retry --all). */
  release(): Promise<void>;
  /** CPU time so far of each process that does the work (nodes, PostgreSQL), ms. */
  cpu(): Record<string, number>;
}

export interface StoreCase {
  scenario: 'inbound' | 'outbound';
  store: string;
  nodes: number;
  sessions: number;
  size: number;
  messages: number;
  /** Inbound: until every message was answered 250 (the slowest load generator). */
  acceptMs?: number;
  /** Until the queue was empty. */
  drainMs: number;
  msgPerSec: number;
  /** CPU ms per message of each process over the case. */
  cpuMsPerMessage: Record<string, number>;
  error?: string;
}

export interface StoreBenchReport {
  plan: StoreBenchPlan;
  cases: StoreCase[];
  errors: string[];
}

const boundMs = (messages: number) => 60_000 + messages * 30;

/** The postmaster of the server on `port` (its command line names the port). */
function postmasterPid(port: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // pg_ctl starts it as `postgres -D DIR -p PORT -c …`; its backends rename themselves ("postgres: user db …").
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const p = cmd.indexOf('-p');
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === 'postgres' && p >= 0 && cmd[p + 1] === String(port)) return Number(name);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** load.ts once against one node; every message must be answered 250. */
async function load(root: string, host: string, port: number, sessions: number, messages: number, size: number): Promise<LoadResult> {
  const args = ['--disable-warning=ExperimentalWarning', path.join(root, 'bench', 'load.ts'), '--host', host, '--port', String(port)];
  args.push('--to', `bench@${SINK_DOMAIN}`, '--sessions', String(sessions), '--messages', String(messages), '--size', String(size));
  const r = await run(process.execPath, args, { timeoutMs: boundMs(messages) });
  if (r.code !== 0) throw new Error(`bench-load: exit ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  const result = JSON.parse(r.stdout) as LoadResult;
  if (result.errors > 0) throw new Error(`${result.errors} messages failed at ${host}; first: ${result.firstError ?? ''}`);
  return result;
}

/** N messages over C sessions, split over the nodes, all at once. Returns the slowest load's time. */
async function loadAll(root: string, s: Setup, sessions: number, messages: number, size: number): Promise<number> {
  const n = s.nodes.length;
  const share = (total: number, i: number) => Math.floor(total / n) + (i < total % n ? 1 : 0);
  const results = await Promise.all(s.nodes.map((node, i) => load(root, node.host, node.port, Math.max(1, share(sessions, i)), share(messages, i), size)));
  return Math.max(...results.map((r) => r.ms));
}

function perMessage(before: Record<string, number>, after: Record<string, number>, messages: number): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, Math.round((((after[k] ?? 0) - (before[k] ?? 0)) / messages) * 1000) / 1000]));
}

/** Inbound: the load on every node with the sink up; accepted, then delivered. */
async function inbound(root: string, scope: Scope, s: Setup, p: StoreBenchPlan, sinkPort: number, sinkOut: string): Promise<StoreCase> {
  const base = { scenario: 'inbound' as const, store: s.name, nodes: s.nodes.length, sessions: p.sessions, size: p.size, messages: p.inboundMessages };
  const sink = await startSink(scope, sinkPort, sinkOut);
  try {
    const cpu0 = s.cpu();
    const t0 = performance.now();
    const acceptMs = await loadAll(root, s, p.sessions, p.inboundMessages, p.size);
    await waitFor(async () => (await s.counts()).open === 0 && sink.messages() >= p.inboundMessages, {
      timeoutMs: boundMs(p.inboundMessages),
      intervalMs: 50,
      what: `${p.inboundMessages} messages at the sink (${s.name})`,
    });
    const drainMs = performance.now() - t0;
    return {
      ...base,
      acceptMs,
      drainMs,
      msgPerSec: Math.round((p.inboundMessages * 1000) / acceptMs),
      cpuMsPerMessage: perMessage(cpu0, s.cpu(), p.inboundMessages),
    };
  } catch (err) {
    return { ...base, drainMs: 0, msgPerSec: 0, cpuMsPerMessage: {}, error: (err as Error).message.split('\n')[0] ?? 'failed' };
  } finally {
    await sink.stop();
  }
}

/** Outbound: a queue filled while the sink is down (each message tried once), released, timed until empty. */
async function outbound(root: string, scope: Scope, s: Setup, p: StoreBenchPlan, sinkPort: number, sinkOut: string): Promise<StoreCase> {
  const base = { scenario: 'outbound' as const, store: s.name, nodes: s.nodes.length, sessions: p.sessions, size: p.size, messages: p.outboundMessages };
  try {
    await loadAll(root, s, p.sessions, p.outboundMessages, p.size);
    await waitFor(
      async () => {
        const c = await s.counts();
        return c.open === p.outboundMessages && c.deferred >= p.outboundMessages;
      },
      { timeoutMs: boundMs(p.outboundMessages), intervalMs: 200, what: `${p.outboundMessages} deferred messages (${s.name})` },
    );
    const sink = await startSink(scope, sinkPort, sinkOut);
    try {
      const cpu0 = s.cpu();
      const t0 = performance.now();
      await s.release();
      await waitFor(async () => (await s.counts()).open === 0, { timeoutMs: boundMs(p.outboundMessages), intervalMs: 50, what: `${s.name}'s queue to empty` });
      const drainMs = performance.now() - t0;
      const cpuMsPerMessage = perMessage(cpu0, s.cpu(), p.outboundMessages);
      const received = sink.messages();
      const error = received < p.outboundMessages ? { error: `the sink received ${received} of ${p.outboundMessages} messages` } : {};
      return { ...base, drainMs, msgPerSec: Math.round((p.outboundMessages * 1000) / drainMs), cpuMsPerMessage, ...error };
    } finally {
      await sink.stop();
    }
  } catch (err) {
    return { ...base, drainMs: 0, msgPerSec: 0, cpuMsPerMessage: {}, error: (err as Error).message.split('\n')[0] ?? 'failed' };
  }
}

function sqliteSetup(d: SealpostDaemon): Setup {
  return {
    name: 'sqlite',
    nodes: [{ host: '127.0.0.1', port: d.port }],
    counts: async () => ({ open: d.openRecipients(), deferred: d.deferredRecipients() }),
    release: async () => {
      await d.retryAll();
    },
    cpu: () => ({ sealpost: treeCpuMs(d.pid) }),
  };
}

/** N nodes on one fresh PostgreSQL server (migrated as `sealpost store init` does). */
async function postgresSetup(scope: Scope, root: string, work: string, n: number, o: { dns: string; sinkPort: number }): Promise<Setup> {
  const server = await startPostgres(scope);
  const url = await server.createDatabase('sealpost_bench');
  const settings = { url, passwordFile: server.passwordFile };
  const pool = openPool(settings, 2);
  scope.after(() => pool.end());
  await migrate(pool);
  const daemons: SealpostDaemon[] = [];
  for (let i = 0; i < n; i++) {
    const host = `127.0.0.${11 + i}`;
    daemons.push(
      await startSealpost(scope, root, {
        dir: path.join(work, `sealpost-pg-${i + 1}`),
        host,
        port: await freePort(host),
        dns: o.dns,
        sinkPort: o.sinkPort,
        relay: true,
        store: { url, passwordFile: server.passwordFile, node: `node${i + 1}` },
      }),
    );
  }
  const postmaster = postmasterPid(server.port);
  return {
    name: 'postgres',
    nodes: daemons.map((d, i) => ({ host: `127.0.0.${11 + i}`, port: d.port })),
    async counts() {
      const { rows } = await pool.query<{ open: string; deferred: string }>(
        `SELECT count(*) FILTER (WHERE state IN ('queued', 'active', 'held')) AS open, count(*) FILTER (WHERE state = 'queued' AND attempts > 0) AS deferred FROM recipients`,
      );
      return { open: Number(rows[0]?.open ?? 0), deferred: Number(rows[0]?.deferred ?? 0) };
    },
    async release() {
      // `sealpost queue retry --all` on PostgreSQL: due now, and every node's LISTEN told.
      await pool.query(`UPDATE recipients SET next_attempt_at = $1 WHERE state = 'queued'`, [Date.now()]);
      await pool.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, 'bench remote']);
    },
    cpu: () => ({
      ...Object.fromEntries(daemons.map((d, i) => [`node${i + 1}`, treeCpuMs(d.pid)])),
      ...(postmaster ? { postgres: treeCpuMs(postmaster) } : {}),
    }),
  };
}

/** Both stores, inbound then outbound each; the SQLite node is stopped before the PostgreSQL nodes start. */
export async function runStoreBench(scope: Scope, root: string, work: string, p: StoreBenchPlan, say: (text: string) => void): Promise<StoreBenchReport> {
  const report: StoreBenchReport = { plan: p, cases: [], errors: [] };
  const zone = new Map([
    [SINK_DOMAIN, { MX: [{ preference: 10, exchange: `mx.${SINK_DOMAIN}` }] }],
    [`mx.${SINK_DOMAIN}`, { A: ['127.0.0.1'] }],
  ]);
  const dnsServer = await startDnsServer(zone);
  scope.after(() => dnsServer.close());
  const o = { dns: dnsServer.address, say };
  const sinkPort = await freePort();
  const sinkOut = (name: string) => path.join(work, `sink-${name}.out`);
  const done = (c: StoreCase) => {
    report.cases.push(c);
    o.say(`  ${c.scenario} ${c.store}×${c.nodes} C=${c.sessions} S=${c.size} N=${c.messages}: ${c.error ? `error: ${c.error}` : `${c.msgPerSec} msg/s`}`);
  };
  o.say('Sealpost on SQLite, one node');
  const single = await startSealpost(scope, root, { dir: path.join(work, 'sealpost-sqlite'), port: await freePort(), dns: o.dns, sinkPort, relay: true });
  const sqlite = sqliteSetup(single);
  done(await inbound(root, scope, sqlite, p, sinkPort, sinkOut('sqlite-in')));
  done(await outbound(root, scope, sqlite, p, sinkPort, sinkOut('sqlite-out')));
  await single.stop();
  o.say(`Sealpost on PostgreSQL, ${p.nodes} node(s)`);
  const shared = await postgresSetup(scope, root, work, p.nodes, { dns: o.dns, sinkPort });
  done(await inbound(root, scope, shared, p, sinkPort, sinkOut('pg-in')));
  done(await outbound(root, scope, shared, p, sinkPort, sinkOut('pg-out')));
  return report;
}

/** The table: each case's msg/s on both stores, the ratio, and CPU ms per message of each process. */
export function formatStoreTable(r: StoreBenchReport): string {
  const lines = [
    `Sealpost: PostgreSQL with ${r.plan.nodes} node(s) vs SQLite on one node (this machine; every process shares its CPUs)`,
    'case                       store        msg/s   ratio  CPU ms per message (per process)',
  ];
  for (const scenario of ['inbound', 'outbound'] as const) {
    const sqlite = r.cases.find((c) => c.scenario === scenario && c.store === 'sqlite');
    for (const c of r.cases.filter((x) => x.scenario === scenario)) {
      const ratio = sqlite && sqlite.msgPerSec > 0 && c.msgPerSec > 0 ? (c.msgPerSec / sqlite.msgPerSec).toFixed(2) : '-';
      const cpu = Object.entries(c.cpuMsPerMessage)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ');
      const label = `${scenario} C=${c.sessions} S=${c.size}`.padEnd(26);
      lines.push(
        `${label} ${`${c.store}×${c.nodes}`.padEnd(12)} ${c.error ? `error: ${c.error}` : `${String(c.msgPerSec).padStart(5)}   ${ratio.padStart(5)}  ${cpu}`}`,
      );
    }
  }
  // Separate machines, one CPU each: at R msg/s a process spending v ms per message needs R·v ms of CPU a second.
  for (const c of r.cases.filter((x) => x.store === 'postgres' && !x.error)) {
    const bound = (v: number | undefined) => (v && v > 0 ? `${Math.round(1000 / v)} msg/s` : '-');
    const nodes = Object.entries(c.cpuMsPerMessage).filter(([k]) => k.startsWith('node'));
    const busiest = Math.max(0, ...nodes.map(([, v]) => v));
    lines.push(
      `${c.scenario}: on separate machines (one CPU each) the busiest node bounds it at ${bound(busiest)}, PostgreSQL at ${bound(c.cpuMsPerMessage['postgres'])}`,
    );
  }
  return lines.join('\n');
}

/** The --store run of bench/bench: plans, runs, prints the table, writes the JSON. Returns the exit code. */
export async function storeBench(
  scope: Scope,
  root: string,
  work: string,
  v: { store?: string; nodes?: string; quick: boolean; messages?: string; 'outbound-messages'?: string; out?: string },
  say: (text: string) => void,
): Promise<number> {
  const nodes = Number(v.nodes ?? '1');
  if (v.store !== 'postgres' || !Number.isInteger(nodes) || nodes < 1 || nodes > 3) {
    process.stderr.write('bench: --store takes "postgres" (compared with SQLite on one node), --nodes 1, 2 or 3\n');
    return 64;
  }
  const inboundMessages = Number(v.messages ?? (v.quick ? 300 : 3000));
  const plan: StoreBenchPlan = { nodes, sessions: 20, size: 10240, inboundMessages, outboundMessages: Number(v['outbound-messages'] ?? inboundMessages) };
  let report: StoreBenchReport;
  try {
    report = await runStoreBench(scope, root, work, plan, say);
  } catch (err) {
    report = { plan, cases: [], errors: [(err as Error).stack ?? String(err)] };
  }
  const out = v.out ? path.resolve(v.out) : path.join(os.tmpdir(), `sealpost-bench-store-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${formatStoreTable(report)}\n`);
  for (const e of report.errors) process.stdout.write(`error: ${e}\n`);
  process.stdout.write(`\nJSON report: ${out}\n`);
  return report.errors.length > 0 || report.cases.some((c) => c.error) ? 1 : 0;
}
